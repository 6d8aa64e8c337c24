"""Issue 9 item 5 in Chromium: the database goes away under an open page and comes back.

The live server runs on PostgreSQL reached through a proxy the test cuts. An open order page with
a live payout row backs off its polling (and says so) instead of asking every 2 s; a navigation
gets the localized 503 page; once the database is back, everything works again."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import sign_in
from tests.support import Factory, create_pg_database, intent, migrate, payout_world
from tests.tcp_proxy import TcpProxy

WINDOW_S = 16  # without back-off a 2 s poll would ask 8 times in this window


class OutageServer:
    def __init__(self, app, proxy):
        self.app, self.proxy = app, proxy
        self.hits: list[tuple[float, str, int]] = []  # (when, path, status) of every request served
        inner = app.wsgi_app

        def counting(environ, start_response):
            def respond(status, headers, exc_info=None):
                self.hits.append((time.monotonic(), environ["PATH_INFO"], int(status.split()[0])))
                return start_response(status, headers, exc_info)

            return inner(environ, respond)

        app.wsgi_app = counting

    def polls(self, path, since=0.0, status=None):
        """`status`: one code, a tuple of codes, or None for any."""
        wanted = (status,) if isinstance(status, int) else status
        return [h for h in list(self.hits) if h[1] == path and h[0] > since and (wanted is None or h[2] in wanted)]


def wait_until(condition, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def outage(request):
    from werkzeug.serving import make_server

    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db
    from webapp.services import payouts as svc

    url, drop = create_pg_database()
    migrate(url)
    proxy, proxied = TcpProxy.for_url(url)
    app = create_app(TestConfig(proxied))  # no worker: the payout stays pending, its row keeps polling
    with app.app_context():
        make = Factory(db, datetime.now(timezone.utc))
        w = payout_world(make, db)
        payout = svc.create_payout(db.session, w.main, intent(w.order, 500), make.now).payout
        order_path, poll_path = f"/orders/{w.order.order_no}", f"/payouts/{payout.id}/status"
        main_login = w.main.login
    srv = OutageServer(app, proxy)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    srv.url, srv.order_path, srv.poll_path, srv.login = (
        f"http://127.0.0.1:{server.server_port}", order_path, poll_path, main_login)
    try:
        yield srv
    finally:
        server.shutdown()
        thread.join(timeout=5)
        proxy.close()
        with app.app_context():
            db.engine.dispose()
        drop()


def test_open_page_backs_off_and_navigation_gets_the_503_page(page, outage, shot):
    srv = outage
    sign_in(page, srv.url, "/login", srv.login)
    page.goto(srv.url + srv.order_path)
    expect(page.locator("#payouts")).to_contain_text("¥5.00")
    answered = (200, 204)  # 204: the row is unchanged since the version it shows (nothing to swap)
    wait_until(lambda: srv.polls(srv.poll_path, status=answered))  # the row is polling

    srv.proxy.cut()
    banner = page.locator("[data-offline-banner]")
    expect(banner).to_be_visible(timeout=10_000)
    expect(banner).to_contain_text("实时状态已暂停刷新")
    first_failure = srv.polls(srv.poll_path, status=503)[0][0]
    page.wait_for_timeout(WINDOW_S * 1000)  # the measuring window: count the polls that reach the server
    during = srv.polls(srv.poll_path, since=first_failure)
    assert len(during) <= WINDOW_S // 4, during  # at most half of one poll per 2 s (backing off 5 s, 10 s ...)
    assert {status for _, _, status in during} <= {503}
    shot(page, "issue9-01-live-updates-paused")

    srv.proxy.restore()
    expect(banner).to_be_hidden(timeout=30_000)  # the next poll succeeds and the banner goes
    restored = time.monotonic()
    wait_until(lambda: len(srv.polls(srv.poll_path, since=restored, status=answered)) >= 2, 10)  # back to every 2 s

    srv.proxy.cut()
    page.goto(srv.url + srv.order_path)
    expect(page.get_by_role("heading", name="服务暂时不可用")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("本次操作没有生效")
    shot(page, "issue9-02-database-down-503")

    srv.proxy.restore()
    page.get_by_role("link", name="重试").click()
    expect(page.locator("#payouts")).to_contain_text("¥5.00")
    shot(page, "issue9-03-back-after-outage")
    assert [h for h in srv.hits if h[2] >= 500 and h[2] != 503] == []  # never a 500
