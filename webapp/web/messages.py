"""Turning domain refusals into the user's language (the domain keeps untranslated msgids)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext

from ..domain import N_, calendar, money
from ..domain.payout_rules import Refusal


def _format(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return money.format_fen(value)
    if isinstance(value, datetime):
        return calendar.local(value).strftime("%H:%M:%S")
    return value


def refusal_text(refusal: Refusal) -> str:
    params = {k: (v if k == "count" else _format(v)) for k, v in refusal.params.items()}
    return gettext(refusal.message, **params)


# Channel failure reasons (stable codes from the channel and the worker) in plain words.
FAILURE_REASONS = {
    "buyer_wallet_frozen": N_("The buyer's wallet is frozen, so the channel could not pay it. Contact the buyer, then start a new payout."),
    "channel_did_not_accept_in_time": N_("The payment channel did not accept the payout within 25 minutes. The money is back in the funds account; start a new payout."),
    "rejected_by_channel": N_("The payment channel rejected the payout. The money is back in the funds account."),
    "failed_at_channel": N_("The payment channel could not complete the payout. The money is back in the funds account."),
}


def failure_text(code: str | None) -> str:
    if not code:
        return ""
    return gettext(FAILURE_REASONS[code]) if code in FAILURE_REASONS else code


def message_title(message) -> str:
    if message.kind == "payout_failed":
        return gettext("Small payout failed")
    return message.kind


def message_body(message) -> str:
    import json

    params = json.loads(message.params or "{}")
    if message.kind == "payout_failed":
        return gettext(
            "The payout of %(amount)s for order %(order_no)s failed: %(reason)s",
            amount=money.format_fen(int(params.get("amount_fen", 0))), order_no=params.get("order_no", ""),
            reason=failure_text(params.get("reason")),
        )
    return ""
