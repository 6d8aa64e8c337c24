"""The R5 rollups under a race on PostgreSQL: merchants create payouts while workers claim several
at a time and settle them, all for one shop and one day, so every transaction changes the same
few rollup rows (shop, day, starter, status), many of them more than one row. The deltas are
applied at commit sorted by key, after every other row the transaction locks: no deadlock, and at
the end the rollup totals equal the payouts counted directly."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.support import account, assert_money_invariants, race
from webapp import worker
from webapp.models import MerchantAccount, Payout, PayoutDayTotal, PayoutQuota
from webapp.services import payout_reports as reports
from webapp.services import payouts as svc
from webapp.services.payout_reports import RecordFilter

pytestmark = [pytest.mark.parametrize("db_url", [pytest.param("pg", marks=pytest.mark.pg)], indirect=True),
              pytest.mark.race]

CREATORS, CLAIMERS, SETTLERS = 10, 10, 6
PER_CREATOR = 4
PRELOADED = 60


def test_r5_rollups_under_racing_creates_claims_and_settlements(app, db, make, clock):
    now = clock.now()
    shop = make.shop(daily_payout_cap_fen=100_000_000)
    main = make.account(shop, role="main")
    staff = [make.account(shop, role="staff") for _ in range(3)]
    for s in staff:
        db.session.add(PayoutQuota(account_id=s.id, shop_id=shop.id, enabled=True, per_payout_fen=10_000,
                                   daily_fen=10_000_000, updated_at=now))
    db.session.commit()
    make.funds(shop, 100_000_000)
    buyer = make.buyer()
    starters = [main.id] + [s.id for s in staff]
    shop_id = shop.id

    # Payouts already waiting, of four starters, due in a shuffled order: two workers claiming two
    # at a time take rollup keys in opposite orders (s1, s2 | s2, s1 | ...).
    preloaded = []
    for i in range(PRELOADED):
        actor = db.session.get(MerchantAccount, starters[i % len(starters)])
        order = make.order(shop, buyer, paid_fen=100_000)
        created = svc.create_payout(db.session, actor, svc.PayoutIntent(order.order_no, 100 + i, "other", "", f"pre-{i}"),
                                    now)
        preloaded.append(created.payout_id)
    db.session.commit()
    rng = random.Random(20261127)
    for pid in preloaded:  # all due now, in a shuffled order
        db.session.execute(update(Payout).where(Payout.id == pid).values(
            next_attempt_at=now - timedelta(seconds=rng.randrange(600))))
    db.session.commit()
    orders = [[make.order(shop, buyer, paid_fen=100_000).order_no for _ in range(PER_CREATOR)] for _ in range(CREATORS)]
    settle_lists = [rng.sample(preloaded, 20) for _ in range(SETTLERS)]

    def act(i):
        session = db.session
        if i < CREATORS:  # a merchant (one of four accounts) starts payouts
            actor = account(app, starters[i % len(starters)])
            for k, order_no in enumerate(orders[i]):
                svc.create_payout(session, actor, svc.PayoutIntent(order_no, 200 + k, "other", "", f"c{i}-{k}"), now)
            return "created"
        if i < CREATORS + CLAIMERS:  # a worker: claims two or three at a time, settles them in reverse
            moved = 0
            while claims := worker.claim_due(now, limit=2 + i % 2):
                for c in reversed(claims):
                    if c.payout_id % 3 == 0:
                        svc.settle_failed(session, c.payout_id, "rejected_by_channel", now)
                    elif c.payout_id % 3 == 1:
                        svc.settle_succeeded(session, c.payout_id, now, reference=f"r{c.payout_id}")
                    else:  # the call failed before it left: back to the queue (processing -> pending)
                        attempt = svc.begin_attempt(session, c, now, lease=timedelta(seconds=60),
                                                    ttl=timedelta(seconds=20))
                        if attempt is not None:
                            svc.attempt_failed(session, attempt, now, delivered=False)
                    moved += 1
            return moved
        for pid in settle_lists[i - CREATORS - CLAIMERS]:  # the reconciler settles from the channel's word
            if pid % 2:
                svc.settle_succeeded(session, pid, now, reference=f"s{pid}")
            else:
                svc.settle_failed(session, pid, "failed_at_channel", now)
        return "settled"

    results = race(app, CREATORS + CLAIMERS + SETTLERS, act)
    errors = [v for ok, v in results if not ok]
    assert errors == [], errors  # a deadlock would be a DeadlockDetected here

    db.session.commit()
    n = db.session.scalar(select(func.count()).select_from(Payout).where(Payout.shop_id == shop_id))
    assert n == PRELOADED + CREATORS * PER_CREATOR
    statuses = set(db.session.scalars(select(Payout.status).where(Payout.shop_id == shop_id)))
    assert {"succeeded", "failed", "pending"} <= statuses  # every path was taken
    grouped = dict(((d, a, s), (int(c), int(f))) for d, a, s, c, f in db.session.execute(
        select(Payout.shop_day, Payout.started_by_id, Payout.status, func.count(), func.sum(Payout.amount_fen))
        .where(Payout.shop_id == shop_id).group_by(Payout.shop_day, Payout.started_by_id, Payout.status)))
    rollups = {(r.day, r.started_by_id, r.status): (r.payout_count, r.amount_fen)
               for r in db.session.scalars(select(PayoutDayTotal).where(PayoutDayTotal.shop_id == shop_id))
               if r.payout_count}
    assert rollups == grouped
    for f in [RecordFilter()] + [RecordFilter(status=s) for s in statuses] + [RecordFilter(staff_id=a) for a in starters]:
        assert reports.totals(db.session, shop_id, f) == reports.direct_totals(db.session, shop_id, f), f
    assert_money_invariants(db, shop_id)
