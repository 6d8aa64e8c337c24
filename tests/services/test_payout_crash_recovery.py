"""Crash injection for the payout worker (R6), on SQLite and PostgreSQL.

A worker dies (an exception, or a real process killed with os._exit) after claiming a payout,
after the channel accepted or rejected it but before the worker recorded the answer, and after
the answer was recorded. Then the reconciler and a fresh worker run, and each payout must be
paid exactly once (one channel transfer for its id) with its money where its status says:
held while pending/processing, paid out when succeeded, back in the available balance when
failed, and the day counters and the in-site message agreeing with the status.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support import (
    assert_money_invariants, assert_money_where_status_says, both_backends, channel, fresh, lease, new_payout,
    payout_world, run_until_final, shop_messages_of, transfers_of,
)
from webapp import worker
from webapp.channel import TransferState, TransientChannelError
from webapp.db import write_transaction
from webapp.models import AccountDayUsage, FundsAccount, InSiteMessage, Payout, ShopDayUsage
from webapp.services import payouts as svc

pytestmark = both_backends

ROOT = Path(__file__).resolve().parents[2]
TOPUP_FEN = 100_000  # ¥1,000
AMOUNT_FEN = 1_234  # ¥12.34


class WorkerDied(BaseException):
    """Stands for the worker process dying at this point: nothing after it runs, and (as for a
    killed process, whose connection the database closes) an open transaction is rolled back.
    A BaseException, so no `except Exception` in the code under test can swallow it."""


# The set-up, the worker and channel helpers and the money checks are the shared ones in
# tests/support.py (payout_world, new_payout, fresh, run_until_final, assert_money_invariants, ...).

def crash_world(make, db, **kw):
    """The shop of these tests: ¥1,000 of funds, a ¥100 order, a staff account without quota."""
    return payout_world(make, db, funds_fen=TOPUP_FEN, quota=kw.pop("quota", None), **kw)


def create(db, actor, order, clock):
    return new_payout(db, actor, order, clock, AMOUNT_FEN)


def assert_paid_exactly_once(app, db, pid, shop_id, amount=AMOUNT_FEN):
    p = fresh(db, pid)
    assert p.status == "succeeded", (p.status, p.failure_reason)
    transfers = transfers_of(app, pid)
    assert len(transfers) == 1 and transfers[0]["amount_fen"] == amount
    assert channel(app).status(pid, p.succeeded_at).state == TransferState.SUCCEEDED
    funds = db.session.get(FundsAccount, shop_id, populate_existing=True)
    assert (funds.available_fen, funds.held_fen, funds.paid_out_fen) == (TOPUP_FEN - amount, 0, amount)
    assert_money_where_status_says(app, db, pid)
    assert_money_invariants(db, shop_id)


# --- (a) death right after claiming --------------------------------------------------------------

def test_r6_worker_dies_right_after_claiming_then_the_reconciler_requeues_and_pays_once(app, db, make, clock, monkeypatch):
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    ch = channel(app)

    def die(payout_id, now):
        raise WorkerDied(f"killed after claiming {payout_id}")

    monkeypatch.setattr(worker, "submit", die)
    with pytest.raises(WorkerDied):
        worker.run_once(clock.now())  # claims (committed), then dies before talking to the channel
    monkeypatch.undo()
    claimed_at = clock.now()

    p = fresh(db, pid)
    assert p.status == "processing" and p.channel_ref is None and p.attempts == 1
    assert p.lease_until == claimed_at + lease(app)
    assert transfers_of(app, pid) == [] and ch.submit_calls == 0
    assert_money_where_status_says(app, db, pid)
    assert_money_invariants(db, s.shop_id)

    # While the lease runs nobody else touches it: it is neither re-claimed nor reconciled.
    clock.advance(seconds=app.config["PAYOUT_CLAIM_LEASE_SECONDS"] - 1)
    assert worker.claim_due(clock.now()) == []
    assert worker.reconcile(clock.now()) == 0
    assert fresh(db, pid).attempts == 1 and ch.submit_calls == 0

    clock.set(claimed_at + lease(app) + timedelta(seconds=1))
    assert worker.reconcile(clock.now()) == 1  # the channel never heard of it: back to the queue
    p = fresh(db, pid)
    assert p.status == "pending" and p.lease_until is None and p.next_attempt_at > clock.now()

    p = run_until_final(db, clock, pid)
    assert ch.submit_calls == 1
    assert p.succeeded_at - p.created_at < timedelta(minutes=30)
    assert_paid_exactly_once(app, db, pid, s.shop_id)


# --- (b) death after the channel accepted, before the worker recorded it --------------------------

@pytest.mark.parametrize("settle_seconds", [3, 600], ids=["channel-already-paid", "channel-still-paying"])
def test_r6_worker_dies_after_channel_accepted_before_commit(app, db, make, clock, monkeypatch, settle_seconds):
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    ch = channel(app)
    ch.settle_seconds = settle_seconds

    def accepted_then_die(payout_id, reference, now):
        # The worker starts recording the answer and dies before its commit: rolled back.
        with write_transaction(db.session):
            p = db.session.get(Payout, payout_id)
            p.channel_ref = reference
            db.session.flush()
            raise WorkerDied("killed before commit")

    monkeypatch.setattr(worker, "_accepted", accepted_then_die)
    claims = worker.claim_due(clock.now())
    assert claims == [worker.Claim(pid, 1)]
    with pytest.raises(WorkerDied):
        worker.submit(claims[0], clock.now())
    monkeypatch.undo()

    p = fresh(db, pid)
    assert p.status == "processing" and p.channel_ref is None  # the answer was lost with the worker
    assert len(transfers_of(app, pid)) == 1 and ch.submit_calls == 1  # but the channel has it
    assert_money_where_status_says(app, db, pid)

    clock.advance(seconds=app.config["PAYOUT_CLAIM_LEASE_SECONDS"] + 1)
    assert worker.reconcile(clock.now()) == 1
    p = fresh(db, pid)
    if settle_seconds == 3:  # the channel has paid by now: settled from its record at once
        assert p.status == "succeeded" and p.channel_ref == f"SIM{pid:010d}"
    else:  # the channel is still paying: the reconciler adopts its reference and polls on
        assert p.status == "processing" and p.channel_ref == f"SIM{pid:010d}"
        assert worker.reconcile(clock.now()) == 0  # no longer stale
        p = run_until_final(db, clock, pid, step_seconds=30)
    assert ch.submit_calls == 1  # never submitted twice
    assert_paid_exactly_once(app, db, pid, s.shop_id)
    worker.run_once(clock.now() + timedelta(hours=1))  # later rounds change nothing
    assert ch.submit_calls == 1
    assert_paid_exactly_once(app, db, pid, s.shop_id)


def test_r6_channel_accepted_but_its_answer_was_lost_in_transit(app, db, make, clock, monkeypatch):
    """A timeout after the channel recorded the transfer: the worker cannot know it was
    accepted, so it queues the payout again; re-submitting the same id pays nothing twice."""
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    ch = channel(app)
    real_submit = ch.submit

    def submit_then_time_out(*args):
        real_submit(*args)
        raise TransientChannelError("read timeout")  # delivered (the default): it may have reached the channel

    monkeypatch.setattr(ch, "submit", submit_then_time_out)
    worker.run_once(clock.now())
    monkeypatch.undo()
    p = fresh(db, pid)
    assert p.status == "pending" and p.channel_ref is None and len(transfers_of(app, pid)) == 1

    p = run_until_final(db, clock, pid)
    assert ch.submit_calls == 2  # asked twice, paid once
    assert_paid_exactly_once(app, db, pid, s.shop_id)


# --- (c) death after the answer was committed, before polling -------------------------------------

def test_r6_worker_dies_after_recording_acceptance_a_fresh_worker_settles_it(app, db, make, clock):
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    ch = channel(app)
    claims = worker.claim_due(clock.now())
    assert claims == [worker.Claim(pid, 1)]
    worker.submit(claims[0], clock.now())
    p = fresh(db, pid)
    assert p.status == "processing" and p.channel_ref == f"SIM{pid:010d}" and p.lease_until is None
    db.session.remove()  # the worker is gone; whatever it held in memory with it

    # Hours later a fresh worker starts. The reconciler leaves accepted payouts to polling.
    clock.advance(hours=3)
    assert worker.reconcile(clock.now()) == 0
    assert worker.claim_due(clock.now()) == []
    assert worker.poll(clock.now()) == 1
    assert ch.submit_calls == 1
    assert_paid_exactly_once(app, db, pid, s.shop_id)
    assert worker.run_once(clock.now()) == 0


# --- (d) a real process, killed hard --------------------------------------------------------------

CHILD = textwrap.dedent("""
    import os, sys
    from datetime import datetime

    from webapp import create_app, worker
    from webapp.clock import FixedClock
    from webapp.config import TestConfig
    from webapp.extensions import db

    url, at, point, pid = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    app = create_app(TestConfig(url), clock=FixedClock(at))

    def die(where):
        print("DYING " + where, flush=True)
        os._exit(1)  # no cleanup, no rollback, no commit: the OS closes the connections

    def die_at_commit(fn, where):
        # Run the real function; its commit is replaced by a flush and the death of the process,
        # so the transaction is open (rows written and locked) when the process goes.
        def wrapper(*args, **kwargs):
            session = db.session()
            def dying_commit():
                dirty = len(session.dirty) + len(session.new)
                session.flush()  # the rows are written (and locked) inside the open transaction
                die(where + " dirty=" + str(dirty))
            session.commit = dying_commit
            return fn(*args, **kwargs)
        return wrapper

    with app.app_context():
        channel = app.extensions["afterdesk.channel"]
        if point == "inside-claim-transaction":
            worker.claim_due = die_at_commit(worker.claim_due, point)
        elif point == "after-channel-submit":
            real_submit = channel.submit
            def submit(*args):
                answer = real_submit(*args)
                die(point + " accepted=" + str(answer.accepted))
            channel.submit = submit
        elif point == "inside-accept-transaction":
            worker._accepted = die_at_commit(worker._accepted, point)
        elif point == "after-accept-commit":
            real_accepted = worker._accepted
            def accepted(*args):
                real_accepted(*args)
                die(point)
            worker._accepted = accepted
        claims = worker.claim_due(at)
        assert [c.payout_id for c in claims] == [pid], claims
        if point == "after-claim-commit":
            die(point)
        worker.submit(claims[0], at)
    print("SURVIVED", flush=True)
    sys.exit(0)
