"""R10-R14 rules, pure."""
from datetime import datetime, timedelta, timezone

import pytest

from webapp.domain import refund_rules as rules
from webapp.domain.refund_rules import ApplyRefusal, Missing, Route, ReviewWhy

PAID = datetime(2026, 11, 16, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "certified, setup, missing",
    [(True, True, []), (False, True, [Missing.CERTIFICATION]), (True, False, [Missing.SETUP]),
     (False, False, [Missing.CERTIFICATION, Missing.SETUP])],
)
def test_r10_preconditions(certified, setup, missing):
    assert rules.preconditions(certified=certified, setup_complete=setup) == missing


@pytest.mark.parametrize(
    "delta, ok",
    [(timedelta(days=7) - timedelta(seconds=1), True), (timedelta(days=7), True),
     (timedelta(days=7) + timedelta(seconds=1), False), (timedelta(0), True)],
)
def test_r12_window_boundary(delta, ok):
    assert rules.within_window(PAID, PAID + delta) is ok
    refusals = rules.apply_refusals(now=PAID + delta, paid_at=PAID, order_closed=False, refundable_fen=100,
                                    kind="refund_only", goods_intact=None)
    assert (refusals == []) is ok


def test_r12_other_refusals():
    r = rules.apply_refusals(now=PAID, paid_at=PAID, order_closed=True, refundable_fen=0, kind="return_and_refund",
                             goods_intact=None)
    assert r == [ApplyRefusal.ORDER_CLOSED, ApplyRefusal.NOTHING_LEFT, ApplyRefusal.GOODS_CONDITION_MISSING]


@pytest.mark.parametrize(
    "enabled, kind, intact, expected",
    [
        (True, "refund_only", None, (Route.AUTOMATIC, None)),
        (True, "return_and_refund", True, (Route.AUTOMATIC, None)),
        (True, "return_and_refund", False, (Route.REVIEW, ReviewWhy.GOODS_NOT_INTACT)),  # R14
        (False, "refund_only", None, (Route.REVIEW, ReviewWhy.SHOP_NOT_OPTED_IN)),
        (False, "return_and_refund", True, (Route.REVIEW, ReviewWhy.SHOP_NOT_OPTED_IN)),
    ],
)
def test_r13_r14_route(enabled, kind, intact, expected):
    assert rules.route(shop_enabled=enabled, kind=kind, goods_intact=intact) == expected


@pytest.mark.parametrize("amount, available, funds, advanced", [(500, 1000, 500, 0), (500, 500, 500, 0), (500, 499, 499, 1), (500, 0, 500 - 500, 500), (500, -1, 0, 500)])
def test_r13_funding_never_waits_on_the_balance(amount, available, funds, advanced):
    f = rules.fund(amount, available)
    assert (f.from_funds_fen, f.advanced_fen) == (funds, advanced) and f.from_funds_fen + f.advanced_fen == amount


@pytest.mark.parametrize("topup, arrears, recovered", [(1000, 0, 0), (1000, 300, 300), (200, 300, 200), (300, 300, 300)])
def test_r13_recovery_first_from_the_next_topup(topup, arrears, recovered):
    assert rules.recovery(topup, arrears) == recovered
