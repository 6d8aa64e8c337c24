"""Payout processing: the payout table is the outbox (DESIGN.md; anchors Oban, GoodJob).

One step (`run_once`) does three things:
  1. claim due pending payouts (PostgreSQL: FOR UPDATE SKIP LOCKED, so any number of workers
     share the queue) and mark them processing with a lease, in a short transaction;
  2. outside any transaction, submit each to the channel with the payout id as idempotency key
     and record the answer (accepted: remember the reference and poll; rejected: failed, money
     released; transient error: back to pending with a backoff);
  3. poll accepted payouts and settle them; reconcile the stale ones: a payout whose worker
     died mid-way is settled by asking the channel about its id, and a payout the channel never
     accepted is failed (money released) once PAYOUT_GIVE_UP_MINUTES have passed, so every
     payout is final within 30 minutes.
A crash anywhere leaves either a pending payout (re-submitted with the same id: the channel
pays it at most once) or a processing one that the reconciler settles from the channel's record.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import and_, or_, select

from .channel import TransferState, TransientChannelError
from .db import write_transaction
from .domain.states import PayoutStatus
from .extensions import db
from .models import Payout
from .services import payouts as svc
from .services.rows import lock

log = logging.getLogger("afterdesk.worker")

GAVE_UP = "channel_did_not_accept_in_time"


def channel():
    return current_app.extensions["afterdesk.channel"]


def _cfg(name: str):
    return current_app.config[name]


def claim_due(now: datetime, limit: int = 20) -> list[int]:
    """Pending payouts that are due become processing, leased to this worker."""
    session = db.session
    with write_transaction(session):
        stmt = (
            select(Payout).where(Payout.status == PayoutStatus.PENDING, Payout.next_attempt_at <= now)
            .order_by(Payout.next_attempt_at, Payout.id).limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = session.scalars(stmt).all()
        for p in claimed:
            p.status = PayoutStatus.PROCESSING
            p.processing_at = p.processing_at or now
            p.attempts += 1
            p.lease_until = now + timedelta(seconds=_cfg("PAYOUT_CLAIM_LEASE_SECONDS"))
            p.next_attempt_at = None
            p.updated_at = now
        ids = [p.id for p in claimed]
    return ids


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60, 2 ** max(0, attempts - 1)))


def _back_to_queue(payout_id: int, now: datetime, *, delivered: bool = True) -> None:
    session = db.session
    with write_transaction(session):
        p = lock(session, Payout, Payout.id == payout_id)
        if p.status == PayoutStatus.PROCESSING and p.channel_ref is None:
            p.status = PayoutStatus.PENDING
            p.next_attempt_at = now + _backoff(p.attempts)
            p.lease_until = None
            p.updated_at = now
            if delivered:
                # Sticky: once any attempt may have reached the channel, giving up needs its word.
                p.maybe_at_channel = True


def _accepted(payout_id: int, reference: str | None, now: datetime) -> None:
    session = db.session
    with write_transaction(session):
        p = lock(session, Payout, Payout.id == payout_id)
        if p.status == PayoutStatus.PENDING:  # the channel is paying one we still had queued: adopt it
            p.status = PayoutStatus.PROCESSING
            p.processing_at = p.processing_at or now
            p.maybe_at_channel = True
        if p.status == PayoutStatus.PROCESSING:
            p.channel_ref = reference or f"accepted:{payout_id}"
            p.lease_until = None
            p.next_attempt_at = now + timedelta(seconds=_cfg("PAYOUT_POLL_SECONDS"))
            p.updated_at = now


def submit(payout_id: int, now: datetime) -> None:
    """Step 2 for one claimed payout."""
    session = db.session
    payout = session.get(Payout, payout_id, populate_existing=True)
    buyer = svc.buyer_ref(session, payout)
    amount = payout.amount_fen
    session.commit()  # no transaction stays open while we talk to the channel
    try:
        answer = channel().submit(payout_id, buyer, amount, now)
    except TransientChannelError as exc:
        log.info("payout %s: transient channel error (%s); back to the queue", payout_id, exc)
        _back_to_queue(payout_id, now, delivered=exc.delivered)
        return
    if answer.accepted:
        _accepted(payout_id, answer.reference, now)
    else:
        svc.settle_failed(session, payout_id, answer.reason or "rejected_by_channel", now, answer.reference)


def _apply_status(payout_id: int, now: datetime, *, gave_up: bool) -> None:
    """Ask the channel about one payout and act on its answer."""
    session = db.session
    p = session.get(Payout, payout_id, populate_existing=True)
    never_sent = p.status == PayoutStatus.PENDING and not p.maybe_at_channel
    # Giving up is only safe on exactly the state we looked at: if another worker claimed or
    # submitted it meanwhile, the channel may be paying it now (settle_failed checks under lock).
    observed = svc.observed_state(p)
    session.commit()
    if gave_up and never_sent:
        # Every attempt is known not to have reached the channel: failing it cannot lose money.
        svc.settle_failed(session, payout_id, GAVE_UP, now, only_if=observed)
        return
    try:
        status = channel().status(payout_id, now)
    except TransientChannelError:
        return  # ask again next round
    if status.state == TransferState.SUCCEEDED:
        svc.settle_succeeded(session, payout_id, now, status.reference)
    elif status.state == TransferState.FAILED:
        svc.settle_failed(session, payout_id, status.reason or "failed_at_channel", now, status.reference)
    elif status.state == TransferState.PROCESSING:
        _accepted(payout_id, status.reference, now)  # adopt what the channel knows; poll on
    elif gave_up:
        svc.settle_failed(session, payout_id, GAVE_UP, now, only_if=observed)
    else:
        # Unknown to the channel now, but a dead worker's request might still arrive: submit again
        # with the same id (the channel pays an id once), and never give up without asking.
        _back_to_queue(payout_id, now, delivered=True)


def poll(now: datetime, limit: int = 50) -> int:
    """Accepted payouts whose next check is due."""
    ids = db.session.scalars(
        select(Payout.id).where(Payout.status == PayoutStatus.PROCESSING, Payout.channel_ref.is_not(None),
                                Payout.next_attempt_at <= now).order_by(Payout.next_attempt_at).limit(limit)
    ).all()
    db.session.commit()
    for pid in ids:
        _apply_status(pid, now, gave_up=False)
    return len(ids)


def reconcile(now: datetime, limit: int = 50) -> int:
    """Stale payouts: processing with an expired lease and no channel answer recorded (a worker
    died), and pending ones past the give-up deadline (the channel was unreachable)."""
    deadline = now - timedelta(minutes=_cfg("PAYOUT_GIVE_UP_MINUTES"))
    rows = db.session.execute(
        select(Payout.id, Payout.created_at).where(or_(
            and_(Payout.status == PayoutStatus.PROCESSING, Payout.channel_ref.is_(None), Payout.lease_until < now),
            and_(Payout.status == PayoutStatus.PENDING, Payout.created_at <= deadline),
        )).order_by(Payout.id).limit(limit)
    ).all()
    db.session.commit()
    for pid, created_at in rows:
        _apply_status(pid, now, gave_up=created_at <= deadline)
    return len(rows)


def run_once(now: datetime) -> int:
    """One full step; returns how many payouts it touched."""
    ids = claim_due(now)
    for pid in ids:
        submit(pid, now)
    return len(ids) + poll(now) + reconcile(now)


def run_forever(app: Flask, stop: threading.Event) -> None:
    """The loop behind `flask worker` and the embedded worker thread."""
    from . import clock

    with app.app_context():
        interval = app.config["WORKER_INTERVAL_SECONDS"]
        while not stop.is_set():
            try:
                busy = run_once(clock.now())
            except Exception:  # a bad round must not kill the worker; the next one retries
                log.exception("worker round failed")
                db.session.rollback()
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
