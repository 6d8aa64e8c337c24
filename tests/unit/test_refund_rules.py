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
def test_r12_r23_window_decides_the_route_never_whether_one_may_apply(delta, ok):
    assert rules.within_window(PAID, PAID + delta) is ok
    refusals = rules.apply_refusals(now=PAID + delta, paid_at=PAID, order_closed=False, refundable_fen=100,
                                    kind="refund_only", goods_intact=None)
    assert refusals == []  # R23: every buyer can ask
    expected = (Route.AUTOMATIC, None) if ok else (Route.REVIEW, ReviewWhy.OUTSIDE_WINDOW)
    assert rules.route(shop_enabled=True, kind="refund_only", goods_intact=None,
                       in_window=rules.within_window(PAID, PAID + delta)) == expected


def test_r12_other_refusals():
    r = rules.apply_refusals(now=PAID, paid_at=PAID, order_closed=True, refundable_fen=100, kind="return_and_refund",
                             goods_intact=None)
    assert r == [ApplyRefusal.ORDER_CLOSED, ApplyRefusal.GOODS_CONDITION_MISSING]
    # A fully refunded order is closed too: the buyer is told it was refunded in full.
    r = rules.apply_refusals(now=PAID, paid_at=PAID, order_closed=True, refundable_fen=0, kind="refund_only",
                             goods_intact=None)
    assert r == [ApplyRefusal.NOTHING_LEFT]


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


@pytest.mark.parametrize(
    "opted_in, enabled, in_window, intact, expected",
    [
        (True, True, True, True, (Route.AUTOMATIC, None)),
        (False, False, True, True, (Route.REVIEW, ReviewWhy.SHOP_NOT_OPTED_IN)),
        (True, False, True, True, (Route.REVIEW, ReviewWhy.FAST_REFUND_OFF)),
        (True, True, False, True, (Route.REVIEW, ReviewWhy.OUTSIDE_WINDOW)),
        (True, True, True, False, (Route.REVIEW, ReviewWhy.GOODS_NOT_INTACT)),
    ],
)
def test_r23_every_case_fast_refund_does_not_cover_goes_to_review(opted_in, enabled, in_window, intact, expected):
    assert rules.route(shop_enabled=enabled, opted_in=opted_in, in_window=in_window, kind="return_and_refund",
                       goods_intact=intact) == expected


@pytest.mark.parametrize(
    "opted_in, enabled, in_window, closed, left, open_case, expected",
    [
        (True, True, True, False, 100, False, rules.BuyerOffer(rules.Offer.FAST)),
        (False, False, True, False, 100, False, rules.BuyerOffer(rules.Offer.REVIEW, why=ReviewWhy.SHOP_NOT_OPTED_IN)),
        (True, False, True, False, 100, False, rules.BuyerOffer(rules.Offer.REVIEW, why=ReviewWhy.FAST_REFUND_OFF)),
        (True, True, False, False, 100, False, rules.BuyerOffer(rules.Offer.REVIEW, why=ReviewWhy.OUTSIDE_WINDOW)),
        (True, True, True, False, 100, True, rules.BuyerOffer(rules.Offer.OPEN)),
        (True, True, True, True, 0, False, rules.BuyerOffer(rules.Offer.NONE, refusal=ApplyRefusal.NOTHING_LEFT)),
        (True, True, True, True, 100, False, rules.BuyerOffer(rules.Offer.NONE, refusal=ApplyRefusal.ORDER_CLOSED)),
    ],
)
def test_r23_the_order_page_offers_the_right_action(opted_in, enabled, in_window, closed, left, open_case, expected):
    assert rules.buyer_offer(opted_in=opted_in, enabled=enabled, in_window=in_window, order_closed=closed,
                             refundable_fen=left, has_open_case=open_case) == expected


@pytest.mark.parametrize("paid, refunded, state", [(990, 0, "none"), (990, 1, "partial"), (990, 989, "partial"),
                                                   (990, 990, "full")])
def test_r24_refund_state_of_an_order(paid, refunded, state):
    assert rules.refund_state(paid_fen=paid, refunded_fen=refunded) == state


@pytest.mark.parametrize("refunded, amount, ok", [(0, 990, True), (0, 991, False), (500, 490, True), (500, 491, False),
                                                  (990, 1, False), (0, 0, False)])