""")

KILL_POINTS = {
    # point: (status, channel_ref recorded?, channel transfer exists?) right after the death
    "inside-claim-transaction": ("pending", False, False),
    "after-claim-commit": ("processing", False, False),
    "after-channel-submit": ("processing", False, True),
    "inside-accept-transaction": ("processing", False, True),
    "after-accept-commit": ("processing", True, True),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_r6_killed_worker_process_is_healed_by_the_reconciler(app, db, make, clock, db_url, point):
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    db.session.commit()
    db.session.close()  # the parent holds no snapshot or lock while the child works
    started = clock.now()

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, db_url, started.isoformat(), point, str(pid)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1 and f"DYING {point}" in proc.stdout, (proc.returncode, proc.stdout, proc.stderr[-3000:])
    if point == "after-channel-submit":
        assert "accepted=True" in proc.stdout
    if point.startswith("inside-"):
        assert "dirty=0" not in proc.stdout  # it died with real changes flushed, not before making them

    status, ref_recorded, at_channel = KILL_POINTS[point]
    p = fresh(db, pid)
    assert p.status == status
    assert (p.channel_ref is not None) == ref_recorded
    assert len(transfers_of(app, pid)) == (1 if at_channel else 0)
    assert_money_where_status_says(app, db, pid)
    assert_money_invariants(db, s.shop_id)

    # The parent is the fresh worker: after the dead worker's lease, reconcile, then normal rounds.
    clock.set(started + lease(app) + timedelta(seconds=1))
    worker.reconcile(clock.now())
    p = run_until_final(db, clock, pid)
    assert p.succeeded_at - p.created_at < timedelta(minutes=30)
    assert channel(app).submit_calls == (0 if at_channel else 1)  # the parent submits only what the channel lacks
    assert_paid_exactly_once(app, db, pid, s.shop_id)


# --- (e) a rejected payout whose worker died before recording the rejection -----------------------

def test_r6_worker_dies_after_channel_rejected_reconciler_fails_it_once(app, db, make, clock, monkeypatch):
    s = crash_world(make, db, buyer_login="frozen-buyer", quota=(5_000, 20_000))
    pid = create(db, s.staff, s.order, clock)
    ch = channel(app)
    real_submit = ch.submit
    answers = []

    def submit_then_die(*args):
        answers.append(real_submit(*args))
        raise WorkerDied("killed before recording the channel's answer")

    monkeypatch.setattr(ch, "submit", submit_then_die)
    with pytest.raises(WorkerDied):
        worker.run_once(clock.now())
    monkeypatch.undo()
    assert [a.accepted for a in answers] == [False] and answers[0].reason == "buyer_wallet_frozen"

    p = fresh(db, pid)
    day = p.shop_day
    assert p.status == "processing" and p.failure_reason is None
    assert db.session.get(ShopDayUsage, (s.shop_id, day), populate_existing=True).committed_fen == AMOUNT_FEN
    assert db.session.get(AccountDayUsage, (s.staff.id, day), populate_existing=True).committed_fen == AMOUNT_FEN
    assert shop_messages_of(db, pid) == 0

    clock.advance(seconds=app.config["PAYOUT_CLAIM_LEASE_SECONDS"] + 1)
    assert worker.reconcile(clock.now()) == 1
    p = fresh(db, pid)
    assert p.status == "failed" and p.failure_reason == "buyer_wallet_frozen" and p.failed_at == clock.now()
    funds = db.session.get(FundsAccount, s.shop_id, populate_existing=True)
    assert (funds.available_fen, funds.held_fen, funds.paid_out_fen) == (TOPUP_FEN, 0, 0)
    assert db.session.get(ShopDayUsage, (s.shop_id, day), populate_existing=True).committed_fen == 0
    assert db.session.get(AccountDayUsage, (s.staff.id, day), populate_existing=True).committed_fen == 0

    # Settling it again (a second reconciler, a late worker) changes nothing: one message, one release.
    assert svc.settle_failed(db.session, pid, "buyer_wallet_frozen", clock.now()) is False
    assert svc.settle_failed(db.session, pid, "other", clock.now() + timedelta(minutes=1)) is False
    assert svc.settle_succeeded(db.session, pid, clock.now()) is False
    worker.run_once(clock.now() + timedelta(hours=1))
    assert shop_messages_of(db, pid) == 1
    msg = db.session.scalars(select(InSiteMessage).where(InSiteMessage.payout_id == pid, InSiteMessage.shop_id.is_not(None))).one()
    assert msg.shop_id == s.shop_id and msg.kind == "payout_failed"
    assert ch.submit_calls == 1 and len(transfers_of(app, pid)) == 1
    assert fresh(db, pid).failure_reason == "buyer_wallet_frozen"
    assert_money_where_status_says(app, db, pid)
    assert_money_invariants(db, s.shop_id)
    assert db.session.get(AccountDayUsage, (s.staff.id, day), populate_existing=True).committed_fen == 0


# --- (f) channel outage ---------------------------------------------------------------------------

def test_r6_channel_outage_backs_off_then_gives_up_within_30_minutes(app, db, make, clock):
    s = crash_world(make, db)
    other_order = make.order(s.shop, s.buyer, paid_fen=10_000)
    ch = channel(app)
    ch.outage = True
    give_up = timedelta(minutes=app.config["PAYOUT_GIVE_UP_MINUTES"])
    first = create(db, s.main, s.order, clock)
    created = {first: clock.now()}
    clock.advance(minutes=5)
    second = create(db, s.main, other_order, clock)
    created[second] = clock.now()

    final_at = {}
    attempts_seen = {first: 0, second: 0}
    while len(final_at) < 2:
        now = clock.now()
        assert now - created[first] <= timedelta(minutes=31), "R6: not final within 30 minutes"
        worker.run_once(now)
        for pid in (first, second):
            p = fresh(db, pid)
            if pid in final_at:
                continue
            if p.status == "failed":
                final_at[pid] = now
                continue
            assert p.status == "pending" and now - created[pid] < give_up + timedelta(seconds=20)
            assert p.attempts >= attempts_seen[pid]  # it keeps trying ...
            attempts_seen[pid] = p.attempts
            assert now < p.next_attempt_at <= now + timedelta(seconds=60)  # ... with a backoff of at most a minute
            assert shop_messages_of(db, pid) == 0
        clock.advance(seconds=20)

    for pid in (first, second):
        p = fresh(db, pid)
        assert p.failure_reason == worker.GAVE_UP
        assert give_up <= final_at[pid] - created[pid] <= timedelta(minutes=30)
        assert attempts_seen[pid] > 5  # it really retried during the outage
        assert shop_messages_of(db, pid) == 1
    funds = db.session.get(FundsAccount, s.shop_id, populate_existing=True)
    assert (funds.available_fen, funds.held_fen, funds.paid_out_fen) == (TOPUP_FEN, 0, 0)
    assert ch.transfers() == []

    # The channel comes back: nothing given up is ever paid, nothing is messaged again.
    ch.outage = False
    for _ in range(5):
        worker.run_once(clock.advance(seconds=30))
    assert ch.transfers() == [] and ch.submit_calls == 0
    for pid in (first, second):
        assert fresh(db, pid).status == "failed" and shop_messages_of(db, pid) == 1
        assert_money_where_status_says(app, db, pid)
    assert_money_invariants(db, s.shop_id)


# --- interleavings of two workers and a slow channel ---------------------------------------------

def test_r6_one_worker_gives_up_while_a_stalled_worker_submits_the_same_payout(app, db, make, clock, monkeypatch):
    """A first attempt timed out (the payout may be at the channel). Worker B claimed it again just
    before the give-up deadline and stalled past its lease. Worker A reconciles it: it asks the
    channel (unknown) while B wakes up, passes the fence (the claim is still B's) and submits, and
    the channel accepts. A's give-up must not fail a payout that B just got accepted: the buyer
    would be paid and the shop's hold released."""
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    created = clock.now()
    ch = channel(app)
    real_submit, real_status = ch.submit, ch.status
    deadline = created + timedelta(minutes=app.config["PAYOUT_GIVE_UP_MINUTES"])

    def timeout(*args):
        raise TransientChannelError("read timeout")  # may have been delivered: nothing is known

    monkeypatch.setattr(ch, "submit", timeout)
    worker.run_once(clock.now())
    monkeypatch.setattr(ch, "submit", real_submit)
    p = fresh(db, pid)
    assert p.status == "pending" and p.maybe_at_channel and p.channel_not_after is not None

    clock.set(deadline - timedelta(seconds=1))
    claims = worker.claim_due(clock.now())  # worker B claims, then stalls before the channel call
    assert claims == [worker.Claim(pid, 2)]
    clock.set(deadline + lease(app) + timedelta(seconds=1))  # B's lease has run out
    worker_b_ran = []

    def status_while_worker_b_runs(payout_id, now):
        answer = real_status(payout_id, now)  # worker A learns: unknown to the channel
        if not worker_b_ran:
            worker_b_ran.append(worker.submit(claims[0], now))  # meanwhile B passes the fence and submits
        return answer

    monkeypatch.setattr(ch, "status", status_while_worker_b_runs)
    worker.reconcile(clock.now())  # worker A
    monkeypatch.undo()
    assert worker_b_ran == [True] and len(transfers_of(app, pid)) == 1
    assert fresh(db, pid).status == "processing"  # A's give-up was refused under the row lock

    for _ in range(10):  # both workers carry on
        worker.run_once(clock.advance(seconds=2))
    assert_money_where_status_says(app, db, pid)
    assert_paid_exactly_once(app, db, pid, s.shop_id)


def test_r6_a_worker_that_lost_its_claim_sends_nothing(app, db, make, clock):
    """Worker B's claim ran out and the reconciler put the payout back in the queue; worker C
    claimed it again. B wakes up: the fence stops it (its token is stale), and only C's request
    reaches the channel."""
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    ch = channel(app)
    stale = worker.claim_due(clock.now())
    clock.advance(seconds=app.config["PAYOUT_CLAIM_LEASE_SECONDS"] + 1)
    assert worker.reconcile(clock.now()) == 1 and fresh(db, pid).status == "pending"  # requeued
    clock.advance(seconds=5)
    fresh_claims = worker.claim_due(clock.now())
    assert fresh_claims == [worker.Claim(pid, 2)]
    assert worker.submit(stale[0], clock.now()) is False and ch.submit_calls == 0
    assert worker.submit(fresh_claims[0], clock.now()) is True and ch.submit_calls == 1
    run_until_final(db, clock, pid)
    assert_paid_exactly_once(app, db, pid, s.shop_id)


def test_r6_channel_paid_a_payout_whose_answers_kept_timing_out(app, db, make, clock, monkeypatch):
    """The first submit reached the channel, which paid the buyer; every answer after that timed
    out until the give-up deadline. The reconciler asks the channel, learns it succeeded, and
    must record that (not crash, not release the money)."""
    s = crash_world(make, db)
    pid = create(db, s.main, s.order, clock)
    created = clock.now()
    ch = channel(app)
    real_submit = ch.submit

    def submit_then_time_out(*args):
        real_submit(*args)
        raise TransientChannelError("read timeout")

    monkeypatch.setattr(ch, "submit", submit_then_time_out)
    errors = []
    final = None
    while clock.now() - created <= timedelta(minutes=30):
        try:
            worker.run_once(clock.now())
        except Exception as exc:  # noqa: BLE001 - record, as run_forever would log it
            db.session.rollback()
            errors.append(repr(exc))
        p = fresh(db, pid)
        if p.status in ("succeeded", "failed"):
            final = p
            break
        clock.advance(seconds=30)
    monkeypatch.undo()
    assert errors == [], f"worker rounds crashed: {errors[:1]}"
    assert final is not None, f"R6: still {fresh(db, pid).status} 30 minutes after creation"
    assert len(transfers_of(app, pid)) == 1
    assert_paid_exactly_once(app, db, pid, s.shop_id)
