"""Money in through the payment channel port (issue 13 point 4), on SQLite and PostgreSQL: the
funds page's top-up pays the arrears back first (R13, the same rule as the CLI's top-up), is
audited (R19), is credited once per form however often it is sent, and a channel that does not
answer leaves it pending until the channel's word settles it. Every ledger row carries the
available balance after it (the running balance)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support import assert_money_invariants, both_backends, channel, intent, payout_world, race
from webapp.channel.base import TransientChannelError
from webapp.models import AuditEvent, FundsAccount, FundsTopup, LedgerEntry
from webapp.models.funds import Memo, TopupStatus, available_delta
from webapp.services import funds as svc
from webapp.services import ledger, refunds
from webapp.services import payouts as psvc

pytestmark = both_backends

TTL = timedelta(seconds=20)
KEY = "a" * 32


def topup(db, app, actor, amount_fen, now, key=KEY, **kw):
    return svc.request_topup(db.session, actor, amount_fen, key, now, channel=kw.pop("via", channel(app)), ttl=TTL, **kw)


def balances(db, shop_id):
    db.session.commit()
    f = db.session.get(FundsAccount, shop_id, populate_existing=True)
    return f.available_fen, f.arrears_fen, f.topped_up_fen


def ledger_rows(db, shop_id):
    db.session.commit()
    return db.session.execute(select(LedgerEntry.movement, LedgerEntry.amount_fen, LedgerEntry.memo,
                                     LedgerEntry.available_after_fen)
                              .where(LedgerEntry.shop_id == shop_id)
                              .order_by(LedgerEntry.created_at, LedgerEntry.id)).all()


def with_arrears(make, db, clock, arrears_fen=2_000):
    """A shop whose fast refund of ¥30 found only ¥10 in the funds account: ¥20 in arrears (R13)."""
    w = payout_world(make, db, paid_fen=3_000, funds_fen=3_000 - arrears_fen)
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert balances(db, w.shop.id)[:2] == (0, arrears_fen)
    return w


def test_r13_a_top_up_through_the_channel_pays_the_arrears_first_and_is_audited(app, db, make, clock):
    w = with_arrears(make, db, clock)
    sim = channel(app)
    result = topup(db, app, w.main, 5_000, clock.now(), ip="203.0.113.9")
    assert result.status == TopupStatus.SUCCEEDED and not result.replayed
    assert (result.recovered_fen, result.available_fen) == (2_000, 3_000)
    assert balances(db, w.shop.id) == (3_000, 0, 1_000 + 5_000)
    assert sim.recharge_calls == 1
    assert [t.amount_fen for t in db.session.scalars(select(FundsTopup))] == [5_000]
    # The ledger: the top-up, then the arrears recovered from it, each with its code and the balance after it.
    assert ledger_rows(db, w.shop.id)[-2:] == [("topup", 5_000, Memo.TOPUP_APP, 5_000),
                                               ("recover", 2_000, Memo.ARREARS_RECOVERED, 3_000)]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "funds.topup")
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.actor_kind, event.actor_id, event.shop_id, event.ip) == ("merchant", w.main.id, w.shop.id, "203.0.113.9")
    assert '"recovered_fen": 2000' in event.after and f'"topup_id": {result.topup_id}' in event.after
    assert_money_invariants(db, w.shop.id)
    psvc.create_payout(db.session, w.main, intent(make.order(w.shop, w.buyer), 100), clock.now())  # arrears cleared


def test_the_cli_top_up_follows_the_same_rule(app, db, make, clock):
    w = with_arrears(make, db, clock, arrears_fen=2_000)
    ledger.topup(db.session, w.shop.id, 1_500, clock.now())  # the CLI's service: not enough for the arrears
    assert balances(db, w.shop.id)[:2] == (0, 500)
    assert ledger_rows(db, w.shop.id)[-2:] == [("topup", 1_500, Memo.TOPUP_CLI, 1_500),
                                               ("recover", 1_500, Memo.ARREARS_RECOVERED, 0)]
    assert channel(app).recharge_calls == 0  # an operator's top-up: money already received outside


def test_a_double_submit_is_credited_once_and_answers_the_same_top_up(app, db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    first = topup(db, app, w.main, 2_500, clock.now())
    again = topup(db, app, w.main, 2_500, clock.now() + timedelta(seconds=1))
    assert again.replayed and again.topup_id == first.topup_id and again.status == TopupStatus.SUCCEEDED
    assert channel(app).recharge_calls == 1  # the settled form never asks the channel again
    assert balances(db, w.shop.id) == (2_500, 0, 2_500)
    assert db.session.scalar(select(func.count()).where(LedgerEntry.movement == "topup")) == 1
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "funds.topup")) == 1
    with pytest.raises(svc.TopupKeyConflict):  # the same form, another amount: refused, nothing moves
        topup(db, app, w.main, 9_900, clock.now())
    assert balances(db, w.shop.id) == (2_500, 0, 2_500)
    other = topup(db, app, w.main, 2_500, clock.now(), key="b" * 32)  # a new form is a new top-up
    assert other.topup_id != first.topup_id and balances(db, w.shop.id)[0] == 5_000


def test_the_same_form_sent_by_racing_requests_is_credited_once(app, db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    main_id, now = w.main.id, clock.now()

    def send(_):
        from tests.support import account
        from webapp.extensions import db as tdb

        return svc.request_topup(tdb.session, account(app, main_id), 4_000, KEY, now, channel=channel(app), ttl=TTL)

    results = race(app, 4, send)
    assert all(ok for ok, _ in results), [r for ok, r in results if not ok]
    assert {r.topup_id for _, r in results} == {results[0][1].topup_id}
    assert sorted(r.replayed for _, r in results) == [False, True, True, True]
    assert balances(db, w.shop.id) == (4_000, 0, 4_000)
    assert_money_invariants(db, w.shop.id)


@pytest.mark.parametrize("amount_fen, code", [(99, "below_min"), (100_000_001, "above_max")])
def test_amounts_outside_the_bounds_are_refused_before_anything_is_written(app, db, make, clock, amount_fen, code):
    w = payout_world(make, db, funds_fen=0)
    with pytest.raises(svc.TopupRefused) as info:
        topup(db, app, w.main, amount_fen, clock.now())
    assert info.value.code == code
    assert db.session.scalar(select(func.count()).select_from(FundsTopup)) == 0
    assert topup(db, app, w.main, 100, clock.now()).status == TopupStatus.SUCCEEDED  # the bounds themselves are fine
    assert topup(db, app, w.main, 100_000_000, clock.now(), key="c" * 32).status == TopupStatus.SUCCEEDED


def test_a_sub_account_cannot_top_up(app, db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    with pytest.raises(PermissionError):
        topup(db, app, w.staff, 1_000, clock.now())
    assert db.session.scalar(select(func.count()).select_from(FundsTopup)) == 0


def test_a_bank_that_declines_moves_nothing_and_the_refusal_is_audited(app, db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    channel(app).declined_shops = {svc.shop_ref(w.shop.id)}
    result = topup(db, app, w.main, 1_000, clock.now())
    assert result.status == TopupStatus.FAILED and result.failure_reason == "bank_declined"
    assert balances(db, w.shop.id) == (0, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "funds.topup_failed")).one()
    assert '"topup_failure": "bank_declined"' in event.after
    assert topup(db, app, w.main, 1_000, clock.now()).replayed  # that form is spent; a new one is a new try


def test_a_channel_that_cannot_be_reached_leaves_it_pending_and_the_same_form_succeeds_later(app, db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    sim = channel(app)
    sim.outage = True
    result = topup(db, app, w.main, 1_000, clock.now())
    assert result.status == TopupStatus.PENDING and not result.in_doubt  # nothing reached the channel
    assert [t.id for t in svc.pending_topups(db.session, w.shop.id)] == [result.topup_id]
    sim.outage = False
    again = topup(db, app, w.main, 1_000, clock.now() + timedelta(seconds=5))
    assert again.topup_id == result.topup_id and again.status == TopupStatus.SUCCEEDED and not again.replayed
    assert balances(db, w.shop.id) == (1_000, 0, 1_000)
    assert svc.pending_topups(db.session, w.shop.id) == []


class LostAnswer:
    """A channel that records the recharge but whose answer never arrives (a read timeout)."""

    def __init__(self, inner):
        self.inner = inner

    def recharge(self, *args):
        self.inner.recharge(*args)
        raise TransientChannelError("read timeout", delivered=True)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_answer_lost_in_transit_is_settled_by_the_worker_from_the_channels_word(app, db, make, clock):
    from webapp import worker

    w = payout_world(make, db, funds_fen=0)
    result = topup(db, app, w.main, 1_200, clock.now(), via=LostAnswer(channel(app)))
    assert result.status == TopupStatus.PENDING and result.in_doubt
    assert balances(db, w.shop.id) == (0, 0, 0)  # not credited on a guess
    worker.run_once(clock.now())  # too fresh: its request may still be answering
    assert balances(db, w.shop.id) == (0, 0, 0)
    clock.advance(seconds=11)
    worker.run_once(clock.now())
    worker.run_once(clock.now())  # once only
    assert balances(db, w.shop.id) == (1_200, 0, 1_200)
    assert db.session.get(FundsTopup, result.topup_id, populate_existing=True).status == TopupStatus.SUCCEEDED
    assert channel(app).recharge_calls == 1
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "funds.topup")).one()
    assert event.actor_kind == "system"  # credited by the reconciler, on the channel's word


class NeverArrives:
    """A channel the request never reaches, though the caller cannot know it (a timeout)."""

    def __init__(self, inner):
        self.inner = inner

    def recharge(self, *args):
        raise TransientChannelError("read timeout", delivered=True)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_top_up_unknown_to_the_channel_after_its_deadline_failed_and_nothing_moved(app, db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    result = topup(db, app, w.main, 1_200, clock.now(), via=NeverArrives(channel(app)))
    assert result.in_doubt
    clock.advance(seconds=15)  # the channel does not know it, but it may still record it until not_after
    assert svc.reconcile(db.session, clock.now(), channel=channel(app), skew=timedelta(seconds=5)) == 0
    assert db.session.get(FundsTopup, result.topup_id, populate_existing=True).status == TopupStatus.PENDING
    clock.advance(seconds=15)  # past not_after + skew: it can never be recorded
    assert svc.reconcile(db.session, clock.now(), channel=channel(app), skew=timedelta(seconds=5)) == 1
    failed = db.session.get(FundsTopup, result.topup_id, populate_existing=True)
    assert (failed.status, failed.failure_reason) == (TopupStatus.FAILED, svc.NEVER_REACHED)
    assert balances(db, w.shop.id) == (0, 0, 0)
    # The same form sent again now is told so, and is not sent to the channel after its deadline.
    again = topup(db, app, w.main, 1_200, clock.now())
    assert again.replayed and again.status == TopupStatus.FAILED and channel(app).recharge_calls == 0


def test_every_movement_carries_the_available_balance_after_it(app, db, make, clock):
    """The running balance: in (created_at, id) order each row's balance is the one before plus
    what it did to the available balance, and the last one is the funds account's."""
    from webapp import worker

    w = payout_world(make, db, funds_fen=10_000)
    channel(app).frozen_buyers.add(w.buyer.login)
    psvc.create_payout(db.session, w.main, intent(w.order, 700), clock.now())  # hold
    worker.run_once(clock.now())  # the frozen wallet: failed, released
    ok_buyer = make.buyer()
    psvc.create_payout(db.session, w.main, intent(make.order(w.shop, ok_buyer), 300), clock.now())
    topup(db, app, w.main, 5_000, clock.now())
    rows = ledger_rows(db, w.shop.id)
    assert [r.movement for r in rows] == ["topup", "hold", "release", "hold", "topup"]
    running = 0
    for r in rows:
        running += available_delta(r.movement, r.amount_fen)
        assert r.available_after_fen == running, rows
    assert running == balances(db, w.shop.id)[0] == 10_000 - 300 + 5_000


def test_a_movement_is_never_stamped_before_the_shops_previous_one(app, db, make, clock):
    """A request whose clock read came first but got the funds lock second is stamped after the
    movement it waited for, so (created_at, id) stays the order the money moved in."""
    w = payout_world(make, db, funds_fen=1_000)
    later = clock.now()
    earlier = later - timedelta(seconds=3)
    ledger.topup(db.session, w.shop.id, 500, earlier)
    db.session.commit()
    stamps = db.session.scalars(select(LedgerEntry.created_at).where(LedgerEntry.shop_id == w.shop.id)
                                .order_by(LedgerEntry.id)).all()
    assert stamps == [later, later]
