"""R25 "Buyers are told", through the services on SQLite and PostgreSQL: a payout received, a
payout that failed (with what the buyer can do), and every refund decision each leave exactly one
message for the buyer, written in the same transaction; replays never message twice; a message has
exactly one audience, and each audience reads only its own (R18)."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.support import both_backends, intent, payout_world
from webapp import worker
from webapp.models import InSiteMessage, Payout
from webapp.services import inbox, refunds
from webapp.services import payouts as psvc

pytestmark = both_backends


def buyer_messages(db, buyer_id):
    db.session.commit()
    return db.session.scalars(select(InSiteMessage).where(InSiteMessage.buyer_id == buyer_id)
                              .order_by(InSiteMessage.id)).all()


def shop_messages(db, shop_id):
    return db.session.scalars(select(InSiteMessage).where(InSiteMessage.shop_id == shop_id)).all()


def test_r25_payout_received_leaves_one_buyer_message_and_a_replay_adds_none(db, make, clock):
    w = payout_world(make, db)
    p = psvc.create_payout(db.session, w.staff, intent(w.order, 500), clock.now()).payout
    assert psvc.settle_succeeded(db.session, p.id, clock.now(), reference="SIM1")
    assert not psvc.settle_succeeded(db.session, p.id, clock.now(), reference="SIM1")  # a retried settlement
    # The channel's callback arriving twice (two event ids, the same final state) changes nothing either.
    psvc.apply_channel_event(db.session, event_id="ev-1", payout_id=p.id, state="succeeded", reference="SIM1",
                             reason=None, now=clock.now(), poll_in=timedelta(0))
    [m] = buyer_messages(db, w.buyer.id)
    assert (m.kind, m.payout_id, m.case_id, m.shop_id, m.read_at) == ("payout_received", p.id, None, None, None)
    assert json.loads(m.params) == {"order_no": w.order.order_no, "shop": w.shop.name, "amount_fen": 500}
    assert shop_messages(db, w.shop.id) == []  # the shop is not messaged about a success


def test_r25_frozen_wallet_payout_failed_tells_the_buyer_once_with_the_reason(db, make, clock):
    """Through the worker and the simulated channel: the frozen wallet ("buyer_wallet_frozen")."""
    w = payout_world(make, db)
    frozen = make.buyer(login="frozen-buyer")
    order = make.order(w.shop, frozen)
    p = psvc.create_payout(db.session, w.staff, intent(order, 800), clock.now()).payout
    for _ in range(40):
        worker.run_once(clock.now())
        if db.session.get(Payout, p.id, populate_existing=True).status in ("succeeded", "failed"):
            break
        clock.advance(seconds=2)
    p = db.session.get(Payout, p.id, populate_existing=True)
    assert p.status == "failed" and p.failure_reason == "buyer_wallet_frozen"
    assert not psvc.settle_failed(db.session, p.id, "buyer_wallet_frozen", clock.now())  # replay
    [m] = buyer_messages(db, frozen.id)
    assert (m.kind, m.payout_id, m.shop_id) == ("payout_failed", p.id, None)
    assert json.loads(m.params)["reason"] == "buyer_wallet_frozen"
    assert len(shop_messages(db, w.shop.id)) == 1  # the shop's own message (R6) is still there, once


def test_r25_notify_buyer_is_idempotent_inside_the_callers_transaction(db, make, clock):
    w = payout_world(make, db)
    p = psvc.create_payout(db.session, w.staff, intent(w.order, 500), clock.now()).payout
    db.session.commit()
    args = dict(payout_id=p.id, params={"order_no": w.order.order_no}, now=clock.now())
    assert inbox.notify_buyer(db.session, w.buyer.id, "payout_failed", **args)
    assert not inbox.notify_buyer(db.session, w.buyer.id, "payout_failed", **args)
    db.session.rollback()  # it never commits by itself: the caller's rollback takes it back
    assert buyer_messages(db, w.buyer.id) == []
    assert inbox.notify_buyer(db.session, w.buyer.id, "payout_failed", **args)
    db.session.commit()
    assert not inbox.notify_buyer(db.session, w.buyer.id, "payout_failed", **args)  # a later retry
    assert len(buyer_messages(db, w.buyer.id)) == 1


@pytest.fixture
def rw(make, db, clock):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000, refund_quota=(100_000, 1_000_000))
    refunds.confirm_settings(db.session, w.main, "7天内未发货可极速退款，退款原路返回。", clock.now())
    return w


def test_r25_fast_refund_refunded_automatically_is_told_once(db, rw, clock):
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    again = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert not again.created  # a double submit
    [m] = buyer_messages(db, rw.buyer.id)
    assert (m.kind, m.case_id, m.payout_id, m.shop_id) == ("refund_auto", case.id, None, None)
    assert json.loads(m.params) == {"order_no": rw.order.order_no, "shop": rw.shop.name, "amount_fen": 3_000}


def test_r25_approval_is_told_once_with_the_amount(db, rw, clock):
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=False,
                         now=clock.now()).case
    assert buyer_messages(db, rw.buyer.id) == []  # waiting for review: nothing decided yet
    refunds.approve(db.session, rw.staff, case.id, clock.now())
    with pytest.raises(refunds.CaseClosed):
        refunds.approve(db.session, rw.staff, case.id, clock.now())  # a second click
    [m] = buyer_messages(db, rw.buyer.id)
    assert (m.kind, m.case_id) == ("refund_approved", case.id)
    assert json.loads(m.params)["amount_fen"] == 3_000


def test_r25_rejection_is_told_once_with_the_reason(db, rw, clock):
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=False,
                         now=clock.now()).case
    refunds.reject(db.session, rw.main, case.id, "商品有明显使用痕迹", clock.now())
    with pytest.raises(refunds.CaseClosed):
        refunds.reject(db.session, rw.main, case.id, "again", clock.now())
    [m] = buyer_messages(db, rw.buyer.id)
    assert (m.kind, m.case_id) == ("refund_rejected", case.id)
    assert json.loads(m.params)["reason"] == "商品有明显使用痕迹"


def test_r25_a_message_has_exactly_one_audience(db, make, clock):
    w = payout_world(make, db)
    for audience in ({"shop_id": w.shop.id, "buyer_id": w.buyer.id}, {}):
        db.session.add(InSiteMessage(kind="payout_failed", params="{}", link="", created_at=clock.now(), **audience))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_r18_each_buyer_reads_only_their_own_messages(db, make, clock):
    w = payout_world(make, db)
    other = make.buyer()
    p = psvc.create_payout(db.session, w.staff, intent(w.order, 500), clock.now()).payout
    psvc.settle_succeeded(db.session, p.id, clock.now())
    [mine] = buyer_messages(db, w.buyer.id)
    assert inbox.buyer_unread_count(db.session, w.buyer.id) == 1 and inbox.buyer_unread_count(db.session, other.id) == 0
    assert inbox.buyer_get(db.session, other.id, mine.id) is None and inbox.buyer_messages(db.session, other.id).rows == []
    inbox.buyer_mark_read(db.session, other.id, mine.id, clock.now())  # not theirs: changes nothing
    inbox.buyer_mark_all_read(db.session, other.id, clock.now())
    assert inbox.buyer_unread_count(db.session, w.buyer.id) == 1
    assert inbox.unread_count(db.session, w.shop.id) == 0 and inbox.get(db.session, w.shop.id, mine.id) is None  # nor the shop
    inbox.buyer_mark_read(db.session, w.buyer.id, mine.id, clock.now())
    assert inbox.buyer_unread_count(db.session, w.buyer.id) == 0
    assert db.session.scalar(select(func.count()).select_from(InSiteMessage)) == 1
