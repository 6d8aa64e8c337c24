"""SQLite (the embedded default): a request that reads and then writes must queue behind the
worker's write transaction, not fail with "database is locked" (no read-to-write upgrades)."""
import threading

import pytest
from sqlalchemy import update

from tests.support import PASSWORD, csrf_from

pytestmark = pytest.mark.race


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_in_and_mark_read_wait_for_a_concurrent_writer(app, client, world, db):
    from webapp.db import write_transaction
    from webapp.models import Shop

    token = csrf_from(client.get("/login").get_data(as_text=True))
    holding, release = threading.Event(), threading.Event()

    def writer():  # like the worker: a write transaction that commits a change while the request runs
        with app.app_context():
            with write_transaction(db.session):
                db.session.execute(update(Shop).where(Shop.id == world.shop_a.id).values(name="Shop A (renamed)"))
                holding.set()
                release.wait(timeout=10)
            db.session.remove()

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(timeout=10)
    timer = threading.Timer(0.3, release.set)  # the writer commits while the sign-in waits for the lock
    timer.start()
    resp = client.post("/login", data={"login": world.main_a.login, "password": PASSWORD, "csrf_token": token})
    t.join(timeout=10)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
