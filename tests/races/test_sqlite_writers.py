"""SQLite (the embedded default): a request that reads and then writes must queue behind the
worker's write transaction, not fail with "database is locked" (no read-to-write upgrades)."""
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import update

from tests.support import PASSWORD, csrf_from, page_token

pytestmark = pytest.mark.race


@contextmanager
def concurrent_writer(app, db, shop_id, name):
    """Like the worker: a write transaction, open (holding SQLite's write lock) when the block starts
    and committed 0.3 s later, while the block's request waits for the lock."""
    from webapp.db import write_transaction
    from webapp.models import Shop

    holding, release = threading.Event(), threading.Event()

    def writer():
        with app.app_context():
            with write_transaction(db.session):
                db.session.execute(update(Shop).where(Shop.id == shop_id).values(name=name))
                holding.set()
                release.wait(timeout=10)
            db.session.remove()

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(timeout=10)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    try:
        yield
    finally:
        release.set()
        t.join(timeout=10)
        timer.cancel()
    assert not t.is_alive()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_in_and_mark_read_wait_for_a_concurrent_writer(app, client, world, db):
    from webapp.models import InSiteMessage, Shop

    token = csrf_from(client.get("/login").get_data(as_text=True))
    with concurrent_writer(app, db, world.shop_a.id, "Shop A (renamed)"):
        resp = client.post("/login", data={"login": world.main_a.login, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    assert resp.headers["Location"] != "/login"  # signed in, not sent back to the form

    token = page_token(client, "/messages")
    assert db.session.get(InSiteMessage, world.message_a.id, populate_existing=True).read_at is None
    with concurrent_writer(app, db, world.shop_a.id, "Shop A (renamed again)"):
        resp = client.post(f"/messages/{world.message_a.id}/read", data={"csrf_token": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    db.session.commit()
    assert db.session.get(InSiteMessage, world.message_a.id, populate_existing=True).read_at is not None  # marked read
    assert db.session.get(Shop, world.shop_a.id, populate_existing=True).name == "Shop A (renamed again)"  # both writes landed
