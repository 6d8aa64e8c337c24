"""Fast refunds (R10-R15): settlement settings with the frozen refund note, buyer applications,
automatic refunds through the funds ledger with the platform's advance, and the merchant's
review queue. Lock order as for payouts: funds account -> order -> case."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..db import AnySession, write_transaction
from ..domain import refund_rules as rules
from ..domain import text
from ..domain.states import (CASE_TRANSITIONS, ORDER_TRANSITIONS, CaseKind, CaseStatus, OrderStatus,
                             check_transition)
from ..domain.calendar import shop_day
from ..models import (
    AccountDayUsage, AfterSalesCase, Buyer, CaseEvent, MerchantAccount, Movement, Order, PayoutQuota, RefundSettings, Shop,
)
from ..models.funds import Memo
from . import audit, errors, inbox, ledger
from .rows import lock, lock_or_create


class RefundError(Exception):
    pass


class SettingsRefused(RefundError):
    def __init__(self, codes: list[str]):
        super().__init__(codes)
        self.codes = codes


class ApplicationRefused(RefundError):
    def __init__(self, refusals: list[rules.ApplyRefusal], params: dict):
        super().__init__(refusals)
        self.refusals = refusals
        self.params = params


class CaseNotFound(RefundError, errors.CaseNotFound):
    """No such case (or order) for this actor: a 404 at the edge."""


class CaseClosed(RefundError):
    """The case is no longer awaiting the merchant (someone else decided it)."""


# --- settlement settings (R10, R11) ---------------------------------------------------------

def settings_of(session: AnySession, shop_id: int) -> RefundSettings | None:
    return session.get(RefundSettings, shop_id, populate_existing=True)


def missing_preconditions(shop: Shop) -> list[rules.Missing]:
    return rules.preconditions(certified=shop.certified, setup_complete=shop.setup_complete)


def note_problems(note: str) -> list[str]:
    note = (note or "").strip()
    if not note:
        return ["note_empty"]
    if len(note) > rules.NOTE_MAX_CHARS:
        return ["note_long"]
    if text.unsafe(note, multiline=True):
        return ["note_control"]
    return []


def confirm_settings(session: AnySession, actor: MerchantAccount, note: str, now: datetime, ip: str | None = None) -> RefundSettings:
    """R11: turn fast refund on with the refund note. After this the note never changes."""
    shop = session.get(Shop, actor.shop_id)
    assert shop is not None  # the actor's own shop (a foreign key)
    missing = missing_preconditions(shop)
    if missing:
        raise SettingsRefused([m.value for m in missing])
    problems = note_problems(note)
    if problems:
        raise SettingsRefused(problems)
    with write_transaction(session):
        existing = lock(session, RefundSettings, RefundSettings.shop_id == actor.shop_id)
        if existing is not None and existing.confirmed_at is not None:
            raise SettingsRefused(["already_confirmed"])
        settings = existing or RefundSettings(shop_id=actor.shop_id)
        settings.enabled, settings.note = True, note.strip()
        settings.confirmed_at, settings.confirmed_by_id, settings.updated_at = now, actor.id, now
        session.add(settings)
        audit.record(session, shop_id=actor.shop_id, actor=actor, action="settings.fast_refund_confirm",
                     target_type="refund_settings", target_id=actor.shop_id, now=now, ip=ip,
                     after={"enabled": True, "note": settings.note})
    return settings


def set_fast_refund_enabled(session: AnySession, actor: MerchantAccount, enabled: bool, now: datetime,
                            ip: str | None = None) -> RefundSettings:
    """Decision: a shop may switch fast refund off and on again; the confirmed note stays frozen."""
    shop = session.get(Shop, actor.shop_id)
    assert shop is not None  # the actor's own shop (a foreign key)
    if enabled and missing_preconditions(shop):
        raise SettingsRefused([m.value for m in missing_preconditions(shop)])
    with write_transaction(session):
        settings = lock(session, RefundSettings, RefundSettings.shop_id == actor.shop_id)
        if settings is None or settings.confirmed_at is None:
            raise SettingsRefused(["not_confirmed"])
        if settings.enabled != enabled:
            settings.enabled, settings.updated_at = enabled, now
            audit.record(session, shop_id=actor.shop_id, actor=actor,
                         action="settings.fast_refund_on" if enabled else "settings.fast_refund_off",
                         target_type="refund_settings", target_id=actor.shop_id, now=now, ip=ip,
                         before={"enabled": not enabled}, after={"enabled": enabled})
    return settings


def fast_refund_active(session: AnySession, shop_id: int) -> bool:
    s = session.get(RefundSettings, shop_id)
    return bool(s and s.confirmed_at and s.enabled)


# --- buyer applications (R12-R14) -----------------------------------------------------------

def refunded_so_far(session: AnySession, order_id: int) -> int:
    """R24: the order's refunded total, kept on the order row with every refund's ledger movement."""
    return int(session.scalar(select(Order.refunded_fen).where(Order.id == order_id)) or 0)


def order_refundable_fen(order: Order) -> int:
    """R24: what is left to refund on this order (the rule `apply` uses under its locks)."""
    return rules.refundable_fen(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen)


def case_refund_fen(case: AfterSalesCase) -> int:
    """What approving this case refunds now: what it asked for, at most what is left on the
    order (the rule `approve` applies on the locked rows)."""
    return rules.refundable_fen(paid_fen=case.order.paid_fen, refunded_fen=case.order.refunded_fen,
                                requested_fen=case.requested_fen)


def open_case_of(session: AnySession, order_id: int) -> AfterSalesCase | None:
    """One open application per order (R23)."""
    return session.scalar(select(AfterSalesCase).where(
        AfterSalesCase.order_id == order_id, AfterSalesCase.status == CaseStatus.AWAITING_MERCHANT)
        .order_by(AfterSalesCase.id.desc()))


def _fast_refund_state(session: AnySession, shop_id: int) -> tuple[bool, bool]:
    """(opted in: confirmed once, enabled now)."""
    s = session.get(RefundSettings, shop_id, populate_existing=True)
    opted_in = bool(s and s.confirmed_at)
    return opted_in, bool(opted_in and s is not None and s.enabled)


def buyer_offer(session: AnySession, order: Order, now: datetime) -> rules.BuyerOffer:
    """What the buyer's order page offers; `apply` decides again under the locks (R23)."""
    opted_in, enabled = _fast_refund_state(session, order.shop_id)
    return rules.buyer_offer(opted_in=opted_in, enabled=enabled, in_window=rules.within_window(order.paid_at, now),
                             order_closed=order.status == OrderStatus.CLOSED,
                             refundable_fen=rules.refundable_fen(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen),
                             has_open_case=open_case_of(session, order.id) is not None)


