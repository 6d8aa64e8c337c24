"""Money controls on small payouts: approval above a threshold (R20) and the undo window (R21).
Plain values in, answers out; the services ask these under their row locks, the pages to decide
what to offer."""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from . import N_
from .states import PayoutStatus

APPROVAL_EXPIRES_AFTER = timedelta(hours=24)  # R20: not decided within 24 h -> cancelled


class CancelReason(StrEnum):
    WITHDRAWN = "withdrawn"  # 撤回 by the requester or the main account (R20, R21)
    REJECTED = "rejected"  # an approver said no (R20)
    APPROVAL_EXPIRED = "approval_expired"  # nobody decided within 24 h (R20)


CANCEL_REASON_LABELS: dict[str, str] = {  # keyed by the stored code (Payout.cancel_reason)
    CancelReason.WITHDRAWN: N_("Withdrawn before it was sent; the money is back in the funds account."),
    CancelReason.REJECTED: N_("Rejected by an approver; the money is back in the funds account."),
    CancelReason.APPROVAL_EXPIRED: N_("Not approved within %(hours)s hours; the money is back in the funds account."),
}


def needs_approval(*, amount_fen: int, threshold_fen: int | None, requester_is_main: bool) -> bool:
    """R20: at or above the shop's threshold. The main account approves, so its own payouts do not
    wait for anyone (it could never approve them itself)."""
    return threshold_fen is not None and amount_fen >= threshold_fen and not requester_is_main


def may_decide(*, actor_id: int, actor_is_main: bool, actor_is_approver: bool, requester_id: int) -> bool:
    """R20: the main account or an approver sub-account, never the requester."""
    return actor_id != requester_id and (actor_is_main or actor_is_approver)


def may_withdraw(*, actor_id: int, actor_is_main: bool, requester_id: int, status: str, ever_sent: bool,
                 approved: bool = False) -> bool:
    """R20/R21: the requester or the main account, while it awaits approval, or while it is pending
    and no request for it has ever left for the channel. An approved payout is decided: it goes
    (an approval racing a withdrawal ends in exactly one of them)."""
    if not (actor_is_main or actor_id == requester_id):
        return False
    return status == PayoutStatus.AWAITING_APPROVAL or (status == PayoutStatus.PENDING and not ever_sent and not approved)


def send_after(created_at: datetime, undo_window_seconds: int) -> datetime:
    """R21: the worker may send a new payout from this instant on."""
    return created_at + timedelta(seconds=undo_window_seconds)


def approval_expired(created_at: datetime, now: datetime) -> bool:
    return now - created_at >= APPROVAL_EXPIRES_AFTER


MAX_UNDO_WINDOW_SECONDS = 600  # R21 (the database checks the same range)


def undo_window_ok(seconds: int) -> bool:
    return 0 <= seconds <= MAX_UNDO_WINDOW_SECONDS
