"""Money controls on small payouts, on SQLite and PostgreSQL: the undo window (R21) and approval
above a threshold (R20). Money is held and caps are counted from creation; a cancelled payout
releases both; nothing withdrawn, rejected or expired ever reaches the channel."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from tests.support import account, assert_money_invariants, both_backends, channel, fresh, intent, payout_world, race
from webapp import worker
from webapp.models import AuditEvent, FundsAccount, InSiteMessage, ShopDayUsage
from webapp.services import payouts as svc

pytestmark = both_backends


def shop_usage(db, shop_id) -> int:
    db.session.commit()
    return sum(db.session.scalars(select(ShopDayUsage.committed_fen).where(ShopDayUsage.shop_id == shop_id)))


def held(db, shop_id) -> int:
    db.session.commit()
    return db.session.get(FundsAccount, shop_id, populate_existing=True).held_fen


# --- R21 undo window -----------------------------------------------------------------------------

@pytest.fixture
def windowed(make, db):
    w = payout_world(make, db)
    w.shop.undo_window_seconds = 30
    db.session.commit()
    return w


def test_r21_a_new_payout_is_not_sent_inside_the_undo_window(app, db, windowed, clock):
    p = svc.create_payout(db.session, windowed.staff, intent(windowed.order, 500), clock.now()).payout
    assert p.status == "pending" and held(db, windowed.shop.id) == 500
    worker.run_once(clock.advance(seconds=29))
    assert fresh(db, p.id).status == "pending" and channel(app).submit_calls == 0
    worker.run_once(clock.advance(seconds=1))
    assert fresh(db, p.id).status == "processing" and channel(app).submit_calls == 1


def test_r21_withdrawn_inside_the_window_never_reaches_the_channel(app, db, windowed, clock):
    p = svc.create_payout(db.session, windowed.staff, intent(windowed.order, 500), clock.now()).payout
    clock.advance(seconds=10)
    svc.withdraw(db.session, account(app, windowed.staff.id), p.id, clock.now())
    p = fresh(db, p.id)
    assert (p.status, p.cancel_reason) == ("cancelled", "withdrawn")
    for _ in range(5):
        worker.run_once(clock.advance(seconds=30))
    assert channel(app).transfers() == [] and channel(app).submit_calls == 0
    assert held(db, windowed.shop.id) == 0 and shop_usage(db, windowed.shop.id) == 0  # money and allowance back
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.target_id == str(p.id),
                                                             AuditEvent.action == "payout.withdrawn"))
    assert_money_invariants(db, windowed.shop.id)


def test_r21_continue_payout_skips_the_rest_of_the_window(app, db, windowed, clock):
    p = svc.create_payout(db.session, windowed.main, intent(windowed.order, 500), clock.now()).payout
    svc.continue_payout(db.session, windowed.main, p.id, clock.advance(seconds=2))
    worker.run_once(clock.now())
    assert fresh(db, p.id).status == "processing"


def test_r21_a_sent_payout_can_no_longer_be_withdrawn(app, db, windowed, clock):
    p = svc.create_payout(db.session, windowed.main, intent(windowed.order, 500), clock.now()).payout
    worker.run_once(clock.advance(seconds=31))
    with pytest.raises(svc.DecisionRefused) as exc:
        svc.withdraw(db.session, account(app, windowed.main.id), p.id, clock.now())
    assert exc.value.code == "already_sent" and fresh(db, p.id).status == "processing"


def test_r21_only_the_starter_or_the_main_account_withdraws(app, db, windowed, make, clock):
    other = make.account(windowed.shop, role="staff")
    p = svc.create_payout(db.session, windowed.staff, intent(windowed.order, 500), clock.now()).payout
    with pytest.raises(svc.DecisionRefused) as exc:
        svc.withdraw(db.session, account(app, other.id), p.id, clock.now())
    assert exc.value.code == "not_allowed"
    svc.withdraw(db.session, account(app, windowed.main.id), p.id, clock.now())
    assert fresh(db, p.id).status == "cancelled"


def test_r21_withdraw_racing_the_worker_ends_in_exactly_one(app, db, windowed, clock):
    """At the end of the window the worker claims the payout while the starter withdraws it:
    either it is cancelled and never sent, or it is sent and the withdrawal is refused."""
    pids = [svc.create_payout(db.session, windowed.main, intent(windowed.order if i == 0 else
                              _order(windowed, db), 500), clock.now()).payout.id for i in range(6)]
    at = clock.advance(seconds=30)
    main_id = windowed.main.id

    def attempt(i):
        if i == 0:
            return worker.run_once(at)
        return svc.withdraw(db.session, account(app, main_id), pids[i - 1], at).status

    results = race(app, 7, attempt)
    for ok, value in results:
        assert ok or (isinstance(value, svc.DecisionRefused) and value.code == "already_sent"), repr(value)
    for pid in pids:
        p = fresh(db, pid)
        sent = [t for t in channel(app).transfers() if t["payout_id"] == pid]
        assert (p.status == "cancelled" and not sent) or (p.status == "processing" and len(sent) == 1), (p.status, sent)
    assert_money_invariants(db, windowed.shop.id)


def _order(w, db):
    from tests.support import Factory

    return Factory(db, w.order.paid_at).order(w.shop, w.buyer, paid_fen=100_000)


# --- R20 approval ------------------------------------------------------------------------------------

@pytest.fixture
def approval(make, db):
    w = payout_world(make, db, paid_fen=100_000, quota=(50_000, 100_000))
    w.shop.payout_approval_fen = 20_000  # ¥200
    w.approver = make.account(w.shop, role="staff", is_approver=True)
    make.quota(w.approver, 50_000, 100_000)
    db.session.commit()
    return w


def test_r20_at_the_threshold_a_payout_waits_with_its_money_held_and_caps_counted(app, db, approval, clock):
    p = svc.create_payout(db.session, approval.staff, intent(approval.order, 20_000), clock.now()).payout
    assert p.status == "awaiting_approval"
    assert held(db, approval.shop.id) == 20_000 and shop_usage(db, approval.shop.id) == 20_000
    e = svc.eligibility(db.session, account(app, approval.staff.id), approval.order.order_no, clock.now())
    assert e.facts.order_committed_fen == 20_000 and e.facts.account_used_today_fen == 20_000
    for _ in range(3):
        worker.run_once(clock.advance(seconds=30))
    assert fresh(db, p.id).status == "awaiting_approval" and channel(app).submit_calls == 0
    assert db.session.scalar(select(InSiteMessage.kind).where(InSiteMessage.payout_id == p.id)) == "payout_awaiting_approval"
    below = svc.create_payout(db.session, approval.staff, intent(_order(approval, db), 19_999), clock.now()).payout
    assert below.status == "pending"
    mine = svc.create_payout(db.session, approval.main, intent(_order(approval, db), 30_000), clock.now()).payout
    assert mine.status == "pending"  # the main account's own payouts do not wait: it is the approver
    assert_money_invariants(db, approval.shop.id)


def test_r20_approved_it_is_sent_and_paid(app, db, approval, clock):
    p = svc.create_payout(db.session, approval.staff, intent(approval.order, 20_000), clock.now()).payout
    svc.approve(db.session, account(app, approval.approver.id), p.id, clock.advance(hours=3))
    p = fresh(db, p.id)
    assert p.status == "pending" and p.decided_by_id == approval.approver.id
    for _ in range(5):  # the give-up deadline runs from the approval, not the creation
        worker.run_once(clock.advance(seconds=2))
    assert fresh(db, p.id).status == "succeeded"
    assert_money_invariants(db, approval.shop.id)


def test_r20_the_requester_never_approves_their_own(app, db, approval, clock):
    p = svc.create_payout(db.session, approval.approver, intent(approval.order, 20_000), clock.now()).payout
    assert p.status == "awaiting_approval"
    for actor in (approval.approver, approval.staff):  # the requester; a sub-account that is no approver
        with pytest.raises(svc.DecisionRefused) as exc:
            svc.approve(db.session, account(app, actor.id), p.id, clock.now())
        assert exc.value.code in ("own_request", "not_allowed")
    svc.approve(db.session, account(app, approval.main.id), p.id, clock.now())
    assert fresh(db, p.id).status == "pending"


def test_r20_rejected_it_is_cancelled_money_and_allowance_back_requester_told(app, db, approval, clock):
    p = svc.create_payout(db.session, approval.staff, intent(approval.order, 20_000), clock.now()).payout
    svc.reject(db.session, account(app, approval.main.id), p.id, "too much", clock.now())
    p = fresh(db, p.id)
    assert (p.status, p.cancel_reason, p.decision_note) == ("cancelled", "rejected", "too much")
    assert held(db, approval.shop.id) == 0 and shop_usage(db, approval.shop.id) == 0
    kinds = set(db.session.scalars(select(InSiteMessage.kind).where(InSiteMessage.payout_id == p.id,
                                                                    InSiteMessage.shop_id == approval.shop.id)))
    assert "payout_cancelled" in kinds
    assert_money_invariants(db, approval.shop.id)


def test_r20_not_decided_within_24_hours_it_is_cancelled(app, db, approval, clock):
    p = svc.create_payout(db.session, approval.staff, intent(approval.order, 20_000), clock.now()).payout
    worker.run_once(clock.advance(hours=23, minutes=59))
    assert fresh(db, p.id).status == "awaiting_approval"
    worker.run_once(clock.advance(minutes=1))
    p = fresh(db, p.id)
    assert (p.status, p.cancel_reason) == ("cancelled", "approval_expired") and channel(app).submit_calls == 0
    assert_money_invariants(db, approval.shop.id)


@pytest.mark.race
def test_r20_two_approvers_deciding_at_once_decide_once(app, db, approval, make, clock):
    second = make.account(approval.shop, role="staff", is_approver=True)
    p = svc.create_payout(db.session, approval.staff, intent(approval.order, 20_000), clock.now()).payout
    ids, now, pid = [approval.main.id, approval.approver.id, second.id], clock.now(), p.id

    def attempt(i):
        actor = account(app, ids[i % 3])
        if i % 2:
            return svc.approve(db.session, actor, pid, now).status
        return svc.reject(db.session, actor, pid, "no", now).status

    results = race(app, 6, attempt)
    winners = [v for ok, v in results if ok]
    assert len(winners) == 1, results
    for ok, value in results:
        assert ok or (isinstance(value, svc.DecisionRefused) and value.code == "already_decided"), repr(value)
    assert_money_invariants(db, approval.shop.id)


@pytest.mark.race
def test_r20_an_approval_racing_a_withdrawal_ends_in_exactly_one(app, db, approval, clock):
    p = svc.create_payout(db.session, approval.staff, intent(approval.order, 20_000), clock.now()).payout
    now, pid, main_id, staff_id = clock.now(), p.id, approval.main.id, approval.staff.id

    def attempt(i):
        if i == 0:
            return svc.approve(db.session, account(app, main_id), pid, now).status
        return svc.withdraw(db.session, account(app, staff_id), pid, now).status

    results = race(app, 2, attempt)
    assert sum(ok for ok, _ in results) == 1, results
    for ok, value in results:
        assert ok or (isinstance(value, svc.DecisionRefused) and value.code == "already_decided"), repr(value)
    status = fresh(db, pid).status
    assert status in ("pending", "cancelled")
    assert held(db, approval.shop.id) == (20_000 if status == "pending" else 0)
    assert_money_invariants(db, approval.shop.id)