def _event(session: AnySession, case: AfterSalesCase, kind: str, now: datetime, detail: str = "") -> None:
    session.add(CaseEvent(shop_id=case.shop_id, case_id=case.id, kind=kind, detail=detail, created_at=now))
    session.flush()


def _pay_refund(session: AnySession, funds, order: Order, case: AfterSalesCase, amount_fen: int, now: datetime,
                actor=None) -> None:
    """R13: from the funds account as far as it goes; the platform advances the rest as arrears.
    R24: in the same transaction, under the order row lock, the order's refunded total grows and a
    full refund closes the order; the case never says refunded without this money having moved."""
    if not rules.refund_fits(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen, amount_fen=amount_fen):
        raise ApplicationRefused([rules.ApplyRefusal.NOTHING_LEFT], {})
    funding = rules.fund(amount_fen, funds.available_fen)
    if funding.from_funds_fen:
        ledger.post(session, funds, Movement.REFUND, funding.from_funds_fen, now, case_id=case.id,
                    actor_id=getattr(actor, "id", None))
    if funding.advanced_fen:
        ledger.post(session, funds, Movement.ADVANCE, funding.advanced_fen, now, case_id=case.id,
                    memo=Memo.PLATFORM_ADVANCE)
    check_transition(CASE_TRANSITIONS, CaseStatus(case.status), CaseStatus.REFUNDED)
    case.status = CaseStatus.REFUNDED
    case.refund_fen = amount_fen
    case.advanced_fen = funding.advanced_fen
    case.decided_at = now
    _event(session, case, "refunded", now)
    audit.record(session, shop_id=case.shop_id, actor=actor, action="refund.paid", target_type="case", target_id=case.id,
                 now=now, after={"amount_fen": amount_fen, "advanced_fen": funding.advanced_fen})
    inbox.tell_buyer_case(session, case, now)  # R25: refunded automatically or approved; the buyer is told
    order.refunded_fen += amount_fen
    if rules.refund_state(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen) == rules.RefundState.FULL \
            and order.status != OrderStatus.CLOSED:
        before = order.status
        check_transition(ORDER_TRANSITIONS, OrderStatus(order.status), OrderStatus.CLOSED)
        order.status = OrderStatus.CLOSED  # 交易关闭: nothing left to ship
        _event(session, case, "order_closed", now)
        audit.record(session, shop_id=order.shop_id, actor=actor, action="order.refunded_closed", target_type="order",
                     target_id=order.id, now=now, before={"status": before},
                     after={"status": OrderStatus.CLOSED.value, "refunded_fen": order.refunded_fen})


