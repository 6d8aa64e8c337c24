"""Small payouts: eligibility (R2), creation with every cap re-checked under lock (R3, R4),
continue payout and settlement (R6).

Lock order, the same in every transaction that takes more than one of these rows:
    funds account -> shop-day counter -> account-day counter -> order -> payout
    -> payout_day_total rows (at commit, in key order: services/rollups.py)
Each money transaction touches one shop's rows only. Claiming work (worker.claim_due) locks
payout rows alone and waits for nothing else, so no cycle of waits can form.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import AnySession, write_transaction
from ..domain import payout_controls as controls
from ..domain import payout_rules as rules
from ..domain.calendar import shop_day
from ..domain.states import PAYOUT_COMMITTED, PAYOUT_FINAL, PAYOUT_TRANSITIONS, PayoutStatus, check_transition
from ..models import (
    AccountDayUsage, Buyer, ChannelEvent, FundsAccount, InSiteMessage, MerchantAccount, Movement, Order, Payout, PayoutQuota, Shop,
    ShopDayUsage,
)
from . import audit, errors, inbox, ledger
from .rows import ensure_row, lock, lock_or_create
from .rollups import record_status_change  # the per-day rollups (R5 totals), applied at commit

log = logging.getLogger("afterdesk.payouts")


class PayoutError(Exception):
    pass


class PayoutRefused(PayoutError):
    """The rules refuse this payout now; `refusals` lists every reason (the first is the main one)."""

    def __init__(self, refusals: list[rules.Refusal]):
        super().__init__(", ".join(f"{r.rule} {r.code}" for r in refusals))
        self.refusals = refusals


class RequestKeyConflict(PayoutError):
    """The request key was used before for a different payout (Stripe's rule)."""


class OrderNotFound(PayoutError, errors.OrderNotFound):
    """No such order (or payout) in the actor's shop: a 404 at the edge."""


@dataclass(frozen=True)
class PayoutIntent:
    order_no: str
    amount_fen: int
    reason_code: str
    note: str
    request_key: str


@dataclass(frozen=True)
class Created:
    payout: Payout  # expired once the transaction commits: reading it again is a query
    replayed: bool  # True: this request key had already created this payout; nothing changed
    payout_id: int  # read inside the transaction, so a redirect needs no query
    amount_fen: int
    after: Eligibility | None = None  # the order as this payout left it (a new payout only), read under lock

    @classmethod
    def of(cls, payout: Payout, *, replayed: bool, after: Eligibility | None = None) -> Created:
        return cls(payout, replayed, payout.id, payout.amount_fen, after)


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

def _order_tally(session: AnySession, order_id: int) -> tuple[int, int, datetime | None, dict[str, int]]:
    rows = session.execute(
        select(Payout.status, func.count(), func.coalesce(func.sum(Payout.amount_fen), 0), func.max(Payout.created_at))
        .where(Payout.order_id == order_id).group_by(Payout.status)
    ).all()
    committed = sum(int(r[2]) for r in rows if r[0] in PAYOUT_COMMITTED)
    count = sum(int(r[1]) for r in rows if r[0] in PAYOUT_COMMITTED)
    lasts = [r[3] for r in rows if r[3] is not None]
    last = max(lasts) if lasts else None  # max() keeps the column's type: an aware UTC datetime
    return committed, count, last, {r[0]: int(r[2]) for r in rows}


def _quota(session: AnySession, account: MerchantAccount) -> rules.Quota | None:
    q = session.get(PayoutQuota, account.id, populate_existing=True)
    if q is None:
        return None
    return rules.Quota(enabled=q.enabled, per_payout_fen=q.per_payout_fen, daily_fen=q.daily_fen)


def _facts(session: AnySession, *, now: datetime, shop: Shop, order: Order, actor: MerchantAccount,
           funds: FundsAccount | None, shop_usage: ShopDayUsage | None, account_usage: AccountDayUsage | None,
           quota: rules.Quota | None = None):
    committed, count, last, by_status = _order_tally(session, order.id)
    is_staff = not actor.is_main
    facts = rules.PayoutFacts(
        now=now, order_paid_fen=order.paid_fen, order_committed_fen=committed, order_active_count=count,
        order_last_payout_at=last, shop_cap_fen=shop.daily_payout_cap_fen,
        shop_used_today_fen=shop_usage.committed_fen if shop_usage else 0,
        funds_available_fen=funds.available_fen if funds else 0, is_staff=is_staff,
        quota=(quota or _quota(session, actor)) if is_staff else None,
        account_used_today_fen=account_usage.committed_fen if account_usage else 0,
        arrears_fen=funds.arrears_fen if funds else 0,  # R13: no payouts while arrears remain
    )
    return facts, by_status


def find_order(session: AnySession, shop_id: int, order_no: str) -> Order | None:
    return session.scalar(select(Order).where(Order.shop_id == shop_id, Order.order_no == order_no))


def eligibility(session: AnySession, actor: MerchantAccount, order_no: str, now: datetime) -> Eligibility:
    """R2 for display (no locks): what blocks a payout on this order now, and the allowances.
    Creation re-checks everything on locked rows."""
    order = find_order(session, actor.shop_id, order_no)
    if order is None:
        raise OrderNotFound(order_no)
    day = shop_day(now)
    shop = session.get(Shop, actor.shop_id)
    assert shop is not None  # the actor's own shop (a foreign key)
    facts, by_status = _facts(
        session, now=now, shop=shop, order=order, actor=actor,
        funds=session.get(FundsAccount, actor.shop_id),
        shop_usage=session.get(ShopDayUsage, (actor.shop_id, day)),
        account_usage=session.get(AccountDayUsage, (actor.id, day)),
    )
    return Eligibility(order, facts, rules.blocking_reasons(facts), rules.allowances(facts), by_status,
                       facts.order_last_payout_at)


def check_amount(session: AnySession, actor: MerchantAccount, order_no: str, amount_fen: int, now: datetime) -> list[rules.Refusal]:
    """R3 for inline validation (no locks); creation re-checks under lock."""
    return amount_check(session, actor, order_no, amount_fen, now)[1]


def amount_check(session: AnySession, actor: MerchantAccount, order_no: str, amount_fen: int | None,
                 now: datetime) -> tuple[Eligibility, list[rules.Refusal]]:
    """The order's eligibility and allowances now (the limits beside the amount), and what refuses
    this amount (the binding limit first); no amount yet: what blocks any payout. No locks."""
    e = eligibility(session, actor, order_no, now)
    return e, (e.reasons if amount_fen is None else rules.check_create(e.facts, amount_fen))


# --- creating -------------------------------------------------------------------------------

def _same_intent(p: Payout, order: Order | None, intent: PayoutIntent) -> bool:
    return (
        order is not None and p.order_id == order.id and p.amount_fen == intent.amount_fen
        and p.reason_code == intent.reason_code and p.note == intent.note
    )


def create_payout(session: AnySession, actor: MerchantAccount, intent: PayoutIntent, now: datetime,
                  ip: str | None = None, *, with_result: bool = False) -> Created:
    """R3 + R4: one transaction, rows locked in the fixed order, every cap re-checked on them.

    A replay of the request key returns the payout it made. The funds lock already serializes
    replays; the UNIQUE (shop, request key) constraint is the last line if anything slips past.
    with_result: also report the order as the new payout leaves it (Created.after), for a page
    that shows it at once; one more read in the same transaction."""
    try:
        return _create(session, actor, intent, now, ip, with_result)
    except IntegrityError:
        existing = session.scalar(
            select(Payout).where(Payout.shop_id == actor.shop_id, Payout.request_key == intent.request_key)
        )
        if existing is None:
            raise
        if not _same_intent(existing, find_order(session, actor.shop_id, intent.order_no), intent):
            raise RequestKeyConflict(intent.request_key) from None
        return Created.of(existing, replayed=True)


def _create(session: AnySession, actor: MerchantAccount, intent: PayoutIntent, now: datetime, ip: str | None,
            with_result: bool) -> Created:
    if intent.reason_code not in rules.REASON_LABELS:
        raise ValueError(f"unknown reason {intent.reason_code!r}")
    if len(intent.note) > rules.NOTE_MAX_CHARS:
        raise ValueError("note too long")
    shop_id = actor.shop_id
    day = shop_day(now)
    with write_transaction(session, keep_loaded=True):  # the result page shows these rows as committed
        funds = ledger.lock_funds(session, shop_id, now)  # 1. funds account

        existing = session.scalar(select(Payout).where(Payout.shop_id == shop_id, Payout.request_key == intent.request_key))
        if existing is not None:
            if not _same_intent(existing, find_order(session, shop_id, intent.order_no), intent):
                raise RequestKeyConflict(intent.request_key)
            return Created.of(existing, replayed=True)

        shop_usage = lock_or_create(session, ShopDayUsage, shop_id=shop_id, day=day, committed_fen=0)  # 2.
        account_usage = None
        if not actor.is_main:
            account_usage = lock_or_create(session, AccountDayUsage, account_id=actor.id, day=day, shop_id=shop_id,
                                           committed_fen=0)  # 3.
        order = lock(session, Order, Order.shop_id == shop_id, Order.order_no == intent.order_no)  # 4.
        if order is None:
            raise OrderNotFound(intent.order_no)
        shop = session.get(Shop, shop_id, populate_existing=True)
        assert shop is not None  # the actor's own shop (a foreign key)

        facts, _ = _facts(session, now=now, shop=shop, order=order, actor=actor, funds=funds,
                          shop_usage=shop_usage, account_usage=account_usage)
        refusals = rules.check_create(facts, intent.amount_fen)
        if refusals:
            raise PayoutRefused(refusals)

        waits = controls.needs_approval(amount_fen=intent.amount_fen, threshold_fen=shop.payout_approval_fen,
                                        requester_is_main=actor.is_main)
        payout = Payout(  # money held and caps counted from now on, whether it waits for approval or not (R20)
            shop_id=shop_id, order_id=order.id, buyer_id=order.buyer_id, started_by_id=actor.id,
            amount_fen=intent.amount_fen, reason_code=intent.reason_code, note=intent.note,
            request_key=intent.request_key, shop_day=day, attempts=0, created_at=now, updated_at=now,
            status=PayoutStatus.AWAITING_APPROVAL if waits else PayoutStatus.PENDING,
            next_attempt_at=None if waits else controls.send_after(now, shop.undo_window_seconds),  # R21
        )
        session.add(payout)
        session.flush()
        record_status_change(payout, None, payout.status)  # counted in the rollups when this commits
        ledger.post(session, funds, Movement.HOLD, intent.amount_fen, now, payout_id=payout.id, actor_id=actor.id)
        if waits:
            _message(session, payout, "payout_awaiting_approval", now, order_no=order.order_no)
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
        result = None
        if with_result:  # the order as this payout leaves it: the same locked rows, one more tally
            after, by_status = _facts(session, now=now, shop=shop, order=order, actor=actor, funds=funds,
                                      shop_usage=shop_usage, account_usage=account_usage, quota=facts.quota)
            result = Eligibility(order, after, rules.blocking_reasons(after), rules.allowances(after), by_status,
                                 after.order_last_payout_at)
        created = Created.of(payout, replayed=False, after=result)
    return created


def _snapshot(p: Payout) -> dict:
    return {"order_id": p.order_id, "amount_fen": p.amount_fen, "reason": p.reason_code, "status": p.status,
            "failure_reason": p.failure_reason, "channel_ref": p.channel_ref}


# --- continue payout (R6) -------------------------------------------------------------------

def continue_payout(session: AnySession, actor: MerchantAccount, payout_id: int, now: datetime, ip: str | None = None) -> bool:
    """继续打款: put a pending payout at the front of the queue, skipping the rest of its undo window
    (R21). Never pays twice: the worker submits with the payout id as the channel's idempotency
    key, and only a pending payout moves. True: it was pending and goes to the channel now; False:
    it was no longer pending (already sent, settled, cancelled or awaiting approval), nothing changed."""
    with write_transaction(session):
        payout = lock(session, Payout, Payout.id == payout_id, Payout.shop_id == actor.shop_id)
        if payout is None:
            raise OrderNotFound(str(payout_id))
        sent_now = payout.status == PayoutStatus.PENDING
        if sent_now:
            payout.next_attempt_at = now
            payout.updated_at = now
            audit.record(session, shop_id=payout.shop_id, actor=actor, action="payout.continue", target_type="payout",
                         target_id=payout.id, now=now, ip=ip)
    return sent_now


# --- approval (R20) and withdrawal (R20, R21) ------------------------------------------------------

class DecisionRefused(PayoutError):
    """This account may not decide or withdraw this payout, or it is no longer waiting."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code  # not_allowed | own_request | already_decided | already_sent


def approve(session: AnySession, actor: MerchantAccount, payout_id: int, now: datetime, ip: str | None = None) -> Payout:
    """R20: the main account or an approver (never the requester) lets it go to the channel."""
    with write_transaction(session):
        payout = lock(session, Payout, Payout.id == payout_id, Payout.shop_id == actor.shop_id)
        if payout is None:
            raise OrderNotFound(str(payout_id))
        _check_decider(actor, payout)
        before = _snapshot(payout)
        move(payout, PayoutStatus.PENDING, now)
        payout.decided_by_id, payout.decided_at = actor.id, now
        payout.next_attempt_at = now
        audit.record(session, shop_id=payout.shop_id, actor=actor, action="payout.approve", target_type="payout",
                     target_id=payout.id, now=now, ip=ip, before=before, after=_snapshot(payout))
    return payout


def _check_decider(actor: MerchantAccount, payout: Payout) -> None:
    if actor.id == payout.started_by_id:
        raise DecisionRefused("own_request")
    if not controls.may_decide(actor_id=actor.id, actor_is_main=actor.is_main, actor_is_approver=actor.is_approver,
                               requester_id=payout.started_by_id):
        raise DecisionRefused("not_allowed")
    if payout.status != PayoutStatus.AWAITING_APPROVAL:
        raise DecisionRefused("already_decided")


def reject(session: AnySession, actor: MerchantAccount, payout_id: int, note: str, now: datetime,
           ip: str | None = None) -> Payout:
    """R20: an approver says no: cancelled, money released, allowance given back, requester told."""
    with write_transaction(session):
        funds, shop_usage, account_usage, payout = _lock_for_settlement(session, payout_id, now, counters=True,
                                                                        shop_id=actor.shop_id)
        _check_decider(actor, payout)
        payout.decided_by_id, payout.decided_at, payout.decision_note = actor.id, now, note.strip()[:200] or None
        _cancel_locked(session, funds, shop_usage, account_usage, payout, controls.CancelReason.REJECTED, now, actor, ip)
    return payout


def withdraw(session: AnySession, actor: MerchantAccount, payout_id: int, now: datetime, ip: str | None = None) -> Payout:
    """撤回 (R20, R21): the requester or the main account, while it awaits approval or before any
    request for it has left for the channel. A worker that claims it first wins (it is then sent)."""
    with write_transaction(session):
        funds, shop_usage, account_usage, payout = _lock_for_settlement(session, payout_id, now, counters=True,
                                                                        shop_id=actor.shop_id)
        if not (actor.is_main or actor.id == payout.started_by_id):
            raise DecisionRefused("not_allowed")
        if not controls.may_withdraw(actor_id=actor.id, actor_is_main=actor.is_main, requester_id=payout.started_by_id,
                                     status=payout.status, ever_sent=payout.channel_not_after is not None,
                                     approved=payout.decided_by_id is not None):
            sent = payout.status not in PAYOUT_FINAL and payout.decided_by_id is None
            raise DecisionRefused("already_sent" if sent else "already_decided")
        _cancel_locked(session, funds, shop_usage, account_usage, payout, controls.CancelReason.WITHDRAWN, now, actor, ip)
    return payout


def expire_approvals(session: AnySession, now: datetime, limit: int = 50) -> int:
    """R20: requests nobody decided within 24 h are cancelled (run by the worker)."""
    ids = session.scalars(
        select(Payout.id).where(Payout.status == PayoutStatus.AWAITING_APPROVAL,
                                Payout.created_at <= now - controls.APPROVAL_EXPIRES_AFTER).order_by(Payout.id).limit(limit)
    ).all()
    session.commit()
    done = 0
    for pid in ids:
        with write_transaction(session):
            funds, shop_usage, account_usage, payout = _lock_for_settlement(session, pid, now, counters=True)
            if payout.status == PayoutStatus.AWAITING_APPROVAL:
                _cancel_locked(session, funds, shop_usage, account_usage, payout,
                               controls.CancelReason.APPROVAL_EXPIRED, now, None, None)
                done += 1
    return done


def _cancel_locked(session: AnySession, funds, shop_usage, account_usage, payout: Payout, reason: str, now: datetime,
                   actor, ip: str | None) -> None:
    before = _snapshot(payout)
    move(payout, PayoutStatus.CANCELLED, now)
    _release(session, funds, shop_usage, account_usage, payout, now)
    payout.cancelled_at, payout.cancel_reason = now, reason
    payout.next_attempt_at = payout.lease_until = None
    if reason != controls.CancelReason.WITHDRAWN:  # the requester is told; who withdrew knows it
        _message(session, payout, "payout_cancelled", now, reason=reason, note=payout.decision_note or "")
    audit.record(session, shop_id=payout.shop_id, actor=actor, action=f"payout.{reason}", target_type="payout",
                 target_id=payout.id, now=now, ip=ip, before=before, after=_snapshot(payout))


def _release(session: AnySession, funds, shop_usage, account_usage, payout: Payout, now: datetime) -> None:
    """The held money back to available, the allowance back to the day counters it came from."""
    ledger.post(session, funds, Movement.RELEASE, payout.amount_fen, now, payout_id=payout.id)
    shop_usage.committed_fen -= payout.amount_fen
    if account_usage is not None:
        account_usage.committed_fen -= payout.amount_fen


def _message(session: AnySession, payout: Payout, kind: str, now: datetime, **params) -> None:
    """An in-site message (站内信) to the shop about this payout; codes and values only: its text
    and where it leads (url_for) are made at the edge, webapp/web/messages.py."""
    order_no = params.pop("order_no", None) or session.scalar(select(Order.order_no).where(Order.id == payout.order_id))
    session.add(InSiteMessage(
        shop_id=payout.shop_id, kind=kind, payout_id=payout.id,
        params=json.dumps({"order_no": order_no, "amount_fen": payout.amount_fen, **params}), created_at=now,
    ))


def awaiting_approval_count(session: AnySession, shop_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Payout).where(
        Payout.shop_id == shop_id, Payout.status == PayoutStatus.AWAITING_APPROVAL)) or 0


def awaiting_approval(session: AnySession, shop_id: int, limit: int = 200) -> list[Payout]:
    return list(session.scalars(select(Payout).where(
        Payout.shop_id == shop_id, Payout.status == PayoutStatus.AWAITING_APPROVAL).order_by(Payout.created_at, Payout.id)
        .limit(limit)))


# --- the payout lifecycle: every status write goes through move() -------------------------------
#
# The worker orchestrates channel calls; the functions below make every change of a payout's
# status, each in one short transaction on the locked row. Fencing (issue 9): a claim carries a
# token (the attempt number); a channel call is made only after begin_attempt() found the claim
# still held, and each request carries a deadline (`not_after`) after which the channel refuses
# it. A payout that may have reached the channel is failed only on the channel's "failed", or on
# its "unknown" asked after the last request's deadline (R6 decision: never fail blind).

def move(payout: Payout, target: PayoutStatus, now: datetime) -> None:
    """The one place a payout's status is written: the transition table decides."""
    check_transition(PAYOUT_TRANSITIONS, PayoutStatus(payout.status), target)
    record_status_change(payout, payout.status, target)  # the rollups follow, at this transaction's commit
    payout.status = target
    payout.updated_at = now


@dataclass(frozen=True)
class Claim:
    payout_id: int
    token: int  # the attempt number this claim made; a later claim or a requeue invalidates it


@dataclass(frozen=True)
class Attempt:
    payout_id: int
    token: int
    buyer_ref: str
    amount_fen: int
    not_after: datetime  # the channel must not take this request after this instant
    before: tuple  # (maybe_at_channel, channel_not_after) before this attempt, to undo it if never sent


def claim_due(session: AnySession, now: datetime, *, lease: timedelta, give_up_before: datetime,
              limit: int = 20) -> list[Claim]:
    """Due pending payouts become processing, leased to this worker. Payouts past the give-up
    deadline are never sent again: the reconciler settles them from the channel's word."""
    with write_transaction(session):
        stmt = (
            select(Payout).where(Payout.status == PayoutStatus.PENDING, Payout.next_attempt_at <= now,
                                 queued_at() > give_up_before)
            .order_by(Payout.next_attempt_at, Payout.id).limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = session.scalars(stmt).all()
        for p in claimed:
            move(p, PayoutStatus.PROCESSING, now)
            p.processing_at = p.processing_at or now
            p.attempts += 1
            p.lease_until = now + lease
            p.next_attempt_at = None
        return [Claim(p.id, p.attempts) for p in claimed]


def queued_at():
    """When a payout joined the queue: at creation, or when it was approved (R20). The give-up
    deadline (R6: final within 30 minutes) runs from here."""
    return func.coalesce(Payout.decided_at, Payout.created_at)


def _still_claimed(p: Payout, token: int) -> bool:
    return p.status == PayoutStatus.PROCESSING and p.attempts == token and p.channel_ref is None


def begin_attempt(session: AnySession, claim: Claim, now: datetime, *, lease: timedelta, ttl: timedelta) -> Attempt | None:
    """The fence, just before a channel call: None if this worker no longer holds its claim (the
    reconciler requeued or settled it, another worker claimed it). Otherwise the payout is marked
    as possibly at the channel until `not_after`, and the lease is renewed."""
    with write_transaction(session):
        p = lock(session, Payout, Payout.id == claim.payout_id)
        if p is None or not _still_claimed(p, claim.token):
            return None
        before = (p.maybe_at_channel, p.channel_not_after)
        not_after = now + ttl
        p.maybe_at_channel = True
        p.channel_not_after = max(p.channel_not_after or not_after, not_after)
        p.lease_until = now + lease
        p.updated_at = now
        return Attempt(p.id, claim.token, buyer_ref(session, p), p.amount_fen, not_after, before)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60, 2 ** max(0, attempts - 1)))


