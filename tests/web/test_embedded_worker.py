"""Issue 9 item 6: the embedded worker thread starts with the server (gunicorn import, `flask run`),
not with its first request, and never in other CLI commands (`flask db upgrade`, `flask shell`)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from flask.cli import FlaskGroup, run_command, shell_command

from tests.support import Factory, intent, payout_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_debug(monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    return monkeypatch


def test_serving_decision(no_debug):
    from webapp import serving

    assert serving() is True  # no click command: imported by gunicorn, uwsgi or `python wsgi.py`
    with click.Context(run_command, info_name="run") as ctx:
        assert serving() is True
        ctx.params["reload"] = True  # `flask run --reload`: the watcher process serves nothing ...
        assert serving() is False
        no_debug.setenv("WERKZEUG_RUN_MAIN", "true")  # ... its child does
        assert serving() is True
    for command in (FlaskGroup(name="flask"), shell_command, click.Command("seed-demo"), click.Command("upgrade")):
        assert serving(click.Context(command, info_name=command.name)) is False


def test_no_worker_thread_in_other_cli_commands(sqlite_url, no_debug):
    from webapp import create_app
    from webapp.config import TestConfig

    with click.Context(shell_command, info_name="shell"):
        app = create_app(TestConfig(sqlite_url, WORKER_MODE="thread"))
    assert "afterdesk.worker" not in app.extensions


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flask_run_moves_a_payout_without_any_request(tmp_path):
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db
    from webapp.models import Payout
    from webapp.services import payouts as svc

    url = f"sqlite:///{tmp_path / 'afterdesk.db'}"
    env = {k: v for k, v in os.environ.items() if k not in {"FLASK_DEBUG", "AFTERDESK_ENV", "CHANNEL_URL", "WERKZEUG_RUN_MAIN"}}
    env.update(AFTERDESK_INSTANCE=str(tmp_path), DATABASE_URL=url, SECRET_KEY="test", AFTERDESK_WORKER="thread",
               SIM_CHANNEL_SETTLE_SECONDS="0", SIM_CHANNEL_TRANSIENT_RATE="0", SIM_CHANNEL_FROZEN_BUYERS="nobody")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]

    def cli(*args):
        return subprocess.run(flask + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert cli("db", "upgrade").returncode == 0
    app = create_app(TestConfig(url))

    def payout_state(pid):
        with app.app_context():
            p = db.session.get(Payout, pid)
            return p.status, p.attempts

    with app.app_context():
        make = Factory(db, datetime.now(timezone.utc))
        w = payout_world(make, db)
        pid = svc.create_payout(db.session, w.main, intent(w.order, 100), make.now).payout.id
    assert cli("db", "upgrade").returncode == 0  # a CLI command: no worker thread, the payout waits
    assert payout_state(pid) == ("pending", 0)

    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(flask + ["run", "--port", str(_free_port())], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:  # no HTTP request at all: the worker thread must have started with the server
        deadline = time.monotonic() + 60
        while payout_state(pid)[0] in ("pending", "processing") and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.2)
        assert payout_state(pid)[0] == "succeeded", (tmp_path / "server.log").read_text()[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        with app.app_context():
            db.engine.dispose()
