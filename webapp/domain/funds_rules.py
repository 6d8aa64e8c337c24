"""Money in: the bounds of a top-up the main account asks for on the funds page, and how the
funds page filters movements. Pure rules (no Flask, no database); messages are msgids."""
from __future__ import annotations

from . import N_

#: The least a top-up may be: ¥1.00 (a recharge costs the channel a fee; pennies are a typo).
TOPUP_MIN_FEN = 100
#: The most one top-up may be: ¥1,000,000.00 (a bank transfer limit; larger sums in several top-ups).
TOPUP_MAX_FEN = 100_000_000

TOPUP_MESSAGES = {
    "below_min": N_("A top-up is at least %(min)s."),
    "above_max": N_("A top-up is at most %(max)s. Top up a larger sum in several parts."),
}


def topup_problem(amount_fen: int) -> str | None:
    """Why this top-up amount is refused (a TOPUP_MESSAGES code), or None."""
    if amount_fen < TOPUP_MIN_FEN:
        return "below_min"
    if amount_fen > TOPUP_MAX_FEN:
        return "above_max"
    return None


# Why a top-up did not go through, by the channel's (or our) reason code.
TOPUP_FAILURES = {
    "bank_declined": N_("Your bank declined the recharge. Nothing was taken; check the bank account and try again."),
    "never_reached_channel": N_("The payment channel never received the recharge. Nothing was taken; try again."),
}
TOPUP_FAILURE_OTHER = N_("The payment channel refused the recharge. Nothing was taken.")