def _requeue(p: Payout, now: datetime) -> None:
    move(p, PayoutStatus.PENDING, now)
    p.next_attempt_at = now + _backoff(p.attempts)
    p.lease_until = None


def attempt_failed(session: AnySession, attempt: Attempt, now: datetime, *, delivered: bool) -> None:
    """The channel call raised a transient error: back to the queue with a backoff. If the request
    certainly never reached the channel (refused connection, refused as expired), this attempt
    no longer counts as possibly delivered."""
    with write_transaction(session):
        p = lock(session, Payout, Payout.id == attempt.payout_id)
        if not _still_claimed(p, attempt.token):
            return
        if not delivered and p.channel_not_after == attempt.not_after:
            p.maybe_at_channel, p.channel_not_after = attempt.before
        _requeue(p, now)


def record_accepted(session: AnySession, payout_id: int, reference: str | None, now: datetime, *, poll_in: timedelta) -> None:
    """The channel is paying this payout: keep its reference and poll it (adopting it if it was
    back in the queue: the channel took an earlier request)."""
    with write_transaction(session):
        _accept_locked(lock(session, Payout, Payout.id == payout_id), reference, now, poll_in)


def _accept_locked(p: Payout, reference: str | None, now: datetime, poll_in: timedelta) -> None:
    if p.status == PayoutStatus.PENDING:
        move(p, PayoutStatus.PROCESSING, now)
        p.processing_at = p.processing_at or now
        p.maybe_at_channel = True
    if p.status == PayoutStatus.PROCESSING:
        p.channel_ref = reference or p.channel_ref or f"accepted:{p.id}"
        p.lease_until = None
        p.next_attempt_at = now + poll_in
        p.updated_at = now


