"""Fault injection (issue 9): the app's worker against the channel simulator running as a real
subprocess over HTTP (`python -m channelsim`), with the app's notification endpoint served on a
real socket, on SQLite and PostgreSQL. Faults are switched on purpose through the simulator's
control API (hold a request, drop an answer, kill the process, ...); nothing sleeps and hopes.

After every scenario (check_books): each payout is final or legitimately in doubt, each payout id
is paid at most once at the channel, a failed payout has no paying transfer, the channel's paid
total equals the app's paid-out total, and the ledger legs equal the cached balances.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tests.channelsim_proc import ChannelSim, wait_until
from tests.support import assert_money_invariants, both_backends, fresh, new_payout, payout_world
from webapp import worker
from webapp.channel import protocol
from webapp.clock import FixedClock
from webapp.models import ChannelEvent, Payout

pytestmark = both_backends

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-suite-secret"
GIVE_UP_MINUTES = 2  # shortened give-up deadline, as in the reproduction


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sim(tmp_path):
    with ChannelSim(tmp_path, secret=SECRET) as sim:
        yield sim


@pytest.fixture
def clock(sim):
    """One virtual time for the app and the channel (requests are signed and expire on it)."""
    start = datetime.fromtimestamp(int(time.time()), tz=timezone.utc)
    sim.clock(now=start.timestamp())
    return FixedClock(start)


@pytest.fixture
def notify_port():
    return _free_port()


@pytest.fixture
def app_config(sim, notify_port):
    return {
        "CHANNEL_URL": sim.url, "CHANNEL_SECRET": SECRET,
        "CHANNEL_NOTIFY_URL": f"http://127.0.0.1:{notify_port}/channel/notify",
        "CHANNEL_CONNECT_TIMEOUT": 1.0, "CHANNEL_READ_TIMEOUT": 1.0, "CHANNEL_REQUEST_TTL_SECONDS": 10,
        "PAYOUT_GIVE_UP_MINUTES": GIVE_UP_MINUTES,
    }


@pytest.fixture
def live(app, notify_port):
    """The app served on a real socket, so the simulator's callbacks reach it."""
    server = make_server("127.0.0.1", notify_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{notify_port}"
    server.shutdown()
    thread.join(timeout=10)


def settled_at_channel(sim, n: int) -> dict:
    """Wait until n held submits have been decided at the channel (recorded or refused as late)."""
    def done():
        c = sim.transfers()["counters"]
        return c["recorded"] + c["expired_refusals"] >= n and c
    return wait_until(done, timeout=10, what=f"{n} held requests to be decided at the channel")


def advance(clock, sim, seconds: float) -> datetime:
    """Move the app's and the channel's clocks together."""
    sim.clock(advance=seconds)
    return clock.advance(seconds=seconds)


def rounds(clock, sim, pids, *, step=5, max_rounds=60) -> None:
    """Healthy worker rounds, the channel settling and notifying between them, until all final."""
    for _ in range(max_rounds):
        worker.run_once(clock.now())
        sim.tick()
        if all(fresh_status(pid) in ("succeeded", "failed") for pid in pids):
            return
        advance(clock, sim, step)


def fresh_status(pid) -> str:
    from webapp.extensions import db

    return fresh(db, pid).status


def check_books(db, sim, shop_id, pids) -> dict[int, str]:
    """The invariants of the suite; returns each payout's status."""
    books = sim.transfers()
    by_payout: dict[int, list[dict]] = {}
    for t in books["transfers"]:
        by_payout.setdefault(int(t["payout_id"]), []).append(t)
    statuses = {}
    for pid in pids:
        p = fresh(db, pid)
        statuses[pid] = p.status
        transfers = by_payout.get(pid, [])
        assert len(transfers) <= 1, f"payout {pid} recorded {len(transfers)} times at the channel"
        paying = [t for t in transfers if t["state"] != "failed"]
        if p.status == "failed":
            assert not paying, f"payout {pid} failed and its money released, but the channel pays it"
        elif p.status == "succeeded":
            assert len(paying) == 1 and paying[0]["amount_fen"] == p.amount_fen
        else:  # legitimately in doubt: a request may be at the channel, and the money is still held
            assert p.maybe_at_channel or p.channel_ref, f"payout {pid} {p.status} but not in doubt"
    channel_paid = sum(t["amount_fen"] for t in books["transfers"] if t["state"] == "succeeded")
    app_paid = db.session.scalar(select(func.coalesce(func.sum(Payout.amount_fen), 0))
                                 .where(Payout.status == "succeeded"))
    if all(s in ("succeeded", "failed") for s in statuses.values()):
        assert channel_paid == app_paid, (channel_paid, app_paid)
    assert_money_invariants(db, shop_id)
    return statuses


# --- the slow-accept race ------------------------------------------------------------------------

@pytest.mark.parametrize("lands", ["after-the-give-up", "before-the-deadline"])
def test_r6_slow_accept_racing_the_give_up_pays_once_or_fails_unpaid(app, db, make, clock, sim, lands):
    """Five payouts; the channel holds every submit (slow to accept) so worker 1's calls time
    out; the payouts pass the give-up deadline; worker 2 reconciles; then the slow requests land.
    Before this issue the reconciler failed them on the channel's "unknown" and the late requests
    paid the buyers anyway."""
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    orders = [s.order] + [make.order(s.shop, s.buyer, paid_fen=10_000) for _ in range(4)]
    pids = [new_payout(db, s.main, o, clock) for o in orders]
    sim.faults(hold_submits=True)
    worker.run_once(clock.now())  # worker 1: every call waits at the channel until its read timeout
    sim.wait_held(5)
    for pid in pids:
        p = fresh(db, pid)
        assert p.status == "pending" and p.maybe_at_channel  # in doubt: never failed blind

    if lands == "before-the-deadline":
        sim.faults(hold_submits=False)  # the held requests land now, in time
        settled_at_channel(sim, 5)
    advance(clock, sim, GIVE_UP_MINUTES * 60 + 61)  # past the lease and the give-up deadline
    worker.run_once(clock.now())  # worker 2
    if lands == "after-the-give-up":
        sim.faults(hold_submits=False)  # the slow requests arrive too late: refused, nothing recorded
        settled_at_channel(sim, 5)
    rounds(clock, sim, pids)

    statuses = check_books(db, sim, s.shop_id, pids)
    expected = "failed" if lands == "after-the-give-up" else "succeeded"
    assert set(statuses.values()) == {expected}, statuses
    counters = sim.transfers()["counters"]
    if lands == "after-the-give-up":
        assert counters["expired_refusals"] == 5 and sim.transfers()["transfers"] == []


# --- an answer lost after the channel accepted -------------------------------------------------

def test_r6_answer_lost_after_accept_is_paid_once(app, db, make, clock, sim, live):
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    pid = new_payout(db, s.main, s.order, clock)
    sim.faults(drop_answer_next=1)
    worker.run_once(clock.now())  # recorded at the channel, the connection closed without an answer
    p = fresh(db, pid)
    assert p.status == "pending" and p.maybe_at_channel and p.channel_ref is None
    assert len(sim.transfers()["transfers"]) == 1
    rounds(clock, sim, [pid])
    assert check_books(db, sim, s.shop_id, [pid]) == {pid: "succeeded"}
    assert sim.transfers()["counters"]["submit_calls"] == 2  # asked twice, paid once


# --- notifications ---------------------------------------------------------------------------------

def test_r6_duplicate_and_out_of_order_notifications_settle_once(app, db, make, clock, sim, live):
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    pid = new_payout(db, s.main, s.order, clock)
    sim.faults(duplicate_notifications=True, out_of_order_notifications=True)
    (claim,) = worker.claim_due(clock.now())
    worker.submit(claim, clock.now())
    assert fresh(db, pid).status == "processing"
    advance(clock, sim, 4)  # the channel settles after 3 s
    delivered = sim.tick()  # settles and notifies now: no worker poll runs in this test
    p = fresh(db, pid)
    assert p.status == "succeeded", delivered
    events = db.session.scalars(select(ChannelEvent).where(ChannelEvent.payout_id == pid)).all()
    assert sorted(e.state for e in events) == ["processing", "succeeded"]  # each event id applied once
    assert check_books(db, sim, s.shop_id, [pid]) == {pid: "succeeded"}
    codes = [(d["state"], d["http_status"]) for d in delivered["deliveries"]]
    assert sorted(codes) == [("processing", 200)] * 2 + [("succeeded", 200)] * 2, codes  # each sent twice


def _post_event(live, event: dict, *, secret=SECRET, at: datetime, path="/channel/notify") -> httpx.Response:
    body = json.dumps(event).encode()
    headers = protocol.sign(secret, "POST", path, body, int(at.timestamp()))
    return httpx.post(live + path, content=body, headers={**headers, "Content-Type": "application/json"},
                      trust_env=False)


def test_r6_notifications_with_a_bad_or_old_signature_change_nothing(app, db, make, clock, sim, live):
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    pid = new_payout(db, s.main, s.order, clock)
    worker.run_once(clock.now())
    assert fresh(db, pid).status == "processing"
    forged = {"event_id": "evt-forged", "payout_id": pid, "state": "failed", "reason": "forged", "reference": "x"}
    assert _post_event(live, forged, secret="not-the-secret", at=clock.now()).status_code == 401
    assert _post_event(live, forged, at=clock.now() - timedelta(minutes=6)).status_code == 401  # too old
    assert _post_event(live, forged, at=clock.now() + timedelta(minutes=6)).status_code == 401  # from the future
    body = json.dumps(forged).encode()
    headers = protocol.sign(SECRET, "POST", "/channel/notify", body, int(clock.now().timestamp()))
    tampered = httpx.post(live + "/channel/notify", content=body.replace(b"forged", b"f0rged"), headers=headers,
                          trust_env=False)
    assert tampered.status_code == 401
    unsigned = httpx.post(live + "/channel/notify", content=body, trust_env=False)
    assert unsigned.status_code == 401
    assert fresh(db, pid).status == "processing"
    assert db.session.scalar(select(func.count()).select_from(ChannelEvent)) == 0

    # A genuine event, replayed: applied once, the replay changes nothing.
    advance(clock, sim, 4)
    real = {"event_id": "evt-1", "payout_id": pid, "state": "succeeded", "reference": fresh(db, pid).channel_ref}
    sim.tick()  # the channel pays (its own notification may arrive too: it has another event id)
    first = _post_event(live, real, at=clock.now())
    again = _post_event(live, real, at=clock.now())
    assert first.status_code == 200 and again.status_code == 200 and again.json()["result"] == "duplicate"
    assert check_books(db, sim, s.shop_id, [pid]) == {pid: "succeeded"}


# --- a worker killed mid-submit ---------------------------------------------------------------------

def _worker_process(app, db_url: str, sim) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=db_url, CHANNEL_URL=sim.url, CHANNEL_SECRET=SECRET, AFTERDESK_WORKER="off",
               CHANNEL_READ_TIMEOUT="30", CHANNEL_REQUEST_TTL_SECONDS="45", SECRET_KEY="worker-test",
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--once"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(sim.workdir / "worker.log", "wb"))


@pytest.mark.parametrize("held_request", ["lands", "expires"])
def test_r6_worker_killed_mid_submit(app, db, make, clock, sim, live, db_url, held_request):
    """A real worker process sends its request, the channel holds it, and the process is killed
    (SIGKILL) while waiting for the answer. The held request then lands in time, or arrives after
    its deadline; either way the payout is paid exactly once or not at all."""
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    clock.set(datetime.now(timezone.utc))  # the worker process runs on the real clock
    sim.clock(real=True)
    pid = new_payout(db, s.main, s.order, clock)
    sim.faults(hold_submits=True)
    proc = _worker_process(app, db_url, sim)
    try:
        sim.wait_held(1, timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    p = fresh(db, pid)
    assert p.status == "processing" and p.maybe_at_channel and p.channel_not_after is not None

    now = datetime.fromtimestamp(int(time.time()), tz=timezone.utc)
    clock.set(now)
    sim.clock(now=now.timestamp())
    if held_request == "expires":
        advance(clock, sim, 46)  # past the request's deadline at the channel
    sim.faults(hold_submits=False)
    settled_at_channel(sim, 1)
    assert len(sim.transfers()["transfers"]) == (1 if held_request == "lands" else 0)

    advance(clock, sim, 61)  # the dead worker's lease runs out
    rounds(clock, sim, [pid])
    assert check_books(db, sim, s.shop_id, [pid]) == {pid: "succeeded"}  # paid once, by one request or the next
    assert len(sim.transfers()["transfers"]) == 1


# --- an outage longer than the give-up deadline ------------------------------------------------------

def test_r6_outage_longer_than_the_deadline(app, db, make, clock, sim, live):
    """Payout A reached the channel (its answer was lost) just before the channel went down;
    payout B was created during the outage and never reached it. The outage outlasts the give-up
    deadline: B fails on time with its money released; A waits, shown as in doubt, with its money
    held. When the channel is back, A is settled from the channel's word: paid once."""
    s = payout_world(make, db, funds_fen=100_000, quota=None)
    order_b = make.order(s.shop, s.buyer, paid_fen=10_000)
    a = new_payout(db, s.main, s.order, clock)
    sim.faults(drop_answer_next=1)
    worker.run_once(clock.now())
    assert fresh(db, a).maybe_at_channel and len(sim.transfers()["transfers"]) == 1

    sim.kill()  # the outage: connections refused
    b = new_payout(db, s.main, order_b, clock)
    start = clock.now()
    while clock.now() - start < timedelta(minutes=GIVE_UP_MINUTES + 5):
        worker.run_once(clock.now())
        clock.advance(seconds=30)
    pa, pb = fresh(db, a), fresh(db, b)
    assert pb.status == "failed" and pb.failed_at - pb.created_at <= timedelta(minutes=GIVE_UP_MINUTES, seconds=30)
    assert pa.status in ("pending", "processing") and pa.maybe_at_channel  # waits, and says so
    page = _merchant_page(app, s.main, s.order.order_no)
    assert "等待支付渠道确认" in page  # zh_CN, the default language

    sim.start()  # back, same books
    sim.clock(now=clock.now().timestamp())
    rounds(clock, sim, [a, b])
    assert check_books(db, sim, s.shop_id, [a, b]) == {a: "succeeded", b: "failed"}


def _merchant_page(app, account, order_no) -> str:
    from tests.support import login

    client = app.test_client()
    assert login(client, account).status_code == 303
    return client.get(f"/orders/{order_no}").get_data(as_text=True)
