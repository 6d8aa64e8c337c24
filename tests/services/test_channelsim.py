"""The channel simulator as a real process, driven through the app's HttpChannel adapter.

No app database here: the simulator keeps its own SQLite file under tmp_path. Most tests freeze
the channel's clock at T (the adapter signs with the same virtual `now`) and run with the
ticker off, so settling and callbacks happen only on sim.tick().
"""
import json
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest

from tests.channelsim_proc import ROOT, ChannelSim, wait_until
from webapp.channel import protocol
from webapp.channel.base import ChannelAnswer, TransferState, TransferStatus, TransientChannelError
from webapp.channel.http import ChannelConflict, HttpChannel

SECRET = "test-channel-secret"
T = 1_800_000_000  # the channel's frozen clock
NOW = datetime.fromtimestamp(T, timezone.utc)
NOT_AFTER = NOW + timedelta(minutes=5)
NOTIFY_PATH = "/channel/notify"


class Receiver:
    """A tiny callback receiver: records every POST, answers the queued statuses (default 200)."""

    def __init__(self):
        self.calls: list[tuple[str, dict, bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.calls.append((self.path, dict(self.headers), body))
                    code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{NOTIFY_PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, _, body in self.calls]

    def assert_signed(self, now_ts: float) -> None:
        with self.lock:
            for path, headers, body in self.calls:
                assert path == NOTIFY_PATH
                protocol.verify(SECRET, "POST", path, body, headers, now_ts=now_ts)


@pytest.fixture
def sim(tmp_path):
    with ChannelSim(tmp_path, SECRET) as sim:
        sim.clock(now=T)
        yield sim


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def channel(sim, receiver):
    with HttpChannel(sim.url, SECRET, notify_url=receiver.url, read_timeout=10) as channel:
        yield channel


def counters(sim) -> dict:
    return sim.transfers()["counters"]


def test_r6_repeat_submit_answers_the_transfer_already_recorded(sim, channel):
    first = channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    again = channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    assert first.accepted and first.reference and again == first
    assert channel.status(1, NOW) == TransferStatus(TransferState.PROCESSING, first.reference)
    assert channel.status(2, NOW) == TransferStatus(TransferState.UNKNOWN)
    books = sim.transfers()
    assert [(t["idempotency_key"], t["amount_fen"]) for t in books["transfers"]] == [("1", 500)]
    assert books["counters"] == {"submit_calls": 2, "recorded": 1, "expired_refusals": 0}


def test_r6_same_key_with_another_amount_or_buyer_is_a_conflict(sim, channel):
    channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    with pytest.raises(ChannelConflict):
        channel.submit(1, "buyer1", 501, NOW, NOT_AFTER)
    with pytest.raises(ChannelConflict):
        channel.submit(1, "buyer2", 500, NOW, NOT_AFTER)
    assert counters(sim)["recorded"] == 1


def test_frozen_buyer_is_recorded_as_failed(sim, channel):
    sim.faults(frozen_buyers=["frozen-buyer"])
    answer = channel.submit(3, "frozen-buyer", 500, NOW, NOT_AFTER)
    assert answer == ChannelAnswer(accepted=False, reference=answer.reference, reason="buyer_wallet_frozen")
    assert channel.status(3, NOW) == TransferStatus(TransferState.FAILED, answer.reference, "buyer_wallet_frozen")


def test_r6_transfer_settles_after_settle_seconds_on_the_channel_clock(sim, channel):
    reference = channel.submit(1, "buyer1", 500, NOW, NOT_AFTER).reference
    sim.clock(advance=2.9)
    assert sim.tick()["settled"] == []
    sim.clock(advance=0.1)
    assert sim.tick()["settled"] == [{"idempotency_key": "1", "payout_id": 1, "state": "succeeded"}]
    assert channel.status(1, NOW) == TransferStatus(TransferState.SUCCEEDED, reference)
    assert sim.tick()["settled"] == []  # settles once


def test_r6_held_submit_released_after_not_after_is_refused_and_never_recorded(sim, channel):
    sim.faults(hold_submits=True)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(channel.submit, 1, "buyer1", 500, NOW, NOT_AFTER)
        sim.wait_held(1)
        sim.clock(now=NOT_AFTER.timestamp() + 1)
        sim.release()
        with pytest.raises(TransientChannelError) as err:
            pending.result(timeout=10)
    assert str(err.value) == "expired" and err.value.delivered is False
    assert sim.transfers()["transfers"] == []
    assert counters(sim) == {"submit_calls": 1, "recorded": 0, "expired_refusals": 1}
    assert channel.status(1, NOW + timedelta(seconds=301)).state == TransferState.UNKNOWN


def test_r6_held_submit_released_in_time_is_recorded(sim, channel):
    sim.faults(hold_submits=True)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(channel.submit, 1, "buyer1", 500, NOW, NOT_AFTER)
        sim.wait_held(1)
        sim.clock(now=NOT_AFTER.timestamp())  # exactly at not_after is still in time
        assert sim.faults(hold_submits=False)["hold_submits"] is False  # turning it off releases
        assert pending.result(timeout=10).accepted
    assert sim.held() == {"held": 0, "held_total": 1}
    assert counters(sim)["recorded"] == 1


def test_r6_submit_that_timed_out_and_lands_after_not_after_is_never_recorded(sim):
    sim.faults(hold_submits=True)
    with HttpChannel(sim.url, SECRET, read_timeout=0.5) as impatient:
        with pytest.raises(TransientChannelError) as err:
            impatient.submit(1, "buyer1", 500, NOW, NOT_AFTER)
        assert err.value.delivered is True  # it may have landed: only status can tell
        sim.wait_held(1)
        sim.clock(now=NOT_AFTER.timestamp() + 1)
        sim.release()
        wait_until(lambda: counters(sim)["expired_refusals"] == 1, what="the late submit to be refused")
        assert impatient.status(1, NOW + timedelta(seconds=301)).state == TransferState.UNKNOWN
    assert sim.transfers()["transfers"] == []


def test_r6_slow_answer_times_out_as_maybe_delivered_and_the_transfer_still_lands(sim):
    sim.faults(latency_ms=1500)
    with HttpChannel(sim.url, SECRET, read_timeout=0.3) as impatient:
        with pytest.raises(TransientChannelError) as err:
            impatient.submit(1, "buyer1", 500, NOW, NOT_AFTER)
        assert err.value.delivered is True
    wait_until(lambda: counters(sim)["recorded"] == 1, what="the slow submit to be recorded")


def test_r6_dropped_answer_was_recorded_and_status_tells(sim, channel):
    sim.faults(drop_answer_next=1)
    with pytest.raises(TransientChannelError) as err:
        channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    assert err.value.delivered is True
    status = channel.status(1, NOW)
    assert status.state == TransferState.PROCESSING
    assert channel.submit(1, "buyer1", 500, NOW, NOT_AFTER) == ChannelAnswer(True, status.reference)
    assert counters(sim)["recorded"] == 1


def test_injected_503s_are_transient_and_record_nothing(sim, channel):
    sim.faults(error_5xx_next=2)
    for _ in range(2):
        with pytest.raises(TransientChannelError) as err:
            channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
        assert err.value.delivered is True
    assert counters(sim)["recorded"] == 0
    assert channel.submit(1, "buyer1", 500, NOW, NOT_AFTER).accepted
    assert sim.faults(error_5xx_rate=1.0)["error_5xx_next"] == 0
    with pytest.raises(TransientChannelError):
        channel.status(1, NOW)


def test_outage_answers_503_to_everything_and_records_nothing(sim, channel):
    sim.faults(outage=True)
    for call in (lambda: channel.submit(1, "buyer1", 500, NOW, NOT_AFTER), lambda: channel.status(1, NOW)):
        with pytest.raises(TransientChannelError):
            call()
    sim.faults(outage=False)
    assert sim.transfers()["transfers"] == [] and counters(sim)["submit_calls"] == 0


def test_r6_dead_channel_is_not_delivered_and_a_restart_keeps_the_books(sim, channel):
    reference = channel.submit(1, "buyer1", 500, NOW, NOT_AFTER).reference
    port = sim.port
    sim.kill()
    with pytest.raises(TransientChannelError) as err:
        channel.submit(2, "buyer1", 500, NOW, NOT_AFTER)
    assert err.value.delivered is False  # connection refused: it certainly did not land
    sim.restart()
    assert sim.port == port
    sim.clock(now=T)  # a new process starts on the wall clock
    assert channel.status(1, NOW) == TransferStatus(TransferState.PROCESSING, reference)
    assert channel.status(2, NOW).state == TransferState.UNKNOWN
    sim.clock(advance=3)
    assert [s["payout_id"] for s in sim.tick()["settled"]] == [1]


def test_unsigned_stale_and_wrongly_signed_requests_get_401(sim, caplog):
    body = {"payout_id": 1, "idempotency_key": "1", "buyer_ref": "b", "amount_fen": 1, "not_after": T + 60,
            "notify_url": None}
    assert sim.call("POST", "/v1/transfers", body, signed=False).json() == {"error": "missing"}
    content = json.dumps(body).encode()
    stale = protocol.sign(SECRET, "POST", "/v1/transfers", content, T - 301)
    response = httpx.post(sim.url + "/v1/transfers", content=content, headers=stale, trust_env=False)
    assert (response.status_code, response.json()) == (401, {"error": "stale"})
    assert sim.call("GET", "/_control/transfers", signed=False).status_code == 401
    assert sim.call("GET", "/_control/healthz", signed=False).json() == {"ok": True}
    with HttpChannel(sim.url, "wrong-secret") as wrong, caplog.at_level(logging.ERROR, "webapp.channel.http"):
        with pytest.raises(TransientChannelError) as err:
            wrong.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    assert err.value.delivered is False
    assert "CHANNEL_SECRET" in caplog.text and "bad_signature" in caplog.text
    assert counters(sim) == {"submit_calls": 0, "recorded": 0, "expired_refusals": 0}


def test_r6_callback_is_signed_and_delivered_once_the_transfer_is_final(sim, channel, receiver):
    reference = channel.submit(1, "buyer1", 500, NOW, NOT_AFTER).reference
    assert sim.tick()["deliveries"] == []  # nothing final yet
    sim.clock(advance=3)
    deliveries = sim.tick()["deliveries"]
    assert [(d["state"], d["http_status"], d["result"]) for d in deliveries] == [("succeeded", 200, "delivered")]
    [event] = receiver.events()
    assert event == {"event_id": deliveries[0]["event_id"], "payout_id": 1, "idempotency_key": "1",
                     "state": "succeeded", "reference": reference, "reason": None, "occurred_at": T + 3}
    receiver.assert_signed(now_ts=T + 3)
    assert sim.tick()["deliveries"] == []


def test_frozen_buyer_callback_says_failed(sim, channel, receiver):
    sim.faults(frozen_buyers=["frozen-buyer"])
    channel.submit(3, "frozen-buyer", 500, NOW, NOT_AFTER)
    assert [d["state"] for d in sim.tick()["deliveries"]] == ["failed"]
    assert [(e["state"], e["reason"]) for e in receiver.events()] == [("failed", "buyer_wallet_frozen")]
    receiver.assert_signed(now_ts=T)


def test_callback_is_retried_with_backoff_until_acknowledged(sim, channel, receiver):
    receiver.statuses = [500]
    sim.faults(settle_seconds=0)
    channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    assert [(d["http_status"], d["result"]) for d in sim.tick()["deliveries"]] == [(500, "pending")]
    assert sim.tick()["deliveries"] == []  # backing off on the channel clock
    sim.clock(advance=0.5)
    assert [(d["http_status"], d["result"]) for d in sim.tick()["deliveries"]] == [(200, "delivered")]
    first, second = receiver.events()
    assert first == second


def test_duplicate_notifications_repeat_the_same_event_id(sim, channel, receiver):
    sim.faults(duplicate_notifications=True, settle_seconds=0)
    channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    assert [d["http_status"] for d in sim.tick()["deliveries"]] == [200, 200]
    first, second = receiver.events()
    assert first == second and first["state"] == "succeeded"
    receiver.assert_signed(now_ts=T)


def test_out_of_order_notifications_send_a_stale_processing_after_the_final_state(sim, channel, receiver):
    sim.faults(out_of_order_notifications=True)
    channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    sim.clock(advance=3)
    assert [d["state"] for d in sim.tick()["deliveries"]] == ["succeeded", "processing"]
    final, stale = receiver.events()
    assert (final["state"], stale["state"]) == ("succeeded", "processing")
    assert final["event_id"] != stale["event_id"] and stale["occurred_at"] < final["occurred_at"]
    receiver.assert_signed(now_ts=T + 3)


def test_drop_notifications_sends_nothing_and_status_still_answers(sim, channel, receiver):
    sim.faults(drop_notifications=True, settle_seconds=0)
    channel.submit(1, "buyer1", 500, NOW, NOT_AFTER)
    assert [d["result"] for d in sim.tick()["deliveries"]] == ["dropped"]
    sim.faults(drop_notifications=False)
    assert sim.tick()["deliveries"] == [] and receiver.events() == []
    assert channel.status(1, NOW).state == TransferState.SUCCEEDED


def test_ticker_settles_and_calls_back_on_its_own(tmp_path, receiver):
    with ChannelSim(tmp_path, SECRET, ticker=True, faults={"settle_seconds": 0.3}) as sim, \
            HttpChannel(sim.url, SECRET, notify_url=receiver.url) as channel:
        now = datetime.now(timezone.utc)
        channel.submit(1, "buyer1", 500, now, now + timedelta(minutes=5))
        [event] = wait_until(receiver.events, timeout=10, what="the ticker's callback")
        assert event["state"] == "succeeded"
        receiver.assert_signed(now_ts=time.time())
        assert channel.status(1, datetime.now(timezone.utc)).state == TransferState.SUCCEEDED


def test_r6_a_404_that_is_not_the_channels_own_unknown_is_not_taken_for_never_recorded(sim):
    with HttpChannel(sim.url + "/wrong-prefix", SECRET) as misrouted:
        with pytest.raises(TransientChannelError):
            misrouted.status(1, NOW)


def test_from_config_reads_the_channel_settings(sim):
    app = SimpleNamespace(config={"CHANNEL_URL": sim.url, "CHANNEL_SECRET": SECRET,
                                  "CHANNEL_NOTIFY_URL": "http://127.0.0.1:1/n", "CHANNEL_READ_TIMEOUT": 7})
    with HttpChannel.from_config(app) as channel:
        assert channel.notify_url == "http://127.0.0.1:1/n"
        assert channel.status(1, NOW).state == TransferState.UNKNOWN
    with pytest.raises(ValueError):
        HttpChannel.from_config(SimpleNamespace(config={}))


def run_channelsim(*args, **env):
    environ = {k: v for k, v in os.environ.items() if k != "CHANNEL_SECRET"}
    return subprocess.run([sys.executable, "-m", "channelsim", "--port", "0", *args], cwd=ROOT, timeout=30,
                          env={**environ, **env}, capture_output=True, text=True)


def test_simulator_refuses_to_start_without_a_secret_or_on_a_remote_host(tmp_path):
    db = ["--db", str(tmp_path / "sim.db")]
    no_secret = run_channelsim(*db)
    assert no_secret.returncode == 2 and "secret is required" in no_secret.stderr
    remote = run_channelsim(*db, "--host", "0.0.0.0", CHANNEL_SECRET="s")
    assert remote.returncode == 2 and "not a loopback address" in remote.stderr


def test_simulator_imports_neither_flask_nor_sqlalchemy_nor_the_app():
    """It shares only the channel protocol (standard library) with the app, never the app itself."""
    probe = "import sys, channelsim.server; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
            "{'flask', 'sqlalchemy', 'webapp', 'httpx'}))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=30)
    shared = ["webapp", "webapp.channel", "webapp.channel.base", "webapp.channel.protocol"]  # all standard library
    assert result.stdout.strip() == str(shared), result.stderr