def observed_state(p: Payout) -> tuple:
    """What a worker saw of a payout; requeue()/give_up() act only if it is unchanged."""
    return (p.status, p.attempts, p.channel_ref)


def requeue(session: AnySession, payout_id: int, now: datetime, *, only_if: tuple) -> bool:
    """Unknown to the channel before the deadline (a dead worker's claim): submit it again with
    the same id (the channel pays an id once)."""
    with write_transaction(session):
        p = lock(session, Payout, Payout.id == payout_id)
        if observed_state(p) != only_if or p.status != PayoutStatus.PROCESSING or p.channel_ref is not None:
            return False
        _requeue(p, now)
        return True


def give_up(session: AnySession, payout_id: int, now: datetime, *, only_if: tuple, unknown_asked_at: datetime | None,
            skew: timedelta = timedelta(0)) -> bool:
    """Fail a payout the channel never took, releasing its money, only when no request for it can
    still reach the channel: none was ever sent, or the channel answered "unknown" to a question
    asked (at `unknown_asked_at`) after the last request's deadline plus the clock skew allowance.
    Checked on the locked row, so a worker that sent a request meanwhile stops it."""
    with write_transaction(session):
        funds, shop_usage, account_usage, p = _lock_for_settlement(session, payout_id, now, counters=True)
        if p.status in PAYOUT_FINAL or observed_state(p) != only_if:
            return False
        if p.channel_not_after is not None and (unknown_asked_at is None or unknown_asked_at <= p.channel_not_after + skew):
            return False
        _fail_locked(session, funds, shop_usage, account_usage, p, GAVE_UP, now, None)
        return True


