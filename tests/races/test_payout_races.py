"""Races with real threads, each with its own app context, session and connection, on SQLite
(BEGIN IMMEDIATE) and PostgreSQL (row locks). Every cap must hold however the threads interleave."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support import account, assert_money_invariants, both_backends, intent, payout_world, race
from webapp.models import AccountDayUsage, Payout, ShopDayUsage
from webapp.services import payouts as svc

pytestmark = [both_backends, pytest.mark.race]


def race_one_payout_per_order(app, actor_id, order_nos, amount_fen, now):
    """One thread per order, all at the same instant: each starts a payout of `amount_fen` for its order."""
    from webapp.extensions import db

    def attempt(i):
        it = svc.PayoutIntent(order_nos[i], amount_fen, "shipping_fee", "", f"k{i}")
        return svc.create_payout(db.session, account(app, actor_id), it, now)

    return race(app, len(order_nos), attempt)


def only_refusals(results):
    """Every loser lost to a rule, not to a crash or a database error."""
    for ok, value in results:
        if not ok:
            assert isinstance(value, svc.PayoutRefused), repr(value)
    assert any(ok for ok, _ in results), [v.refusals[0].code for _, v in results]


def test_r2_4_r3_5_fifty_payouts_race_one_orders_paid_amount(app, db, make, clock):
    w = payout_world(make, db, paid_fen=1_000)
    t0, main_id, order_no = clock.now(), w.main.id, w.order.order_no

    def attempt(i):
        # Each racer acts at its own instant a minute apart, so R2.2 does not simply stop all but one.
        it = svc.PayoutIntent(order_no, 400, "shipping_fee", "", f"k{i}")
        return svc.create_payout(db.session, account(app, main_id), it, t0 + timedelta(seconds=61 * i)).payout.id

    results = race(app, 50, attempt)
    only_refusals(results)
    payouts = db.session.scalars(select(Payout).where(Payout.order_id == w.order.id).order_by(Payout.created_at)).all()
    assert 1 <= len(payouts) <= 2  # 2 x ¥4 fit in ¥10, a third never
    assert sum(p.amount_fen for p in payouts) <= 1_000
    assert len(payouts) <= 5
    for a, b in zip(payouts, payouts[1:], strict=False):
        assert b.created_at - a.created_at >= timedelta(minutes=1)
    assert sum(ok for ok, _ in results) == len(payouts)
    assert_money_invariants(db, w.shop.id)


def test_r2_5_r3_3_fifty_payouts_race_the_shop_daily_cap(app, db, make, clock):
    w = payout_world(make, db, cap_fen=10_000)
    orders = [make.order(w.shop, w.buyer, paid_fen=1_000).order_no for _ in range(50)]
    results = race_one_payout_per_order(app, w.main.id, orders, 300, clock.now())
    only_refusals(results)
    wins = sum(ok for ok, _ in results)
    assert wins == 33  # 33 x ¥3 = ¥99 fit under ¥100; the 34th would pass it
    used = db.session.scalar(select(ShopDayUsage.committed_fen).where(ShopDayUsage.shop_id == w.shop.id))
    assert used == 9_900 <= 10_000
    assert_money_invariants(db, w.shop.id)


def test_r3_2_twenty_payouts_race_one_staff_daily_limit(app, db, make, clock):
    w = payout_world(make, db, quota=(500, 2_000))
    orders = [make.order(w.shop, w.buyer, paid_fen=1_000).order_no for _ in range(20)]
    staff_id = w.staff.id
    results = race_one_payout_per_order(app, staff_id, orders, 300, clock.now())
    only_refusals(results)
    assert sum(ok for ok, _ in results) == 6  # 6 x ¥3 = ¥18 of the ¥20 daily limit
    used = db.session.scalar(select(AccountDayUsage.committed_fen).where(AccountDayUsage.account_id == staff_id))
    assert used == 1_800 <= 2_000
    assert_money_invariants(db, w.shop.id)


def test_r4_twenty_replays_of_one_request_key_make_one_payout(app, db, make, clock):
    w = payout_world(make, db)
    it = intent(w.order, 500, key="double-click")
    now, staff_id = clock.now(), w.staff.id

    def attempt(i):
        created = svc.create_payout(db.session, account(app, staff_id), it, now)
        return created.payout.id, created.replayed

    results = race(app, 20, attempt)
    assert all(ok for ok, _ in results), [v for ok, v in results if not ok]
    assert len({pid for _, (pid, _) in results}) == 1
    assert sum(not replayed for _, (_, replayed) in results) == 1
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1
    assert_money_invariants(db, w.shop.id)
