"""Fast refunds (极速退款), R10-R14. Pure: plain values in, codes and decisions out."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from . import N_

WINDOW = timedelta(days=7)  # R12: 7 x 24 h from the order's payment time
NOTE_MAX_CHARS = 500


class CaseReason(StrEnum):
    """Why an after-sales case was opened, stored as this code (after_sales_case.reason) and said in
    the reader's language at the edge. Migration 0015 turned the Chinese texts older code wrote into
    these codes; any other text (none the app writes) is shown as it is."""

    FAST_REFUND = "fast_refund"  # 极速退款: the buyer applied and fast refund applies (R13)
    REFUND_APPLICATION = "refund_application"  # 退款申请: the buyer applied, the shop reviews (R23)
    DAMAGED = "damaged"  # 商品破损
    MISSING_ITEMS = "missing_items"  # 少发漏发
    WRONG_SIZE = "wrong_size"  # 尺寸不合适
    NO_REASON_7_DAYS = "no_reason_7_days"  # 七天无理由
    QUALITY = "quality"  # 质量问题
    SHIPPING_DISPUTE = "shipping_dispute"  # 运费争议


CASE_REASON_LABELS = {
    CaseReason.FAST_REFUND: N_("Fast refund"),
    CaseReason.REFUND_APPLICATION: N_("Refund application"),
    CaseReason.DAMAGED: N_("Goods damaged"),
    CaseReason.MISSING_ITEMS: N_("Items missing from the parcel"),
    CaseReason.WRONG_SIZE: N_("Wrong size"),
    CaseReason.NO_REASON_7_DAYS: N_("7-day return, no reason needed"),
    CaseReason.QUALITY: N_("Quality problem"),
    CaseReason.SHIPPING_DISPUTE: N_("Shipping fee dispute"),
}


class Missing(StrEnum):
    """R10: what stops a shop from enabling fast refunds."""

    CERTIFICATION = "certification"
    SETUP = "setup"


MISSING_MESSAGES = {
    Missing.CERTIFICATION: N_("Merchant certification (商家认证) has not passed yet. Complete it first."),
    Missing.SETUP: N_("The shop setup is not complete yet. Finish it first."),
}


def preconditions(*, certified: bool, setup_complete: bool) -> list[Missing]:
    out = []
    if not certified:
        out.append(Missing.CERTIFICATION)
    if not setup_complete:
        out.append(Missing.SETUP)
    return out


class ApplyRefusal(StrEnum):
    WINDOW_CLOSED = "window_closed"  # kept for old messages; since R23 the window only decides the route
    ORDER_CLOSED = "order_closed"
    NOTHING_LEFT = "nothing_left"
    GOODS_CONDITION_MISSING = "goods_condition_missing"


APPLY_MESSAGES = {
    ApplyRefusal.WINDOW_CLOSED: N_("Fast refund is only possible within %(days)s days of payment. This order was paid on %(paid_at)s; contact the shop for after-sales help."),
    ApplyRefusal.ORDER_CLOSED: N_("This order is closed, so it cannot be refunded."),
    ApplyRefusal.NOTHING_LEFT: N_("This order has already been refunded in full."),
    ApplyRefusal.GOODS_CONDITION_MISSING: N_("For a return, tell us whether the goods are intact."),
}


def within_window(paid_at: datetime, now: datetime) -> bool:
    """R12: up to and including exactly 7 x 24 h after payment."""
    return now - paid_at <= WINDOW


def window_closes_at(paid_at: datetime) -> datetime:
    return paid_at + WINDOW


def refundable_fen(*, paid_fen: int, refunded_fen: int | None, requested_fen: int | None = None) -> int:
    """R24: what can still be refunded on an order (never below 0); for a case, at most what it
    asked for. The one answer for the order and case pages and for the refund services."""
    left = paid_fen - (refunded_fen or 0)
    if requested_fen is not None:
        left = min(requested_fen, left)
    return max(0, left)


def order_refusal(*, order_closed: bool, refundable_fen: int) -> ApplyRefusal | None:
    """Whether this order can take a refund application at all (R23, R24): asked by the buyer's
    order page (what to offer) and by `apply` (under the locks)."""
    if refundable_fen <= 0:
        return ApplyRefusal.NOTHING_LEFT
    if order_closed:
        return ApplyRefusal.ORDER_CLOSED
    return None


def apply_refusals(*, now: datetime, paid_at: datetime, order_closed: bool, refundable_fen: int,
                   kind: str, goods_intact: bool | None) -> list[ApplyRefusal]:
    """What stops any application (R23: every buyer can ask; outside the 7 days it only goes
    to the merchant's review instead of being refunded at once)."""
    out = []
    refusal = order_refusal(order_closed=order_closed, refundable_fen=refundable_fen)
    if refusal is not None:
        out.append(refusal)
    if kind == "return_and_refund" and goods_intact is None:
        out.append(ApplyRefusal.GOODS_CONDITION_MISSING)
    return out


class Route(StrEnum):
    AUTOMATIC = "automatic"  # R13: accepted and refunded at once
    REVIEW = "review"  # the merchant's normal after-sales review queue (R14, R23)


class ReviewWhy(StrEnum):
    """Why fast refund does not apply, so the application goes to the merchant (R23)."""

    GOODS_NOT_INTACT = "goods_not_intact"  # R14
    SHOP_NOT_OPTED_IN = "shop_not_opted_in"  # R10/R11: never confirmed fast refund
    FAST_REFUND_OFF = "fast_refund_off"  # confirmed once, switched off now
    OUTSIDE_WINDOW = "outside_window"  # R12: more than 7 x 24 h after payment


def fast_refund_why_not(*, opted_in: bool, enabled: bool, in_window: bool) -> ReviewWhy | None:
    """R23: the reason fast refund does not apply to this order at all (before the goods matter)."""
    if not opted_in:
        return ReviewWhy.SHOP_NOT_OPTED_IN
    if not enabled:
        return ReviewWhy.FAST_REFUND_OFF
    if not in_window:
        return ReviewWhy.OUTSIDE_WINDOW
    return None


def route(*, shop_enabled: bool, kind: str, goods_intact: bool | None, opted_in: bool | None = None,
          in_window: bool = True) -> tuple[Route, ReviewWhy | None]:
    """R13/R14/R23: which path an application takes. `shop_enabled` is "fast refund is on now";
    `opted_in` whether the shop ever confirmed it (defaults to `shop_enabled`)."""
    why = fast_refund_why_not(opted_in=shop_enabled if opted_in is None else opted_in, enabled=shop_enabled,
                              in_window=in_window)
    if why is not None:
        return Route.REVIEW, why
    if kind == "return_and_refund" and not goods_intact:
        return Route.REVIEW, ReviewWhy.GOODS_NOT_INTACT
    return Route.AUTOMATIC, None


class Offer(StrEnum):
    """What the buyer's order page offers (the service checks again on submit)."""

    FAST = "fast"  # apply; refunded at once if the goods are intact (R13)
    REVIEW = "review"  # apply; the shop reviews it (R23), `why` says why fast refund does not apply
    OPEN = "open"  # an application is already open: see it (one open application per order)
    NONE = "none"  # nothing to apply for: refunded in full, or the order is closed


@dataclass(frozen=True)
class BuyerOffer:
    offer: Offer
    why: ReviewWhy | None = None
    refusal: ApplyRefusal | None = None

    @property
    def can_apply(self) -> bool:
        """May this buyer apply for a refund on this order now (fast or for the shop's review)?"""
        return self.offer in (Offer.FAST, Offer.REVIEW)


def buyer_offer(*, opted_in: bool, enabled: bool, in_window: bool, order_closed: bool, refundable_fen: int,
                has_open_case: bool) -> BuyerOffer:
    if has_open_case:
        return BuyerOffer(Offer.OPEN)
    refusal = order_refusal(order_closed=order_closed, refundable_fen=refundable_fen)
    if refusal is not None:
        return BuyerOffer(Offer.NONE, refusal=refusal)
    why = fast_refund_why_not(opted_in=opted_in, enabled=enabled, in_window=in_window)
    return BuyerOffer(Offer.REVIEW, why=why) if why else BuyerOffer(Offer.FAST)


class RefundState(StrEnum):
    """R24: what the refunds did to an order."""

    NONE = "none"
    PARTIAL = "partial"  # 部分退款: shows "partly refunded ¥x"
    FULL = "full"  # 全额退款: the order is closed (交易关闭)


def refund_state(*, paid_fen: int, refunded_fen: int) -> RefundState:
    if refunded_fen <= 0:
        return RefundState.NONE
    return RefundState.FULL if refunded_fen >= paid_fen else RefundState.PARTIAL


def refund_fits(*, paid_fen: int, refunded_fen: int, amount_fen: int) -> bool:
    """R24: the refunds of an order never add up to more than its paid amount."""
    return 0 < amount_fen <= paid_fen - refunded_fen


@dataclass(frozen=True)
class Funding:
    from_funds_fen: int  # deducted from the merchant funds account
    advanced_fen: int  # R13 decision: the platform advances the rest, recorded as the shop's arrears


def fund(amount_fen: int, available_fen: int) -> Funding:
    """The buyer's refund never waits on the merchant's balance."""
    from_funds = max(0, min(amount_fen, available_fen))
    return Funding(from_funds, amount_fen - from_funds)


def recovery(topup_fen: int, arrears_fen: int) -> int:
    """R13: a top-up pays outstanding arrears first (追缴)."""
    return max(0, min(topup_fen, arrears_fen))


class DecideRefusal(StrEnum):
    """R22: why a sub-account may not decide this refund case; the main account can."""

    NO_PERMISSION = "refund_no_permission"
    OVER_PER_REFUND = "refund_over_per_refund"
    OVER_DAILY = "refund_over_daily"
    NEEDS_MAIN = "refund_needs_main"  # at or above the shop's refund approval threshold (R20)


DECIDE_REFUSAL_MESSAGES = {
    DecideRefusal.NO_PERMISSION: N_("Your main account has not allowed you to decide refunds. The main account can decide this case."),
    DecideRefusal.OVER_PER_REFUND: N_("This refund of %(amount)s is above your per-refund limit of %(limit)s. The main account can decide it."),
    DecideRefusal.OVER_DAILY: N_("This refund of %(amount)s would take you past your daily refund limit of %(limit)s (used today: %(used)s). The main account can decide it."),
    DecideRefusal.NEEDS_MAIN: N_("Refunds of %(limit)s or more need the main account's approval. The main account can decide this case."),
}


def decide_refusal(*, actor_is_main: bool, enabled: bool, per_refund_fen: int | None, daily_fen: int | None,
                   used_today_fen: int, amount_fen: int, approval_fen: int | None) -> tuple[DecideRefusal, int | None] | None:
    """R22 (+ R20 for refunds): may a sub-account decide a refund case of `amount_fen`? None: yes;
    else the first reason and the limit it hit. The main account always may."""
    if actor_is_main:
        return None
    if not enabled or per_refund_fen is None or daily_fen is None:
        return DecideRefusal.NO_PERMISSION, None
    if approval_fen is not None and amount_fen >= approval_fen:
        return DecideRefusal.NEEDS_MAIN, approval_fen
    if amount_fen > per_refund_fen:
        return DecideRefusal.OVER_PER_REFUND, per_refund_fen
    if used_today_fen + amount_fen > daily_fen:
        return DecideRefusal.OVER_DAILY, daily_fen
    return None