GAVE_UP = "channel_did_not_accept_in_time"


def _lock_for_settlement(session: AnySession, payout_id: int, now: datetime, *, counters: bool,
                         shop_id: int | None = None):
    """Lock, in the documented order, the rows a settlement changes. With `shop_id`, another
    shop's payout is not found (R18)."""
    where = [Payout.id == payout_id] + ([Payout.shop_id == shop_id] if shop_id is not None else [])
    head = session.execute(
        select(Payout.shop_id, Payout.shop_day, Payout.started_by_id).where(*where)
    ).one_or_none()  # immutable columns, read to know which rows to lock
    if head is None:
        raise OrderNotFound(str(payout_id))
    funds = ledger.lock_funds(session, head.shop_id, now)
    shop_usage = account_usage = None
    if counters:
        shop_usage = lock(session, ShopDayUsage, ShopDayUsage.shop_id == head.shop_id, ShopDayUsage.day == head.shop_day)
        account_usage = lock(session, AccountDayUsage, AccountDayUsage.account_id == head.started_by_id,
                             AccountDayUsage.day == head.shop_day)
    payout = lock(session, Payout, Payout.id == payout_id)
    return funds, shop_usage, account_usage, payout


def settle_succeeded(session: AnySession, payout_id: int, now: datetime, reference: str | None = None) -> bool:
    """Capture the held money. Idempotent: a final payout is left alone. Returns True if it moved."""
    with write_transaction(session):
        return _succeed_locked(session, payout_id, now, reference)


