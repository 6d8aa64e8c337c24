"""工作台: what needs this merchant account now (issue 13), in a handful of indexed reads whose cost
does not grow with the shop's history: payouts waiting for this account's approval (R20, with the
deadline of the oldest: undecided after 24 h it is cancelled), its own payouts still in their undo
window (R21), payouts on their way (pending or paying out, the in-doubt ones among them), today's
failed payouts, after-sales cases awaiting review (R23, the oldest first), arrears, and today's
spend against the shop's cap and this account's quota (R2, R3, R7).

Each figure is read the way its list page filters, so every number on the page leads to the rows
it counts. Scoped to the account's shop (R18)."""
from __future__ import annotations

from dataclasses import astuple, dataclass
import hashlib
from datetime import datetime

from sqlalchemy import func, select

from ..db import AnySession
from ..domain.calendar import shop_day
from ..domain.payout_controls import APPROVAL_EXPIRES_AFTER
from ..domain.states import CaseStatus, PayoutStatus
from ..models import AfterSalesCase, MerchantAccount, Payout
from ..models.rollups import PayoutDayTotal
from . import ledger
from .payout_reports import Glance, glance

ON_THE_WAY = (PayoutStatus.PENDING, PayoutStatus.PROCESSING)  # counted from the rollups


@dataclass(frozen=True)
class Workday:
    may_approve: bool
    awaiting_my_approval: int
    approval_deadline: datetime | None  # when the oldest one waiting for me is cancelled
    in_my_undo_window: int
    pending: int  # 待打款, the whole shop (in the undo window or queued for the channel)
    paying_out: int  # 打款中: with the channel (the in-doubt ones among them)
    failed_today: int
    cases_awaiting: int
    oldest_case_at: datetime | None
    arrears_fen: int
    today: Glance

    @property
    def version(self) -> str:
        """Changes whenever anything the page shows changes (the live block polls with it)."""
        return hashlib.blake2s(repr(astuple(self)).encode(), digest_size=6).hexdigest()

    @property
    def nothing_needs_me(self) -> bool:
        return not (self.awaiting_my_approval or self.in_my_undo_window or self.failed_today or self.cases_awaiting
                    or self.arrears_fen)


def needs_me(session: AnySession, account: MerchantAccount, now: datetime) -> Workday:
    shop_id, today = account.shop_id, shop_day(now)
    may_approve = bool(account.is_main or account.is_approver)
    awaiting, oldest_awaiting = 0, None
    if may_approve:  # R20: never one's own request
        awaiting, oldest_awaiting = session.execute(
            select(func.count(), func.min(Payout.created_at)).where(
                Payout.shop_id == shop_id, Payout.status == PayoutStatus.AWAITING_APPROVAL,
                Payout.started_by_id != account.id)).one()
    in_window = session.scalar(select(func.count()).where(  # the due index: only what is due from now on
        Payout.status == PayoutStatus.PENDING, Payout.next_attempt_at > now, Payout.shop_id == shop_id,
        Payout.started_by_id == account.id, Payout.channel_not_after.is_(None))) or 0
    by_status = dict(session.execute(  # the per-day rollups: rows grow with days, not payouts
        select(PayoutDayTotal.status, func.sum(PayoutDayTotal.payout_count))
        .where(PayoutDayTotal.shop_id == shop_id, PayoutDayTotal.status.in_(ON_THE_WAY))
        .group_by(PayoutDayTotal.status)).all())
    failed_today = session.scalar(select(func.sum(PayoutDayTotal.payout_count)).where(
        PayoutDayTotal.shop_id == shop_id, PayoutDayTotal.day == today,
        PayoutDayTotal.status == PayoutStatus.FAILED)) or 0
    cases, oldest_case = session.execute(select(func.count(), func.min(AfterSalesCase.created_at)).where(
        AfterSalesCase.shop_id == shop_id, AfterSalesCase.status == CaseStatus.AWAITING_MERCHANT)).one()
    funds = ledger.funds_of(session, shop_id)
    return Workday(
        may_approve=may_approve, awaiting_my_approval=int(awaiting or 0),
        approval_deadline=oldest_awaiting + APPROVAL_EXPIRES_AFTER if oldest_awaiting else None,
        in_my_undo_window=int(in_window), pending=int(by_status.get(PayoutStatus.PENDING) or 0),
        paying_out=int(by_status.get(PayoutStatus.PROCESSING) or 0), failed_today=int(failed_today),
        cases_awaiting=int(cases or 0), oldest_case_at=oldest_case, arrears_fen=funds.arrears_fen if funds else 0,
        today=glance(session, account, now),
    )
