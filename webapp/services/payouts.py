"""Small payouts: eligibility (R2), creation with every cap re-checked under lock (R3, R4),
continue payout and settlement (R6).

Lock order, the same in every transaction that takes more than one of these rows:
    funds account -> shop-day counter -> account-day counter -> order -> payout
Each money transaction touches one shop's rows only. Claiming work (worker.claim_due) locks
payout rows alone and waits for nothing else, so no cycle of waits can form.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import write_transaction
from ..domain import payout_rules as rules
from ..domain.calendar import shop_day
from ..domain.states import PAYOUT_COMMITTED, PAYOUT_FINAL, PAYOUT_TRANSITIONS, PayoutStatus, check_transition
from ..models import (
    AccountDayUsage, Buyer, FundsAccount, InSiteMessage, MerchantAccount, Movement, Order, Payout, PayoutQuota, Shop,
    ShopDayUsage,
)
from . import audit, ledger
from .rows import ensure_row, lock


class PayoutError(Exception):
    pass


class PayoutRefused(PayoutError):
    """The rules refuse this payout now; `refusals` lists every reason (the first is the main one)."""

    def __init__(self, refusals: list[rules.Refusal]):
        super().__init__(", ".join(f"{r.rule} {r.code}" for r in refusals))
        self.refusals = refusals


class RequestKeyConflict(PayoutError):
    """The request key was used before for a different payout (Stripe's rule)."""


class OrderNotFound(PayoutError):
    pass


@dataclass(frozen=True)
class PayoutIntent:
    order_no: str
    amount_fen: int
    reason_code: str
    note: str
    request_key: str


@dataclass(frozen=True)
class Created:
    payout: Payout
    replayed: bool  # True: this request key had already created this payout; nothing changed


@dataclass(frozen=True)
class Eligibility:
    order: Order
    facts: rules.PayoutFacts
    reasons: list[rules.Refusal]
    allowances: rules.Allowances
    paid_out_by_status: dict[str, int]
    last_payout_at: datetime | None

    @property
    def can_start(self) -> bool:
        return not self.reasons


# --- reading the facts ----------------------------------------------------------------------

def _order_tally(session: Session, order_id: int) -> tuple[int, int, datetime | None, dict[str, int]]:
    rows = session.execute(
        select(Payout.status, func.count(), func.coalesce(func.sum(Payout.amount_fen), 0), func.max(Payout.created_at))
        .where(Payout.order_id == order_id).group_by(Payout.status)
    ).all()
    committed = sum(int(r[2]) for r in rows if r[0] in PAYOUT_COMMITTED)
    count = sum(int(r[1]) for r in rows if r[0] in PAYOUT_COMMITTED)
    lasts = [r[3] for r in rows if r[3] is not None]
    last = max(lasts) if lasts else None  # max() keeps the column's type: an aware UTC datetime
    return committed, count, last, {r[0]: int(r[2]) for r in rows}


def _quota(session: Session, account: MerchantAccount) -> rules.Quota | None:
    q = session.get(PayoutQuota, account.id, populate_existing=True)
    if q is None:
        return None
    return rules.Quota(enabled=q.enabled, per_payout_fen=q.per_payout_fen, daily_fen=q.daily_fen)


def _facts(session: Session, *, now: datetime, shop: Shop, order: Order, actor: MerchantAccount,
           funds: FundsAccount | None, shop_usage: ShopDayUsage | None, account_usage: AccountDayUsage | None):
    committed, count, last, by_status = _order_tally(session, order.id)
    is_staff = not actor.is_main
    facts = rules.PayoutFacts(
        now=now, order_paid_fen=order.paid_fen, order_committed_fen=committed, order_active_count=count,
        order_last_payout_at=last, shop_cap_fen=shop.daily_payout_cap_fen,
        shop_used_today_fen=shop_usage.committed_fen if shop_usage else 0,
        funds_available_fen=funds.available_fen if funds else 0, is_staff=is_staff,
        quota=_quota(session, actor) if is_staff else None,
        account_used_today_fen=account_usage.committed_fen if account_usage else 0,
        arrears_fen=funds.arrears_fen if funds else 0,  # R13: no payouts while arrears remain
    )
    return facts, by_status


def find_order(session: Session, shop_id: int, order_no: str) -> Order | None:
    return session.scalar(select(Order).where(Order.shop_id == shop_id, Order.order_no == order_no))


def eligibility(session: Session, actor: MerchantAccount, order_no: str, now: datetime) -> Eligibility:
    """R2 for display (no locks): what blocks a payout on this order now, and the allowances.
    Creation re-checks everything on locked rows."""
    order = find_order(session, actor.shop_id, order_no)
    if order is None:
        raise OrderNotFound(order_no)
    day = shop_day(now)
    facts, by_status = _facts(
        session, now=now, shop=session.get(Shop, actor.shop_id), order=order, actor=actor,
        funds=session.get(FundsAccount, actor.shop_id),
        shop_usage=session.get(ShopDayUsage, (actor.shop_id, day)),
        account_usage=session.get(AccountDayUsage, (actor.id, day)),
    )
    return Eligibility(order, facts, rules.blocking_reasons(facts), rules.allowances(facts), by_status,
                       facts.order_last_payout_at)


def check_amount(session: Session, actor: MerchantAccount, order_no: str, amount_fen: int, now: datetime) -> list[rules.Refusal]:
    """R3 for inline validation (no locks); creation re-checks under lock."""
    e = eligibility(session, actor, order_no, now)
    return rules.check_create(e.facts, amount_fen)


# --- creating -------------------------------------------------------------------------------

def _same_intent(p: Payout, order: Order | None, intent: PayoutIntent) -> bool:
    return (
        order is not None and p.order_id == order.id and p.amount_fen == intent.amount_fen
        and p.reason_code == intent.reason_code and p.note == intent.note
    )


def create_payout(session: Session, actor: MerchantAccount, intent: PayoutIntent, now: datetime,
                  ip: str | None = None) -> Created:
    """R3 + R4: one transaction, rows locked in the fixed order, every cap re-checked on them.

    A replay of the request key returns the payout it made. The funds lock already serializes
    replays; the UNIQUE (shop, request key) constraint is the last line if anything slips past."""
    try:
        return _create(session, actor, intent, now, ip)
    except IntegrityError:
        existing = session.scalar(
            select(Payout).where(Payout.shop_id == actor.shop_id, Payout.request_key == intent.request_key)
        )
        if existing is None:
            raise
        if not _same_intent(existing, find_order(session, actor.shop_id, intent.order_no), intent):
            raise RequestKeyConflict(intent.request_key) from None
        return Created(existing, replayed=True)


def _create(session: Session, actor: MerchantAccount, intent: PayoutIntent, now: datetime, ip: str | None) -> Created:
    if intent.reason_code not in rules.REASON_LABELS:
        raise ValueError(f"unknown reason {intent.reason_code!r}")
    if len(intent.note) > rules.NOTE_MAX_CHARS:
        raise ValueError("note too long")
    shop_id = actor.shop_id
    day = shop_day(now)
    with write_transaction(session):
        funds = ledger.lock_funds(session, shop_id, now)  # 1. funds account

        existing = session.scalar(select(Payout).where(Payout.shop_id == shop_id, Payout.request_key == intent.request_key))
        if existing is not None:
            if not _same_intent(existing, find_order(session, shop_id, intent.order_no), intent):
                raise RequestKeyConflict(intent.request_key)
            return Created(existing, replayed=True)

        ensure_row(session, ShopDayUsage, shop_id=shop_id, day=day, committed_fen=0)
        shop_usage = lock(session, ShopDayUsage, ShopDayUsage.shop_id == shop_id, ShopDayUsage.day == day)  # 2.
        account_usage = None
        if not actor.is_main:
            ensure_row(session, AccountDayUsage, account_id=actor.id, day=day, shop_id=shop_id, committed_fen=0)
            account_usage = lock(session, AccountDayUsage, AccountDayUsage.account_id == actor.id,
                                 AccountDayUsage.day == day)  # 3.
        order = lock(session, Order, Order.shop_id == shop_id, Order.order_no == intent.order_no)  # 4.
        if order is None:
            raise OrderNotFound(intent.order_no)
        shop = session.get(Shop, shop_id, populate_existing=True)

        facts, _ = _facts(session, now=now, shop=shop, order=order, actor=actor, funds=funds,
                          shop_usage=shop_usage, account_usage=account_usage)
        refusals = rules.check_create(facts, intent.amount_fen)
        if refusals:
            raise PayoutRefused(refusals)

        payout = Payout(
            shop_id=shop_id, order_id=order.id, buyer_id=order.buyer_id, started_by_id=actor.id,
            amount_fen=intent.amount_fen, reason_code=intent.reason_code, note=intent.note,
            request_key=intent.request_key, status=PayoutStatus.PENDING, shop_day=day, attempts=0,
            next_attempt_at=now, created_at=now, updated_at=now,
        )
        session.add(payout)
        session.flush()
        ledger.post(session, funds, Movement.HOLD, intent.amount_fen, now, payout_id=payout.id, actor_id=actor.id)
        shop_usage.committed_fen += intent.amount_fen
        if account_usage is not None:
            account_usage.committed_fen += intent.amount_fen
        audit.record(session, shop_id=shop_id, actor=actor, action="payout.create", target_type="payout",
                     target_id=payout.id, now=now, ip=ip, after={
                         **_snapshot(payout),
                         # what the caps were checked against, under lock (R19: who, when, what)
                         "quota_daily_fen": facts.quota.daily_fen if facts.quota else None,
                         "account_used_before_fen": facts.account_used_today_fen if facts.is_staff else None,
                         "shop_used_before_fen": facts.shop_used_today_fen,
                     })
    return Created(payout, replayed=False)


def _snapshot(p: Payout) -> dict:
    return {"order_id": p.order_id, "amount_fen": p.amount_fen, "reason": p.reason_code, "status": p.status,
            "failure_reason": p.failure_reason, "channel_ref": p.channel_ref}


# --- continue payout (R6) -------------------------------------------------------------------

def continue_payout(session: Session, actor: MerchantAccount, payout_id: int, now: datetime, ip: str | None = None) -> Payout:
    """继续打款: put a pending payout at the front of the queue. Never pays twice: the worker
    submits with the payout id as the channel's idempotency key, and only a pending payout moves."""
    with write_transaction(session):
        payout = lock(session, Payout, Payout.id == payout_id, Payout.shop_id == actor.shop_id)
        if payout is None:
            raise OrderNotFound(str(payout_id))
        if payout.status == PayoutStatus.PENDING:
            payout.next_attempt_at = now
            payout.updated_at = now
            audit.record(session, shop_id=payout.shop_id, actor=actor, action="payout.continue", target_type="payout",
                         target_id=payout.id, now=now, ip=ip)
    return payout


# --- settlement (worker) --------------------------------------------------------------------

def _lock_for_settlement(session: Session, payout_id: int, now: datetime, *, counters: bool):
    head = session.execute(
        select(Payout.shop_id, Payout.shop_day, Payout.started_by_id).where(Payout.id == payout_id)
    ).one()  # immutable columns, read to know which rows to lock
    funds = ledger.lock_funds(session, head.shop_id, now)
    shop_usage = account_usage = None
    if counters:
        shop_usage = lock(session, ShopDayUsage, ShopDayUsage.shop_id == head.shop_id, ShopDayUsage.day == head.shop_day)
        account_usage = lock(session, AccountDayUsage, AccountDayUsage.account_id == head.started_by_id,
                             AccountDayUsage.day == head.shop_day)
    payout = lock(session, Payout, Payout.id == payout_id)
    return funds, shop_usage, account_usage, payout


def settle_succeeded(session: Session, payout_id: int, now: datetime, reference: str | None = None) -> bool:
    """Capture the held money. Idempotent: a final payout is left alone. Returns True if it moved."""
    with write_transaction(session):
        funds, _, _, payout = _lock_for_settlement(session, payout_id, now, counters=False)
        if payout.status in PAYOUT_FINAL:
            return False
        before = _snapshot(payout)
        check_transition(PAYOUT_TRANSITIONS, PayoutStatus(payout.status), PayoutStatus.SUCCEEDED)
        ledger.post(session, funds, Movement.CAPTURE, payout.amount_fen, now, payout_id=payout.id)
        payout.status = PayoutStatus.SUCCEEDED
        payout.succeeded_at = now
        payout.channel_ref = reference or payout.channel_ref
        payout.next_attempt_at = payout.lease_until = None
        payout.updated_at = now
        audit.record(session, shop_id=payout.shop_id, actor=None, action="payout.succeeded", target_type="payout",
                     target_id=payout.id, now=now, before=before, after=_snapshot(payout))
    return True


def observed_state(p: Payout) -> tuple:
    """What a worker saw of a payout; settle_failed(only_if=...) acts only if it is unchanged."""
    return (p.status, p.attempts, p.channel_ref)


def settle_failed(session: Session, payout_id: int, reason: str, now: datetime, reference: str | None = None,
                  only_if: tuple | None = None) -> bool:
    """Release the held money, give the allowance back to the day counters it was taken from,
    and tell the shop (one in-site message). Idempotent. Returns True if it moved. With
    `only_if`, nothing happens unless the payout is still in that observed state."""
    with write_transaction(session):
        funds, shop_usage, account_usage, payout = _lock_for_settlement(session, payout_id, now, counters=True)
        if payout.status in PAYOUT_FINAL:
            return False
        if only_if is not None and observed_state(payout) != only_if:
            return False
        before = _snapshot(payout)
        check_transition(PAYOUT_TRANSITIONS, PayoutStatus(payout.status), PayoutStatus.FAILED)
        ledger.post(session, funds, Movement.RELEASE, payout.amount_fen, now, payout_id=payout.id)
        shop_usage.committed_fen -= payout.amount_fen
        if account_usage is not None:
            account_usage.committed_fen -= payout.amount_fen
        payout.status = PayoutStatus.FAILED
        payout.failed_at = now
        payout.failure_reason = reason[:200]
        payout.channel_ref = reference or payout.channel_ref
        payout.next_attempt_at = payout.lease_until = None
        payout.updated_at = now
        order_no = session.scalar(select(Order.order_no).where(Order.id == payout.order_id))
        session.add(InSiteMessage(
            shop_id=payout.shop_id, kind="payout_failed", payout_id=payout.id,
            params=json.dumps({"order_no": order_no, "amount_fen": payout.amount_fen, "reason": payout.failure_reason}),
            link=f"/orders/{order_no}#payout-{payout.id}", created_at=now,
        ))
        audit.record(session, shop_id=payout.shop_id, actor=None, action="payout.failed", target_type="payout",
                     target_id=payout.id, now=now, before=before, after=_snapshot(payout))
    return True


def buyer_ref(session: Session, payout: Payout) -> str:
    return session.scalar(select(Buyer.login).where(Buyer.id == payout.buyer_id))
