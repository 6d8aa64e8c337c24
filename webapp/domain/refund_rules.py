"""Fast refunds (极速退款), R10-R14. Pure: plain values in, codes and decisions out."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from . import N_

WINDOW = timedelta(days=7)  # R12: 7 x 24 h from the order's payment time
NOTE_MAX_CHARS = 500


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
    WINDOW_CLOSED = "window_closed"
    ORDER_CLOSED = "order_closed"
    NOTHING_LEFT = "nothing_left"
    GOODS_CONDITION_MISSING = "goods_condition_missing"


APPLY_MESSAGES = {
    ApplyRefusal.WINDOW_CLOSED: N_("Fast refund is only possible within 7 days of payment. This order was paid on %(paid_at)s; contact the shop for after-sales help."),
    ApplyRefusal.ORDER_CLOSED: N_("This order is closed, so it cannot be refunded."),
    ApplyRefusal.NOTHING_LEFT: N_("This order has already been refunded in full."),
    ApplyRefusal.GOODS_CONDITION_MISSING: N_("For a return, tell us whether the goods are intact."),
}


def within_window(paid_at: datetime, now: datetime) -> bool:
    """R12: up to and including exactly 7 x 24 h after payment."""
    return now - paid_at <= WINDOW


def window_closes_at(paid_at: datetime) -> datetime:
    return paid_at + WINDOW


def apply_refusals(*, now: datetime, paid_at: datetime, order_closed: bool, refundable_fen: int,
                   kind: str, goods_intact: bool | None) -> list[ApplyRefusal]:
    out = []
    if not within_window(paid_at, now):
        out.append(ApplyRefusal.WINDOW_CLOSED)
    if order_closed:
        out.append(ApplyRefusal.ORDER_CLOSED)
    if refundable_fen <= 0:
        out.append(ApplyRefusal.NOTHING_LEFT)
    if kind == "return_and_refund" and goods_intact is None:
        out.append(ApplyRefusal.GOODS_CONDITION_MISSING)
    return out


class Route(StrEnum):
    AUTOMATIC = "automatic"  # R13: accepted and refunded at once
    REVIEW = "review"  # the merchant's normal after-sales review queue


class ReviewWhy(StrEnum):
    GOODS_NOT_INTACT = "goods_not_intact"  # R14
    SHOP_NOT_OPTED_IN = "shop_not_opted_in"


def route(*, shop_enabled: bool, kind: str, goods_intact: bool | None) -> tuple[Route, ReviewWhy | None]:
    """R13/R14: which path an application takes."""
    if not shop_enabled:
        return Route.REVIEW, ReviewWhy.SHOP_NOT_OPTED_IN
    if kind == "return_and_refund" and not goods_intact:
        return Route.REVIEW, ReviewWhy.GOODS_NOT_INTACT
    return Route.AUTOMATIC, None


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