def _succeed_locked(session: AnySession, payout_id: int, now: datetime, reference: str | None) -> bool:
    funds, _, _, payout = _lock_for_settlement(session, payout_id, now, counters=False)
    if payout.status in PAYOUT_FINAL:
        if payout.status in (PayoutStatus.FAILED, PayoutStatus.CANCELLED):
            log.critical("channel reports payout %s paid, but it was %s and its money released", payout_id, payout.status)
        return False
    before = _snapshot(payout)
    move(payout, PayoutStatus.SUCCEEDED, now)
    ledger.post(session, funds, Movement.CAPTURE, payout.amount_fen, now, payout_id=payout.id)
    payout.succeeded_at = now
    payout.channel_ref = reference or payout.channel_ref
    payout.next_attempt_at = payout.lease_until = None
    audit.record(session, shop_id=payout.shop_id, actor=None, action="payout.succeeded", target_type="payout",
                 target_id=payout.id, now=now, before=before, after=_snapshot(payout))
    inbox.tell_buyer_payout(session, payout, now)  # R25: the buyer is told
    return True


def settle_failed(session: AnySession, payout_id: int, reason: str, now: datetime, reference: str | None = None) -> bool:
    """The channel said no: release the held money, give the allowance back to the day counters
    it was taken from, and tell the shop (one in-site message). Idempotent. True if it moved."""
    with write_transaction(session):
        return _fail_by_channel_locked(session, payout_id, reason, now, reference)