@dataclass(frozen=True)
class Applied:
    case: AfterSalesCase
    created: bool


def apply(session: AnySession, buyer: Buyer, order_no: str, *, kind: str, goods_intact: bool | None, now: datetime,
          ip: str | None = None) -> Applied:
    """The buyer applies for a refund. Every buyer can (R23): it is a fast refund, accepted and
    refunded at once (R13), only when the shop has fast refund on, the order is within its 7 days
    (R12) and, for a return, the goods are intact (R14); otherwise it waits in the merchant's
    review queue and no money moves. This function decides, never the form. One open application
    per order: a repeated submit returns the open (or just refunded) application."""
    if kind not in (CaseKind.REFUND_ONLY, CaseKind.RETURN_AND_REFUND):
        raise ValueError("unknown kind")
    if kind == CaseKind.REFUND_ONLY:
        goods_intact = None
    head = session.execute(select(Order.id, Order.shop_id).where(Order.order_no == order_no, Order.buyer_id == buyer.id)).first()
    if head is None:
        raise CaseNotFound(order_no)
    with write_transaction(session):
        funds = ledger.lock_funds(session, head.shop_id, now)  # 1. funds account
        order = lock(session, Order, Order.id == head.id)  # 2. order
        open_case = open_case_of(session, order.id)
        if open_case is not None:
            return Applied(open_case, created=False)
        refundable = rules.refundable_fen(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen)
        refusals = rules.apply_refusals(now=now, paid_at=order.paid_at, order_closed=order.status == OrderStatus.CLOSED,
                                        refundable_fen=refundable, kind=kind, goods_intact=goods_intact)
        if refusals == [rules.ApplyRefusal.NOTHING_LEFT]:
            latest = session.scalar(select(AfterSalesCase).where(
                AfterSalesCase.order_id == order.id, AfterSalesCase.buyer_id == buyer.id,
                AfterSalesCase.status == CaseStatus.REFUNDED).order_by(AfterSalesCase.id.desc()))
            if latest is not None:
                return Applied(latest, created=False)  # a double submit: show the refund that was made
        if refusals:
            raise ApplicationRefused(refusals, {"paid_at": order.paid_at})
        opted_in, enabled = _fast_refund_state(session, order.shop_id)
        route, why = rules.route(shop_enabled=enabled, opted_in=opted_in, kind=kind, goods_intact=goods_intact,
                                 in_window=rules.within_window(order.paid_at, now))
        fast = route == rules.Route.AUTOMATIC
        case = AfterSalesCase(
            shop_id=order.shop_id, order_id=order.id, buyer_id=buyer.id, kind=kind, requested_fen=refundable,
            reason=rules.CaseReason.FAST_REFUND if fast else rules.CaseReason.REFUND_APPLICATION,
            status=CaseStatus.AWAITING_MERCHANT,
            created_at=now, fast=fast, goods_intact=goods_intact, review_why=why.value if why else None,
        )
        session.add(case)
        session.flush()
        _event(session, case, "submitted", now)
        audit.record(session, shop_id=order.shop_id, actor=buyer, action="refund.apply", target_type="case",
                     target_id=case.id, now=now, ip=ip, after={"kind": kind, "goods_intact": goods_intact,
                                                              "amount_fen": refundable, "route": route.value})
        if fast:
            _event(session, case, "auto_approved", now)
            _pay_refund(session, funds, order, case, refundable, now)
        else:
            assert why is not None  # rules.route gives a reason for every review
            _event(session, case, "to_review", now, why.value)
    return Applied(case, created=True)


# --- the merchant's review (R14) ------------------------------------------------------------

class DecisionRefused(RefundError):
    """R22: this sub-account may not decide this case; the main account can."""

    def __init__(self, code: rules.DecideRefusal, params: dict):
        super().__init__(code)
        self.code, self.params = code, params


