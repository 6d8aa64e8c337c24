"""The slow-accept race (issue 9): a channel call outlasts the claim lease while the payout is
past the give-up deadline. Reproduced as the issue describes it, with the embedded simulated
channel on PostgreSQL: the channel's insert is made to wait on a table lock held by the test.

Worker 1 claims five payouts and blocks at the channel on the first; its lease runs out and the
payouts pass the give-up deadline; worker 2 reconciles; then the lock is released and the slow
request lands. Every payout must end paid once and recorded as succeeded, or failed with no
transfer at the channel; a worker that lost its claim submits nothing more.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests.support import (
    assert_money_invariants, assert_money_where_status_says, channel, fresh, new_payout, payout_world,
)
from webapp import worker

pytestmark = pytest.mark.parametrize("db_url", [pytest.param("pg", marks=pytest.mark.pg)], indirect=True)


@pytest.fixture
def app_config():
    return {"PAYOUT_GIVE_UP_MINUTES": 2}  # shortened deadline, as in the reproduction


def _wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    """Wait for a condition another thread brings about (bounded; never a blind sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_r6_slow_accept_racing_the_give_up_pays_once_or_fails_unpaid(app, db, make, clock, db_url):
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    orders = [s.order] + [make.order(s.shop, s.buyer, paid_fen=10_000) for _ in range(4)]
    pids = [new_payout(db, s.main, o, clock) for o in orders]

    locker = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with locker.connect() as conn:
        tx = conn.begin()
        conn.execute(text("LOCK TABLE sim_channel_transfer IN SHARE MODE"))  # the channel's insert waits

        started = clock.now()
        errors: list[BaseException] = []

        def worker_1():
            with app.app_context():
                try:
                    worker.run_once(started)  # claims all five, blocks in submit on the first
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                finally:
                    db.session.remove()

        w1 = threading.Thread(target=worker_1)
        w1.start()
        _wait_for(lambda: conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )).scalar() > 0, "worker 1 to block at the channel")

        # The lease runs out and the payouts pass the give-up deadline while worker 1 is stuck.
        clock.advance(minutes=app.config["PAYOUT_GIVE_UP_MINUTES"] + 1)
        worker.run_once(clock.now())  # worker 2
        db.session.remove()
        tx.commit()  # the slow request lands now
    w1.join(timeout=60)
    locker.dispose()
    assert not w1.is_alive() and not errors, errors

    for _ in range(50):  # healthy rounds until every payout is final
        clock.advance(seconds=5)
        worker.run_once(clock.now())
        if all(fresh(db, pid).status in ("succeeded", "failed") for pid in pids):
            break
    for pid in pids:
        p = fresh(db, pid)
        assert p.status in ("succeeded", "failed"), (pid, p.status)
        assert_money_where_status_says(app, db, pid)  # failed => no transfer at the channel; paid once
    assert_money_invariants(db, s.shop_id)
    paid = sum(t["amount_fen"] for t in channel(app).transfers() if t["state"] != "failed")
    assert paid == sum(fresh(db, pid).amount_fen for pid in pids if fresh(db, pid).status == "succeeded")