def _fail_by_channel_locked(session: AnySession, payout_id: int, reason: str, now: datetime, reference: str | None) -> bool:
    funds, shop_usage, account_usage, payout = _lock_for_settlement(session, payout_id, now, counters=True)
    if payout.status in PAYOUT_FINAL:
        return False
    _fail_locked(session, funds, shop_usage, account_usage, payout, reason, now, reference)
    return True


def _fail_locked(session: AnySession, funds, shop_usage, account_usage, payout: Payout, reason: str, now: datetime,
                 reference: str | None) -> None:
    before = _snapshot(payout)
    move(payout, PayoutStatus.FAILED, now)
    _release(session, funds, shop_usage, account_usage, payout, now)
    payout.failed_at = now
    payout.failure_reason = reason[:200]
    payout.channel_ref = reference or payout.channel_ref
    payout.next_attempt_at = payout.lease_until = None
    _message(session, payout, "payout_failed", now, reason=payout.failure_reason)
    audit.record(session, shop_id=payout.shop_id, actor=None, action="payout.failed", target_type="payout",
                 target_id=payout.id, now=now, before=before, after=_snapshot(payout))
    inbox.tell_buyer_payout(session, payout, now)  # R25: the buyer is told, with what they can do


# --- channel notifications (signed callbacks) ----------------------------------------------------