def _lock_case(session: AnySession, actor: MerchantAccount, case_id: int, now: datetime):
    """Lock funds account -> the actor's day counter (a sub-account's refund limits, R22) ->
    order -> case, the global lock order. Refuses a sub-account beyond its refund limits, checked
    on the locked rows; returns the day counter so an approval can count against it."""
    head = session.execute(select(AfterSalesCase.order_id).where(
        AfterSalesCase.id == case_id, AfterSalesCase.shop_id == actor.shop_id)).first()
    if head is None:
        raise CaseNotFound(case_id)
    funds = ledger.lock_funds(session, actor.shop_id, now)
    usage = None
    if not actor.is_main:
        day = shop_day(now)
        usage = lock_or_create(session, AccountDayUsage, account_id=actor.id, day=day, shop_id=actor.shop_id,
                               committed_fen=0, refunded_fen=0)
    order = lock(session, Order, Order.id == head.order_id)
    case = lock(session, AfterSalesCase, AfterSalesCase.id == case_id)
    if case.status != CaseStatus.AWAITING_MERCHANT:
        raise CaseClosed(case_id)
    amount = rules.refundable_fen(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen,
                                  requested_fen=case.requested_fen)
    quota = None if actor.is_main else session.get(PayoutQuota, actor.id, populate_existing=True)
    shop = session.get(Shop, actor.shop_id)
    assert shop is not None  # the actor's own shop (a foreign key)
    refusal = rules.decide_refusal(
        actor_is_main=actor.is_main, enabled=bool(quota and quota.refund_enabled),
        per_refund_fen=quota.per_refund_fen if quota else None, daily_fen=quota.refund_daily_fen if quota else None,
        used_today_fen=usage.refunded_fen if usage else 0, amount_fen=amount, approval_fen=shop.refund_approval_fen)
    if refusal:
        code, limit = refusal
        raise DecisionRefused(code, {"amount": amount, "limit": limit, "used": usage.refunded_fen if usage else 0})
    return funds, usage, order, case


def approve(session: AnySession, actor: MerchantAccount, case_id: int, now: datetime, ip: str | None = None) -> AfterSalesCase:
    """Refund through the same ledger (with the platform's advance if the funds fall short),
    never more than the order's paid amount minus what was already refunded."""
    with write_transaction(session):
        funds, usage, order, case = _lock_case(session, actor, case_id, now)
        amount = rules.refundable_fen(paid_fen=order.paid_fen, refunded_fen=order.refunded_fen,
                                      requested_fen=case.requested_fen)  # on the locked order row
        if amount <= 0:
            raise ApplicationRefused([rules.ApplyRefusal.NOTHING_LEFT], {})
        if usage is not None:
            usage.refunded_fen += amount  # R22: counts against the sub-account's daily refund limit
        case.decided_by_id = actor.id
        _event(session, case, "approved", now)
        audit.record(session, shop_id=actor.shop_id, actor=actor, action="refund.approve", target_type="case",
                     target_id=case.id, now=now, ip=ip, after={"amount_fen": amount})
        _pay_refund(session, funds, order, case, amount, now, actor=actor)
    return case


def reject(session: AnySession, actor: MerchantAccount, case_id: int, reason: str, now: datetime,
           ip: str | None = None) -> AfterSalesCase:
    reason = (reason or "").strip()
    with write_transaction(session):
        _, _, _, case = _lock_case(session, actor, case_id, now)
        if not reason or len(reason) > 200:
            raise SettingsRefused(["reject_reason"])
        check_transition(CASE_TRANSITIONS, CaseStatus(case.status), CaseStatus.REJECTED)
        case.status, case.reject_reason, case.decided_at, case.decided_by_id = CaseStatus.REJECTED, reason, now, actor.id
        _event(session, case, "rejected", now, reason)
        audit.record(session, shop_id=actor.shop_id, actor=actor, action="refund.reject", target_type="case",
                     target_id=case.id, now=now, ip=ip, after={"reason": reason})
        inbox.tell_buyer_case(session, case, now)  # R25: rejected, with the reason; the buyer is told
    return case


def timeline(session: AnySession, case_id: int) -> Sequence[CaseEvent]:
    return session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.created_at, CaseEvent.id)).all()


def awaiting_count(session: AnySession, shop_id: int) -> int:
    return session.scalar(select(func.count()).select_from(AfterSalesCase).where(
        AfterSalesCase.shop_id == shop_id, AfterSalesCase.status == CaseStatus.AWAITING_MERCHANT)) or 0  # COUNT: never None
