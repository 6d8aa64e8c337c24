"""The one transaction convention: a write transaction commits its own unit of work only. Changes
already pending in the session are refused, never committed along with it."""
import pytest

from tests.support import both_backends
from webapp.db import PendingChangesError, write_transaction
from webapp.models import Shop

pytestmark = both_backends


def test_pending_changes_are_refused_not_committed(db, make):
    shop = make.shop(name="Before")
    shop.name = "Changed outside the unit of work"
    with pytest.raises(PendingChangesError):
        with write_transaction(db.session):
            pass
    db.session.rollback()
    assert db.session.get(Shop, shop.id, populate_existing=True).name == "Before"


def test_a_read_snapshot_is_ended_and_the_unit_commits(db, make):
    shop = make.shop(name="Read")
    db.session.get(Shop, shop.id)  # a read opens a transaction; nothing pending
    with write_transaction(db.session):
        db.session.get(Shop, shop.id).name = "Written"
    db.session.rollback()
    assert db.session.get(Shop, shop.id, populate_existing=True).name == "Written"


def test_an_error_rolls_the_unit_back(db, make):
    shop = make.shop(name="Kept")
    with pytest.raises(ZeroDivisionError):
        with write_transaction(db.session):
            db.session.get(Shop, shop.id).name = "Lost"
            raise ZeroDivisionError("the unit of work fails half-way")
    assert db.session.get(Shop, shop.id, populate_existing=True).name == "Kept"
