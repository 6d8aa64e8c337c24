"""Fixtures after flaskr's conftest: app, client, runner, factories, sign-in helpers.

`db_url` is SQLite by default; mark a test `@both_backends` to run it on PostgreSQL too.
Each backend's schema is built once per run with the real migrations, and emptied between tests.
"""
from __future__ import annotations

import pytest
from concurrent.futures import ThreadPoolExecutor

from flask.testing import FlaskClient

from tests.support import T0, Factory, create_pg_database, login, migrate, wipe


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'afterdesk-test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def pg_url():
    url, drop = create_pg_database()
    migrate(url)
    yield url
    drop()


@pytest.fixture
def db_url(request):
    backend = getattr(request, "param", "sqlite")
    return request.getfixturevalue("pg_url" if backend == "pg" else "sqlite_url")


@pytest.fixture
def clock():
    from webapp.clock import FixedClock

    return FixedClock(T0)


@pytest.fixture
def app_config():
    """Override in a module to change settings: return a dict of config overrides."""
    return {}


@pytest.fixture
def app(db_url, clock, app_config):
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db, limiter

    app = create_app(TestConfig(db_url, **app_config), clock=clock)
    with app.app_context():
        wipe(db)
        limiter.reset()
        yield app
        db.session.remove()
        wipe(db)
        db.engine.dispose()


@pytest.fixture
def db(app):
    from webapp.extensions import db

    return db


class IsolatedClient(FlaskClient):
    """Runs every request on its own thread, as a real server would: a fresh app context, a
    fresh database session and connection, nothing shared with the test's session but the
    committed data. The test's open transaction is committed first so its snapshot ends."""

    def open(self, *args, **kwargs):
        from webapp.extensions import db

        db.session.commit()
        def run():
            response = super(IsolatedClient, self).open(*args, **kwargs)
            response.get_data()  # read streamed bodies inside the request's own thread
            return response

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(run).result()


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app, db, clock):
    return Factory(db, clock.now())


@pytest.fixture
def world(make):
    """Two shops with a main and a staff account each, two buyers, an order and a case per shop."""
    class World:
        pass

    w = World()
    w.shop_a = make.shop(name="Shop A")
    w.shop_b = make.shop(name="Shop B")
    w.main_a = make.account(w.shop_a, role="main", login="main-a")
    w.staff_a = make.account(w.shop_a, role="staff", login="staff-a")
    w.main_b = make.account(w.shop_b, role="main", login="main-b")
    w.staff_b = make.account(w.shop_b, role="staff", login="staff-b")
    w.buyer_x = make.buyer(login="buyer-x")
    w.buyer_y = make.buyer(login="buyer-y")
    w.order_a = make.order(w.shop_a, w.buyer_x, order_no="6900000000000000001")
    w.order_b = make.order(w.shop_b, w.buyer_y, order_no="6900000000000000002")
    w.case_a = make.case(w.order_a)
    w.case_b = make.case(w.order_b)
    from webapp.services import ledger
    from webapp.services import payouts as svc

    ledger.topup(make.db.session, w.shop_a.id, 100_000, make.now)
    w.payout_a = svc.create_payout(
        make.db.session, w.main_a, svc.PayoutIntent(w.order_a.order_no, 100, "shipping_fee", "", "world-a"), make.now
    ).payout
    from webapp.models import InSiteMessage

    w.message_a = InSiteMessage(shop_id=w.shop_a.id, kind="payout_failed", payout_id=w.payout_a.id, params="{}",
                                link=f"/orders/{w.order_a.order_no}", created_at=make.now)
    make.db.session.add(w.message_a)
    make.db.session.commit()
    return w


@pytest.fixture
def login_as(client):
    def _login(account, **kw):
        resp = login(client, account, **kw)
        assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
        return client

    return _login


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def fresh_url(request, tmp_path):
    """An empty database URL, on SQLite and on PostgreSQL (for migration tests); a missing
    PostgreSQL skips locally and fails with CI=true."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url, drop = create_pg_database()
    yield url
    drop()