def test_r24_refunds_never_exceed_the_paid_amount(refunded, amount, ok):
    assert rules.refund_fits(paid_fen=990, refunded_fen=refunded, amount_fen=amount) is ok


@pytest.mark.parametrize("amount, available, funds, advanced", [(500, 1000, 500, 0), (500, 500, 500, 0), (500, 499, 499, 1), (500, 0, 500 - 500, 500), (500, -1, 0, 500)])
def test_r13_funding_never_waits_on_the_balance(amount, available, funds, advanced):
    f = rules.fund(amount, available)
    assert (f.from_funds_fen, f.advanced_fen) == (funds, advanced) and f.from_funds_fen + f.advanced_fen == amount


@pytest.mark.parametrize("topup, arrears, recovered", [(1000, 0, 0), (1000, 300, 300), (200, 300, 200), (300, 300, 300)])
def test_r13_recovery_first_from_the_next_topup(topup, arrears, recovered):
    assert rules.recovery(topup, arrears) == recovered


# --- R22 (+ R20 for refunds): may a sub-account decide this refund case? ----------------------------

NP, PR, DY, NM = (rules.DecideRefusal.NO_PERMISSION, rules.DecideRefusal.OVER_PER_REFUND, rules.DecideRefusal.OVER_DAILY,
                  rules.DecideRefusal.NEEDS_MAIN)
#  main?  enabled  per-refund  daily  used today  amount  approval at   -> refusal (None: it may decide)
DECIDE = [
    (True,  False, None,  None,  0,     99_999, None,   None),               # the main account always may
    (True,  True,  1_000, 5_000, 5_000, 9_999,  2_000,  None),
    (False, False, 1_000, 5_000, 0,     1,      None,   (NP, None)),         # not allowed by its main account
    (False, True,  None,  5_000, 0,     1,      None,   (NP, None)),         # limits not set
    (False, True,  1_000, None,  0,     1,      None,   (NP, None)),
    (False, True,  1_000, 5_000, 0,     1_000,  None,   None),               # at the per-refund limit
    (False, True,  1_000, 5_000, 0,     1_001,  None,   (PR, 1_000)),
    (False, True,  1_000, 5_000, 4_000, 1_000,  None,   None),               # exactly up to the daily limit
    (False, True,  1_000, 5_000, 4_001, 1_000,  None,   (DY, 5_000)),
    (False, True,  1_000, 5_000, 4_500, 501,    None,   (DY, 5_000)),
    (False, True,  1_000, 5_000, 0,     499,    500,    None),               # below the shop's approval threshold
    (False, True,  1_000, 5_000, 0,     500,    500,    (NM, 500)),          # at it: the main account decides
    (False, True,  1_000, 5_000, 4_900, 1_001,  500,    (NM, 500)),          # the threshold is named first
    (False, True,  1_000, 5_000, 4_900, 900,    None,   (DY, 5_000)),
]


@pytest.mark.parametrize(("is_main", "enabled", "per_refund", "daily", "used", "amount", "approval", "refusal"), DECIDE)
def test_r22_who_may_decide_a_refund(is_main, enabled, per_refund, daily, used, amount, approval, refusal):
    assert rules.decide_refusal(actor_is_main=is_main, enabled=enabled, per_refund_fen=per_refund, daily_fen=daily,
                                used_today_fen=used, amount_fen=amount, approval_fen=approval) == refusal


# --- R24: what an order (or a case) can still refund ------------------------------------------------

#  paid  refunded  requested  -> left
REFUNDABLE = [
    (990, None,  None, 990),  # nothing refunded yet
    (990, 0,     None, 990),
    (990, 500,   None, 490),
    (990, 990,   None, 0),    # refunded in full
    (990, 1_000, None, 0),    # never below 0, even if the books say more went out
    (990, 0,     300,  300),  # a case asks for less than is left: at most what it asked for
    (990, 500,   600,  490),  # ... and never more than is left
    (990, 990,   300,  0),
    (990, 0,     -5,   0),
]


@pytest.mark.parametrize(("paid", "refunded", "requested", "left"), REFUNDABLE)
def test_r24_refundable_amount(paid, refunded, requested, left):
    assert rules.refundable_fen(paid_fen=paid, refunded_fen=refunded, requested_fen=requested) == left
