"""Issue 9 item 5: while the database is down, users get the app's own 503 page in their language
(nothing changed, try again), htmx polls a short 503 with Retry-After; once it is back, the first
request succeeds (stale pooled connections are replaced, no 500)."""
from __future__ import annotations

import types
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from tests.support import Factory, create_pg_database, intent, login, migrate, page_token, payout_world
from tests.tcp_proxy import TcpProxy

ZH_TITLE, ZH_NOTHING = "服务暂时不可用", "本次操作没有生效"
EN_TITLE, EN_NOTHING = "Temporarily unavailable", "Nothing was changed"


def test_unreachable_database_gives_the_localized_503_page_not_a_500():
    """Without any PostgreSQL: an app whose database refuses connections, a signed-in session."""
    from webapp import create_app
    from webapp.config import TestConfig

    app = create_app(TestConfig("postgresql+psycopg://postgres@127.0.0.1:1/nowhere"))
    client = app.test_client()
    # A signed-in browser holds a session id (R27); the session itself is in that database.
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "S" * 43)
    page = client.get("/orders")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    html = page.get_data(as_text=True)
    assert ZH_TITLE in html and ZH_NOTHING in html and 'lang="zh-CN"' in html
    poll = client.get("/payouts/1/status", headers={"HX-Request": "true"})
    assert poll.status_code == 503 and poll.headers["Retry-After"] == "5"
    assert "<html" not in poll.get_data(as_text=True) and "服务暂时不可用" in poll.get_data(as_text=True)
    client.set_cookie(app.config["LANGUAGE_COOKIE_NAME"], "en")  # the language is the browser's own cookie
    html = client.get("/orders").get_data(as_text=True)
    assert EN_TITLE in html and EN_NOTHING in html and 'lang="en"' in html
    assert client.get("/healthz").status_code == 200  # the process is up
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["database"] == "error" and ready.json["ready"] is False


@pytest.fixture
def cut_app():
    """A PostgreSQL-backed app that reaches its database only through a proxy the test can cut."""
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db

    url, drop = create_pg_database()
    migrate(url)  # straight to the database, not through the proxy
    proxy, proxied = TcpProxy.for_url(url)
    app = create_app(TestConfig(proxied))
    try:
        yield app, proxy
    finally:
        proxy.close()
        with app.app_context():
            db.engine.dispose()
        drop()


@pytest.mark.pg
def test_database_cut_and_restored(cut_app):
    from webapp.extensions import db
    from webapp.models import InSiteMessage
    from webapp.services import payouts as svc

    app, proxy = cut_app
    with app.app_context():
        make = Factory(db, datetime.now(timezone.utc))
        w = payout_world(make, db)
        payout = svc.create_payout(db.session, w.main, intent(w.order, 100), make.now).payout
        db.session.add(InSiteMessage(shop_id=w.shop.id, kind="payout_failed", payout_id=payout.id, params="{}",
                                     link="/", created_at=make.now))
        db.session.commit()
        main = types.SimpleNamespace(login=w.main.login)  # `login()` needs only the login name
        payout_id, message_id = payout.id, db.session.scalar(select(InSiteMessage.id))
        order_url = f"/orders/{w.order.order_no}"
    poll_url = f"/payouts/{payout_id}/status"

    zh, en = app.test_client(), app.test_client()
    for client in (zh, en):
        assert login(client, main).status_code == 303
    en.post("/lang", data={"lang": "en", "csrf_token": page_token(en, "/orders")})
    token = page_token(zh, "/orders")
    assert zh.get(poll_url, headers={"HX-Request": "true"}).status_code == 200
    proxy.cut()  # the database restarts while nobody asks: every pooled connection is now dead ...
    proxy.restore()
    assert zh.get("/orders").status_code == 200  # ... and is replaced without failing a request

    proxy.cut()
    page = zh.get("/orders")
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert ZH_TITLE in page.get_data(as_text=True) and ZH_NOTHING in page.get_data(as_text=True)
    page = en.get(order_url)
    assert page.status_code == 503 and EN_NOTHING in page.get_data(as_text=True)
    poll = zh.get(poll_url, headers={"HX-Request": "true"})
    assert poll.status_code == 503 and poll.headers["Retry-After"] and "<html" not in poll.get_data(as_text=True)
    post = zh.post("/messages/read-all", data={"csrf_token": token})
    assert post.status_code == 503
    assert zh.get("/healthz").status_code == 200 and zh.get("/readyz").json["database"] == "error"

    proxy.restore()
    statuses = [zh.get("/orders").status_code, zh.get(poll_url, headers={"HX-Request": "true"}).status_code,
                en.get(order_url).status_code]
    assert statuses == [200, 200, 200]  # the first request after the outage already succeeds
    with app.app_context():
        assert db.session.get(InSiteMessage, message_id).read_at is None  # the POST changed nothing
