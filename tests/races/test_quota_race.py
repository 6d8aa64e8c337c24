"""R7 under a race: a quota decrease lands while payouts of that sub-account race. Each payout
is checked against the quota in force when it held the account's day-counter lock, so usage
never passes the limit it was checked against, and nothing checked after the decrease passes
the new limit."""
import json
import threading

import pytest
from sqlalchemy import select

from tests.support import account, assert_money_invariants, both_backends, payout_world, race
from webapp.models import AccountDayUsage, AuditEvent
from webapp.services import payouts as psvc
from webapp.services import staff as ssvc

pytestmark = [both_backends, pytest.mark.race]


def test_r7_quota_decrease_racing_payouts(app, db, make, clock):
    w = payout_world(make, db, quota=(500, 10_000))
    orders = [make.order(w.shop, w.buyer, paid_fen=1_000).order_no for _ in range(20)]
    now, staff_id, main_id = clock.now(), w.staff.id, w.main.id
    lowered = threading.Event()

    def attempt(i):
        if i == 10:  # one racer is the main account lowering the daily limit to ¥30
            saved = ssvc.update_quota(db.session, account(app, main_id), staff_id, enabled=True, per_payout_fen=500,
                                      daily_fen=3_000, now=now)
            lowered.set()
            return ("quota", saved.used_today_fen)
        it = psvc.PayoutIntent(orders[i], 500, "shipping_fee", "", f"q{i}")
        return ("payout", psvc.create_payout(db.session, account(app, staff_id), it, now).payout.id)

    results = race(app, 20, attempt)
    assert lowered.is_set()
    for ok, value in results:
        assert ok or isinstance(value, psvc.PayoutRefused), repr(value)

    events = db.session.scalars(select(AuditEvent).where(AuditEvent.shop_id == w.shop.id,
                                                         AuditEvent.action.in_(["payout.create", "quota.update"]))
                                .order_by(AuditEvent.id)).all()
    # Every payout fit under the limit it was checked against, with the usage it saw.
    for e in events:
        if e.action == "payout.create":
            after = json.loads(e.after)
            assert after["account_used_before_fen"] + after["amount_fen"] <= after["quota_daily_fen"]
    decrease = next(e for e in events if e.action == "quota.update")
    used_at_decrease = json.loads(decrease.after)["used_today_fen"]
    later = [json.loads(e.after) for e in events if e.action == "payout.create" and e.id > decrease.id]
    for p in later:
        assert p["quota_daily_fen"] == 3_000
    later_total = sum(p["amount_fen"] for p in later)
    assert (later_total == 0) if used_at_decrease >= 3_000 else (used_at_decrease + later_total <= 3_000)
    used = db.session.scalar(select(AccountDayUsage.committed_fen).where(AccountDayUsage.account_id == staff_id))
    assert used == used_at_decrease + later_total <= max(3_000, used_at_decrease) <= 10_000
    assert_money_invariants(db, w.shop.id)
