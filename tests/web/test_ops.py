"""Issue 9 item 7: /healthz (process up), /readyz (database + worker heartbeat), /metrics."""
from __future__ import annotations

import urllib.request
from datetime import timedelta

import pytest

from tests.support import intent, payout_world


def beat(db, at, name="worker-1"):
    from webapp.models import WorkerHeartbeat

    db.session.merge(WorkerHeartbeat(name=name, beat_at=at))
    db.session.commit()


def test_healthz_answers_without_the_database(app, client, monkeypatch):
    from webapp.extensions import db

    monkeypatch.setattr(db.session, "execute", lambda *a, **k: pytest.fail("healthz touched the database"))
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


def test_readyz_is_ready_with_a_fresh_heartbeat_and_reports_the_oldest_due_payout(client, db, make, clock):
    from webapp.services import payouts as svc

    w = payout_world(make, db)
    svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now())  # due at once
    clock.advance(seconds=40)
    beat(db, clock.now() - timedelta(seconds=5))
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json == {"database": "ok", "worker": {"fresh": True, "last_beat_age_s": 5.0},
                         "oldest_due_payout_age_s": 40.0, "ready": True}


def test_readyz_is_not_ready_with_a_stale_or_missing_heartbeat(client, db, clock):
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json["worker"] == {"fresh": False, "last_beat_age_s": None} and resp.json["database"] == "ok"
    assert resp.json["oldest_due_payout_age_s"] is None
    beat(db, clock.now() - timedelta(seconds=31))  # READYZ_HEARTBEAT_MAX_AGE_SECONDS is 30
    beat(db, clock.now() - timedelta(seconds=90), name="worker-2")
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.json["worker"] == {"fresh": False, "last_beat_age_s": 31.0}


def test_readyz_reports_a_database_error():
    from webapp import create_app
    from webapp.config import TestConfig

    app = create_app(TestConfig("postgresql+psycopg://postgres@127.0.0.1:1/nowhere"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json == {"database": "error", "worker": {"fresh": False, "last_beat_age_s": None},
                         "oldest_due_payout_age_s": None, "ready": False}


def test_metrics_show_payouts_and_channel_calls(client, db, make, clock):
    from webapp import metrics
    from webapp.models import Payout
    from webapp.services import payouts as svc

    w = payout_world(make, db)
    first = svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now()).payout
    svc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), 200), clock.now())
    db.session.get(Payout, first.id).maybe_at_channel = True  # sent, no answer yet: in doubt
    db.session.commit()
    clock.advance(seconds=75)
    with metrics.channel_call("submit"):
        pass
    with pytest.raises(TimeoutError), metrics.channel_call("submit"):
        raise TimeoutError("read timed out")

    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    text = resp.get_data(as_text=True)
    for line in ('afterdesk_payouts{status="pending"} 2.0', 'afterdesk_payouts{status="succeeded"} 0.0',
                 "afterdesk_payouts_in_doubt 1.0", "afterdesk_oldest_pending_payout_age_seconds 75.0",
                 'afterdesk_channel_call_errors_total{kind="TimeoutError",op="submit"}'):
        assert line in text, line
    assert 'afterdesk_channel_call_seconds_count{op="submit"}' in text


def test_metrics_answer_only_loopback_or_the_token(app, client):
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404  # via a proxy
    app.config["METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer nope"}).status_code == 404
    ok = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and "afterdesk_payouts" in ok.get_data(as_text=True)


def test_worker_metrics_port_serves_the_process_metrics(app, db):
    import socket

    from webapp import metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, thread = metrics.serve(app, port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert "afterdesk_channel_call_seconds" in text and 'afterdesk_payouts{status="pending"}' in text
    finally:
        server.shutdown()
        thread.join(timeout=5)
        metrics.PAYOUT_GAUGES.app = None