class UnknownPayout(PayoutError):
    pass


def apply_channel_event(session: AnySession, *, event_id: str, payout_id: int, state: str, reference: str | None,
                        reason: str | None, now: datetime, poll_in: timedelta) -> bool:
    """Apply one verified notification. The event id is recorded in the same transaction as the
    settlement it causes, so a duplicate delivery changes nothing (returns False). Out-of-order
    events are harmless: a final payout is never moved again."""
    with write_transaction(session):
        if session.scalar(select(Payout.id).where(Payout.id == payout_id)) is None:
            raise UnknownPayout(str(payout_id))
        inserted = ensure_row(session, ChannelEvent, event_id=event_id, payout_id=payout_id, state=state,
                              received_at=now)
        if not inserted:
            return False
        if state == "succeeded":
            _succeed_locked(session, payout_id, now, reference)
        elif state == "failed":
            _fail_by_channel_locked(session, payout_id, reason or "failed_at_channel", now, reference)
        elif state == "processing":
            _accept_locked(lock(session, Payout, Payout.id == payout_id), reference, now, poll_in)
        return True


def buyer_ref(session: AnySession, payout: Payout) -> str:
    login = session.scalar(select(Buyer.login).where(Buyer.id == payout.buyer_id))
    assert login is not None  # the payout's buyer (a foreign key)
    return login
