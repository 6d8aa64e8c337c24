"""Browser tests: Debian's Chromium driven by Playwright against a live server on 127.0.0.1.

Never `playwright install`: the browser is /usr/bin/chromium (apt-get install chromium).
Screenshots go to test-artifacts/screenshots/ for a person to look at.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.support import Factory, create_pg_database, migrate, unavailable

CHROMIUM = os.environ.get("AFTERDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        unavailable("Chromium at " + CHROMIUM, "install it with `apt-get install -y chromium`")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = SHOTS / f"{name}.png"
        page.wait_for_load_state()
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


class LiveServer:
    def __init__(self, app, url):
        self.app = app
        self.url = url

    def make(self) -> Factory:
        from webapp import clock
        from webapp.extensions import db

        with self.app.app_context():
            return Factory(db, clock.now())


@pytest.fixture(scope="module")
def live_server(request, tmp_path_factory):
    """The real app (system clock, CSRF on, worker thread) served by werkzeug on a free port, on
    a SQLite file or, with `@pytest.mark.parametrize("live_server", ["pg"], indirect=True)`, on
    a fresh PostgreSQL database."""
    from werkzeug.serving import make_server

    from webapp import create_app
    from webapp.config import TestConfig

    drop = None
    if getattr(request, "param", "sqlite") == "pg":
        url, drop = create_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
    migrate(url)
    app = create_app(TestConfig(url, WORKER_INTERVAL_SECONDS=0.2, PAYOUT_POLL_SECONDS=0.5))
    app.extensions["afterdesk.channel"].settle_seconds = 1.5
    from webapp import worker

    stop_worker = worker.start_thread(app)  # the embedded default: payouts move on their own
    from webapp.extensions import limiter

    with app.app_context():
        limiter.reset()  # sign-in failures counted by earlier tests in this process do not carry over
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ctx = app.app_context()
    ctx.push()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        ctx.pop()
        stop_worker.set()
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            from webapp.extensions import db

            db.engine.dispose()
        if drop:
            stop_worker_thread = app.extensions["afterdesk.worker"][0]
            stop_worker_thread.join(timeout=10)
            drop()


@pytest.fixture(scope="module")
def make_live(live_server):
    from webapp import clock
    from webapp.extensions import db

    return Factory(db, clock.now())
