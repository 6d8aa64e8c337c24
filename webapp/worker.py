"""Payout processing: the payout table is the outbox (DESIGN.md; anchors Oban, GoodJob).

One step (`run_once`) does three things:
  1. claim due pending payouts (PostgreSQL: FOR UPDATE SKIP LOCKED, so any number of workers
     share the queue): each claim carries a token (the attempt number);
  2. for each claim, outside any transaction: pass the fence (the claim is still ours; the
     payout is marked as possibly at the channel until the request's deadline), then submit
     with the payout id as idempotency key and that deadline, within a timeout well below the
     lease, and record the answer;
  3. poll accepted payouts, and reconcile stale ones from the channel's word: a dead worker's
     claim is requeued, and a payout past the give-up deadline is failed (money released) only
     when no request for it can still reach the channel (services.payouts.give_up);
and settles the top-ups a request left pending (the channel did not answer), on the channel's word.
The worker orchestrates; every status change is made by services.payouts (one function, the
transition table). A crash anywhere leaves a state the next round heals.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import and_, or_, select

from . import metrics
from .db import write_transaction
from .channel import TransferState, TransientChannelError
from .extensions import db
from .models import Payout, WorkerHeartbeat
from .services import payouts as svc
from .domain.states import PayoutStatus
from .services.payouts import GAVE_UP, Claim  # noqa: F401  (GAVE_UP: the failure reason shown)
from .services.rows import ensure_row, lock

log = logging.getLogger("afterdesk.worker")


def channel():
    return current_app.extensions["afterdesk.channel"]


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=current_app.config[name])


def _give_up_before(now: datetime) -> datetime:
    return now - timedelta(minutes=current_app.config["PAYOUT_GIVE_UP_MINUTES"])


def claim_due(now: datetime, limit: int = 20) -> list[Claim]:
    return svc.claim_due(db.session, now, lease=_seconds("PAYOUT_CLAIM_LEASE_SECONDS"),
                         give_up_before=_give_up_before(now), limit=limit)


def _accepted(payout_id: int, reference: str | None, now: datetime) -> None:
    svc.record_accepted(db.session, payout_id, reference, now, poll_in=_seconds("PAYOUT_POLL_SECONDS"))


def submit(claim: Claim, now: datetime) -> bool:
    """Step 2 for one claim. False if the claim was lost (nothing was sent)."""
    session = db.session
    attempt = svc.begin_attempt(session, claim, now, lease=_seconds("PAYOUT_CLAIM_LEASE_SECONDS"),
                                ttl=_seconds("CHANNEL_REQUEST_TTL_SECONDS"))
    session.commit()  # no transaction stays open while we talk to the channel
    if attempt is None:
        log.info("payout %s: claim %s lost before the channel call; not sent", claim.payout_id, claim.token)
        return False
    try:
        with metrics.channel_call("submit"):
            answer = channel().submit(attempt.payout_id, attempt.buyer_ref, attempt.amount_fen, now, attempt.not_after)
    except TransientChannelError as exc:
        log.info("payout %s: transient channel error (%s); back to the queue", claim.payout_id, exc)
        svc.attempt_failed(session, attempt, now, delivered=exc.delivered)
        return True
    if answer.accepted:
        _accepted(claim.payout_id, answer.reference, now)
    else:
        svc.settle_failed(session, claim.payout_id, answer.reason or "rejected_by_channel", now, answer.reference)
    return True


def _apply_status(payout_id: int, now: datetime, *, past_deadline: bool) -> None:
    """Ask the channel about one payout and act on its answer."""
    session = db.session
    p = session.get(Payout, payout_id, populate_existing=True)
    assert p is not None  # an id the worker read from the payout table; payouts are never deleted
    observed = svc.observed_state(p)
    never_sent = p.channel_not_after is None
    session.commit()
    if past_deadline and never_sent:
        # No request for it ever left: failing it cannot lose money (re-checked under lock).
        svc.give_up(session, payout_id, now, only_if=observed, unknown_asked_at=None)
        return
    asked_at = now  # the question is asked no earlier than this instant
    try:
        with metrics.channel_call("status"):
            status = channel().status(payout_id, now)
    except TransientChannelError:
        return  # ask again next round; a payout in doubt waits for the channel's word
    if status.state == TransferState.SUCCEEDED:
        svc.settle_succeeded(session, payout_id, now, status.reference)
    elif status.state == TransferState.FAILED:
        svc.settle_failed(session, payout_id, status.reason or "failed_at_channel", now, status.reference)
    elif status.state == TransferState.PROCESSING:
        _accepted(payout_id, status.reference, now)  # adopt what the channel knows; poll on
    elif past_deadline:
        svc.give_up(session, payout_id, now, only_if=observed, unknown_asked_at=asked_at,
                    skew=_seconds("CHANNEL_CLOCK_SKEW_SECONDS"))
    else:
        # Unknown to the channel now, but a dead worker's request might still arrive: submit again
        # with the same id (the channel pays an id once), and never give up without asking.
        svc.requeue(session, payout_id, now, only_if=observed)


def poll(now: datetime, limit: int = 50) -> int:
    """Accepted payouts whose next check is due."""
    ids = db.session.scalars(
        select(Payout.id).where(Payout.status == PayoutStatus.PROCESSING, Payout.channel_ref.is_not(None),
                                Payout.next_attempt_at <= now).order_by(Payout.next_attempt_at).limit(limit)
    ).all()
    db.session.commit()
    for pid in ids:
        _apply_status(pid, now, past_deadline=False)
    return len(ids)


def reconcile(now: datetime, limit: int = 50) -> int:
    """Stale payouts: processing with an expired lease and no channel answer recorded (a worker
    died or stalled), and pending ones past the give-up deadline (never sent again)."""
    deadline = _give_up_before(now)
    queued_at = svc.queued_at()
    rows = db.session.execute(
        select(Payout.id, queued_at <= deadline).where(or_(
            and_(Payout.status == PayoutStatus.PROCESSING, Payout.channel_ref.is_(None), Payout.lease_until < now),
            and_(Payout.status == PayoutStatus.PENDING, queued_at <= deadline),
        )).order_by(Payout.id).limit(limit)
    ).all()
    db.session.commit()
    for pid, past_deadline in rows:
        _apply_status(pid, now, past_deadline=bool(past_deadline))
    return len(rows)


def run_once(now: datetime, stop: threading.Event | None = None) -> int:
    """One full step; returns how many payouts it touched."""
    claims = claim_due(now)
    for claim in claims:
        if stop is not None and stop.is_set():
            break  # the rest wait for their lease to run out, then the reconciler requeues them
        submit(claim, now)
    return len(claims) + poll(now) + reconcile(now) + svc.expire_approvals(db.session, now) + settle_topups(now)


def settle_topups(now: datetime) -> int:
    """Top-ups the channel did not answer in time (services/funds.py): ask it, and credit or fail
    them on its word; how many were settled."""
    from .services import funds

    return funds.reconcile(db.session, now, channel=channel(), skew=_seconds("CHANNEL_CLOCK_SKEW_SECONDS"))


WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def heartbeat(now: datetime, name: str | None = None) -> None:
    """Tell /readyz this worker is alive (one row per worker, upserted every round)."""
    name = f"{name or WORKER_NAME}:{threading.get_ident()}"
    with write_transaction(db.session):
        if not ensure_row(db.session, WorkerHeartbeat, name=name, beat_at=now):
            lock(db.session, WorkerHeartbeat, WorkerHeartbeat.name == name).beat_at = now


def run_forever(app: Flask, stop: threading.Event) -> None:
    """The loop behind `flask worker` and the embedded worker thread."""
    from . import clock

    with app.app_context():
        interval = app.config["WORKER_INTERVAL_SECONDS"]
        while not stop.is_set():
            try:
                heartbeat(clock.now())
                busy = run_once(clock.now(), stop)
            except Exception:  # a bad round must not kill the worker; the next one retries
                log.exception("worker round failed")
                busy = 0
            finally:
                db.session.remove()
            if not busy:
                stop.wait(interval)


_thread_lock = threading.Lock()


def start_thread(app: Flask) -> threading.Event:
    """The embedded default: one worker thread inside the serving process. Returns its stop event."""
    with _thread_lock:
        running = app.extensions.get("afterdesk.worker")
        if running is not None:
            return running[1]
        stop = threading.Event()
        t = threading.Thread(target=run_forever, args=(app, stop), name="afterdesk-worker", daemon=True)
        app.extensions["afterdesk.worker"] = (t, stop)
        t.start()
        return stop
