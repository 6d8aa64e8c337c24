"""R22 (+ R20 for refunds) on SQLite and PostgreSQL: a sub-account decides refund cases only if its
main account allowed it, within a per-refund and a daily limit, and below the shop's refund
approval threshold; above them the case waits for the main account. Limits hold under a race."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support import account, assert_money_invariants, both_backends, payout_world, race
from webapp.models import AccountDayUsage, AfterSalesCase
from webapp.services import refunds
from webapp.services import staff as staff_svc

pytestmark = both_backends


@pytest.fixture
def lw(make, db, clock):
    """Fast refund off: every application waits for a decision. Staff may refund ¥30 each, ¥50 a day."""
    w = payout_world(make, db, paid_fen=10_000, funds_fen=100_000, refund_quota=(3_000, 5_000))
    w.cases = []
    for fen in (2_000, 2_000, 2_000, 4_000):
        order = make.order(w.shop, w.buyer, paid_fen=fen)
        w.cases.append(refunds.apply(db.session, w.buyer, order.order_no, kind="refund_only", goods_intact=None,
                                     now=clock.now()).case.id)
    return w


def status(db, case_id) -> str:
    db.session.commit()
    return db.session.get(AfterSalesCase, case_id, populate_existing=True).status


def test_r22_within_the_limits_a_sub_account_decides(db, lw, clock):
    refunds.approve(db.session, lw.staff, lw.cases[0], clock.now())
    assert status(db, lw.cases[0]) == "refunded"
    used = db.session.scalar(select(AccountDayUsage.refunded_fen).where(AccountDayUsage.account_id == lw.staff.id))
    assert used == 2_000
    assert_money_invariants(db, lw.shop.id)


def test_r22_above_the_per_refund_limit_the_case_waits_for_the_main_account(db, lw, clock):
    with pytest.raises(refunds.DecisionRefused) as exc:
        refunds.approve(db.session, lw.staff, lw.cases[3], clock.now())  # ¥40 > ¥30
    assert exc.value.code == "refund_over_per_refund" and exc.value.params["limit"] == 3_000
    with pytest.raises(refunds.DecisionRefused):
        refunds.reject(db.session, lw.staff, lw.cases[3], "no", clock.now())  # deciding either way
    assert status(db, lw.cases[3]) == "awaiting_merchant"
    refunds.approve(db.session, lw.main, lw.cases[3], clock.now())  # the main account can
    assert status(db, lw.cases[3]) == "refunded"


def test_r22_the_daily_refund_limit(db, lw, clock):
    refunds.approve(db.session, lw.staff, lw.cases[0], clock.now())
    refunds.approve(db.session, lw.staff, lw.cases[1], clock.now())
    with pytest.raises(refunds.DecisionRefused) as exc:  # 2,000 + 2,000 + 2,000 > 5,000
        refunds.approve(db.session, lw.staff, lw.cases[2], clock.now())
    assert exc.value.code == "refund_over_daily" and exc.value.params["used"] == 4_000
    assert status(db, lw.cases[2]) == "awaiting_merchant"


def test_r22_without_permission_a_sub_account_decides_nothing(db, lw, make, clock):
    other = make.account(lw.shop, role="staff")
    make.quota(other, 5_000, 20_000)  # payouts yes, refunds no
    for decide in (lambda: refunds.approve(db.session, other, lw.cases[0], clock.now()),
                   lambda: refunds.reject(db.session, other, lw.cases[0], "no", clock.now())):
        with pytest.raises(refunds.DecisionRefused) as exc:
            decide()
        assert exc.value.code == "refund_no_permission"
    assert status(db, lw.cases[0]) == "awaiting_merchant"


def test_r20_r22_at_the_shop_refund_threshold_the_main_account_decides(db, lw, clock):
    lw.shop.refund_approval_fen = 2_000
    db.session.commit()
    with pytest.raises(refunds.DecisionRefused) as exc:
        refunds.approve(db.session, lw.staff, lw.cases[0], clock.now())
    assert exc.value.code == "refund_needs_main"
    refunds.approve(db.session, lw.main, lw.cases[0], clock.now())
    assert status(db, lw.cases[0]) == "refunded"


def test_r22_limits_are_set_inline_with_the_payout_quota_and_checked(db, lw, clock):
    with pytest.raises(staff_svc.StaffError) as exc:
        staff_svc.update_quota(db.session, lw.main, lw.staff.id, enabled=True, per_payout_fen=5_000, daily_fen=20_000,
                               refund_enabled=True, per_refund_fen=6_000, refund_daily_fen=5_000, now=clock.now())
    assert exc.value.problems == {"per_refund": ["refund_per_over_daily"]}
    with pytest.raises(staff_svc.StaffError) as exc:
        staff_svc.update_quota(db.session, lw.main, lw.staff.id, enabled=True, per_payout_fen=5_000, daily_fen=20_000,
                               refund_enabled=True, per_refund_fen=None, refund_daily_fen=5_000, now=clock.now())
    assert exc.value.problems == {"refund_enabled": ["refund_limits_required"]}
    staff_svc.update_quota(db.session, lw.main, lw.staff.id, enabled=True, per_payout_fen=5_000, daily_fen=20_000,
                           refund_enabled=False, now=clock.now())
    with pytest.raises(refunds.DecisionRefused):
        refunds.approve(db.session, lw.staff, lw.cases[0], clock.now())


@pytest.mark.race
def test_r22_racing_approvals_never_pass_the_daily_refund_limit(app, db, make, clock):
    w = payout_world(make, db, paid_fen=10_000, funds_fen=100_000, refund_quota=(2_000, 5_000))
    cases = []
    for _ in range(8):
        order = make.order(w.shop, w.buyer, paid_fen=1_000)
        cases.append(refunds.apply(db.session, w.buyer, order.order_no, kind="refund_only", goods_intact=None,
                                   now=clock.now()).case.id)
    now, staff_id = clock.now(), w.staff.id

    def attempt(i):
        return refunds.approve(db.session, account(app, staff_id), cases[i], now).status

    results = race(app, 8, attempt)
    won = [v for ok, v in results if ok]
    assert len(won) == 5, results  # ¥10 each, ¥50 a day
    for ok, value in results:
        assert ok or (isinstance(value, refunds.DecisionRefused) and value.code == "refund_over_daily"), repr(value)
    db.session.commit()
    used = db.session.scalar(select(AccountDayUsage.refunded_fen).where(AccountDayUsage.account_id == staff_id))
    assert used == 5_000
    assert_money_invariants(db, w.shop.id)
