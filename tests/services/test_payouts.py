"""Small payouts through the services, on SQLite and PostgreSQL: every R2/R3 limit at its
boundary under the real transaction, idempotent creation (R4), processing and settlement (R6)."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.support import assert_money_invariants, both_backends, intent, payout_world, run_until_final
from webapp import worker
from webapp.domain.payout_rules import Code
from webapp.models import AccountDayUsage, AuditEvent, FundsAccount, InSiteMessage, LedgerEntry, Payout, ShopDayUsage
from webapp.services import payouts as svc

pytestmark = both_backends


def refused(db, actor, it, now):
    with pytest.raises(svc.PayoutRefused) as info:
        svc.create_payout(db.session, actor, it, now)
    return [r.code for r in info.value.refusals]


def test_r4_create_holds_money_bumps_counters_and_audits(db, make, clock):
    w = payout_world(make, db)
    created = svc.create_payout(db.session, w.staff, intent(w.order, 500), clock.now())
    p = created.payout
    assert not created.replayed and p.status == "pending" and p.amount_fen == 500 and p.started_by_id == w.staff.id
    funds = db.session.get(FundsAccount, w.shop.id)
    assert (funds.available_fen, funds.held_fen) == (1_000_000 - 500, 500)
    assert db.session.get(ShopDayUsage, (w.shop.id, p.shop_day)).committed_fen == 500
    assert db.session.get(AccountDayUsage, (w.staff.id, p.shop_day)).committed_fen == 500
    hold = db.session.scalars(select(LedgerEntry).where(LedgerEntry.payout_id == p.id)).one()
    assert (hold.movement, hold.from_account, hold.to_account, hold.amount_fen) == ("hold", "available", "held", 500)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payout.create")) == 1
    assert_money_invariants(db, w.shop.id)


def test_r2_1_five_active_payouts_per_order_failed_ones_do_not_count(db, make, clock):
    w = payout_world(make, db)
    ids = []
    for _ in range(5):
        ids.append(svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now()).payout.id)
        clock.advance(minutes=1)
    assert refused(db, w.main, intent(w.order, 100), clock.now()) == [Code.ORDER_COUNT_LIMIT]
    svc.settle_failed(db.session, ids[0], "test", clock.now())
    assert svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now()).payout.status == "pending"
    assert_money_invariants(db, w.shop.id)


def test_r2_2_one_payout_per_order_per_minute(db, make, clock):
    w = payout_world(make, db)
    first = svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now()).payout
    svc.settle_failed(db.session, first.id, "test", clock.now())  # any status counts, failed too
    clock.advance(seconds=59)
    assert refused(db, w.main, intent(w.order, 100), clock.now()) == [Code.TOO_FREQUENT]
    clock.advance(seconds=1)
    svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now())


def test_r2_3_staff_without_quota_and_main_without(db, make, clock):
    w = payout_world(make, db, quota=None)
    assert refused(db, w.staff, intent(w.order, 100), clock.now()) == [Code.NO_QUOTA]
    svc.create_payout(db.session, w.main, intent(w.order, 100), clock.now())


def test_r2_4_order_paid_amount_reached(db, make, clock):
    w = payout_world(make, db, paid_fen=1_000)
    svc.create_payout(db.session, w.main, intent(w.order, 1_000), clock.now())
    clock.advance(minutes=1)
    assert refused(db, w.main, intent(w.order, 1), clock.now())[0] == Code.ORDER_FULLY_PAID_OUT


def test_r2_5_and_r3_3_shop_daily_cap_and_rollover_at_shanghai_midnight(db, make, clock):
    w = payout_world(make, db, paid_fen=100_000, cap_fen=3_000)
    other = make.order(w.shop, w.buyer, paid_fen=100_000)
    clock.set(datetime(2026, 11, 23, 15, 58, tzinfo=timezone.utc))  # 23:58 in Shanghai
    svc.create_payout(db.session, w.main, intent(w.order, 2_000), clock.now())
    assert refused(db, w.main, intent(other, 1_001), clock.now()) == [Code.OVER_SHOP_REMAINING]  # R3.3
    svc.create_payout(db.session, w.main, intent(other, 1_000), clock.now())  # exactly at the cap
    clock.advance(minutes=1)  # 23:59
    assert refused(db, w.main, intent(w.order, 1), clock.now())[0] == Code.SHOP_DAILY_CAP_REACHED  # R2.5
    clock.set(datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc))  # 00:00 next shop day
    p = svc.create_payout(db.session, w.main, intent(w.order, 3_000), clock.now()).payout
    assert str(p.shop_day) == "2026-11-24"
    assert_money_invariants(db, w.shop.id)


def test_r3_1_per_payout_limit(db, make, clock):
    w = payout_world(make, db, quota=(5_000, 20_000))
    assert refused(db, w.staff, intent(w.order, 5_001), clock.now()) == [Code.OVER_PER_PAYOUT_LIMIT]
    svc.create_payout(db.session, w.staff, intent(w.order, 5_000), clock.now())


def test_r3_2_staff_daily_limit_and_its_rollover(db, make, clock):
    w = payout_world(make, db, paid_fen=100_000, quota=(5_000, 8_000))
    orders = [w.order] + [make.order(w.shop, w.buyer, paid_fen=100_000) for _ in range(2)]
    svc.create_payout(db.session, w.staff, intent(orders[0], 5_000), clock.now())
    assert refused(db, w.staff, intent(orders[1], 3_001), clock.now()) == [Code.OVER_ACCOUNT_DAILY_LIMIT]
    svc.create_payout(db.session, w.staff, intent(orders[1], 3_000), clock.now())
    assert refused(db, w.staff, intent(orders[2], 1), clock.now())[0] == Code.OVER_ACCOUNT_DAILY_LIMIT
    svc.create_payout(db.session, w.main, intent(orders[2], 1), clock.now())  # the main account is not limited
    clock.set(clock.now().replace(hour=16, minute=0) + timedelta(days=0 if clock.now().hour < 16 else 1))
    svc.create_payout(db.session, w.staff, intent(orders[2], 5_000), clock.now())


def test_r3_4_funds_balance(db, make, clock):
    w = payout_world(make, db, funds_fen=800)
    assert refused(db, w.main, intent(w.order, 801), clock.now()) == [Code.INSUFFICIENT_FUNDS]
    svc.create_payout(db.session, w.main, intent(w.order, 800), clock.now())
    assert db.session.get(FundsAccount, w.shop.id).available_fen == 0


def test_r3_4_shop_without_funds_account_is_refused(db, make, clock):
    w = payout_world(make, db, funds_fen=0)
    assert Code.INSUFFICIENT_FUNDS in refused(db, w.main, intent(w.order, 1), clock.now())


def test_r3_5_order_remaining(db, make, clock):
    w = payout_world(make, db, paid_fen=1_000)
    svc.create_payout(db.session, w.main, intent(w.order, 600), clock.now())
    clock.advance(minutes=1)
    assert refused(db, w.main, intent(w.order, 401), clock.now()) == [Code.OVER_ORDER_REMAINING]
    svc.create_payout(db.session, w.main, intent(w.order, 400), clock.now())


@pytest.mark.parametrize("amount_fen", [0, -1, -500])
def test_r3_5_rules_refuse_non_positive_amounts_and_write_nothing(db, make, clock, amount_fen):
    w = payout_world(make, db)
    assert refused(db, w.main, intent(w.order, amount_fen), clock.now()) == [Code.AMOUNT_NOT_POSITIVE]
    assert refused(db, w.staff, intent(w.order, amount_fen), clock.now()) == [Code.AMOUNT_NOT_POSITIVE]
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0
    assert_money_invariants(db, w.shop.id)


def test_r3_5_database_refuses_non_positive_amounts_even_past_the_rules(db, make, clock):
    """Rows written straight to the tables, past the services and their rules: the schema's own
    CHECK constraints refuse a payout or a ledger movement of zero or less (a positive one goes in)."""
    from sqlalchemy.exc import IntegrityError

    w = payout_world(make, db)
    ids = (w.shop.id, w.order.id, w.buyer.id, w.main.id)
    now = clock.now()

    def payout_row(amount_fen):
        shop_id, order_id, buyer_id, main_id = ids
        return Payout(shop_id=shop_id, order_id=order_id, buyer_id=buyer_id, started_by_id=main_id,
                      amount_fen=amount_fen, reason_code="shipping_fee", note="", request_key=f"raw-{amount_fen}",
                      status="pending", shop_day=now.date(), created_at=now, updated_at=now)

    def ledger_row(amount_fen):
        return LedgerEntry(shop_id=ids[0], movement="hold", from_account="available", to_account="held",
                           amount_fen=amount_fen, available_after_fen=0, created_at=now)

    for build in (payout_row, ledger_row):
        db.session.add(build(1))
        db.session.flush()  # the control: the same row with a positive amount is accepted
        db.session.rollback()
        for amount_fen in (0, -1, -100):
            db.session.add(build(amount_fen))
            with pytest.raises(IntegrityError, match="(?i)amount_positive|check constraint"):
                db.session.flush()
            db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0


def test_refusal_writes_nothing(db, make, clock):
    w = payout_world(make, db, funds_fen=100)
    before = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    refused(db, w.staff, intent(w.order, 200), clock.now())
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == before
    assert db.session.scalar(select(func.count()).select_from(ShopDayUsage)) == 0


def test_r4_replayed_request_key_returns_the_same_payout(db, make, clock):
    w = payout_world(make, db)
    it = intent(w.order, 500, key="k-1")
    first = svc.create_payout(db.session, w.staff, it, clock.now())
    clock.advance(seconds=5)
    again = svc.create_payout(db.session, w.staff, it, clock.now())
    assert again.replayed and again.payout.id == first.payout.id
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1
    assert db.session.get(FundsAccount, w.shop.id).held_fen == 500


@pytest.mark.parametrize("change", [{"amount_fen": 501}, {"reason": "other"}, {"note": "different"}, {"order": "other"}])
def test_r4_same_key_with_other_parameters_is_refused(db, make, clock, change):
    w = payout_world(make, db)
    svc.create_payout(db.session, w.staff, intent(w.order, 500, key="k-2"), clock.now())
    order = make.order(w.shop, w.buyer) if change.get("order") else w.order
    it = intent(order, change.get("amount_fen", 500), key="k-2", reason=change.get("reason", "shipping_fee"),
                note=change.get("note", ""))
    with pytest.raises(svc.RequestKeyConflict):
        svc.create_payout(db.session, w.staff, it, clock.now())
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1


def test_r18_other_shops_order_is_not_found(db, make, clock):
    w = payout_world(make, db)
    elsewhere = make.order(make.shop(), w.buyer)
    with pytest.raises(svc.OrderNotFound):
        svc.create_payout(db.session, w.main, intent(elsewhere, 100), clock.now())
    with pytest.raises(svc.OrderNotFound):
        svc.eligibility(db.session, w.main, elsewhere.order_no, clock.now())


def test_eligibility_reports_allowances(db, make, clock):
    w = payout_world(make, db, paid_fen=10_000, quota=(5_000, 8_000))
    svc.create_payout(db.session, w.staff, intent(w.order, 4_000), clock.now())
    e = svc.eligibility(db.session, w.staff, w.order.order_no, clock.now())
    assert [r.code for r in e.reasons] == [Code.TOO_FREQUENT]
    a = e.allowances
    assert (a.order_remaining_fen, a.per_payout_fen, a.account_remaining_fen) == (6_000, 5_000, 4_000)
    assert a.max_fen == 4_000 and e.paid_out_by_status == {"pending": 4_000}


# --- processing (R6) ------------------------------------------------------------------------

def test_r6_pending_processing_succeeded_captures_the_money(db, make, clock, app):
    w = payout_world(make, db)
    p = svc.create_payout(db.session, w.staff, intent(w.order, 500), clock.now()).payout
    claims = worker.claim_due(clock.now())
    assert claims == [worker.Claim(p.id, 1)]
    worker.submit(claims[0], clock.now())
    p = db.session.get(Payout, p.id, populate_existing=True)
    assert p.status == "processing" and p.channel_ref == f"SIM{p.id:010d}"
    p = run_until_final(db, clock, p.id, step_seconds=2, max_rounds=10)
    assert p.status == "succeeded" and p.succeeded_at is not None
    funds = db.session.get(FundsAccount, w.shop.id, populate_existing=True)
    assert (funds.held_fen, funds.paid_out_fen) == (0, 500)
    assert db.session.scalar(select(func.count()).select_from(InSiteMessage).where(InSiteMessage.shop_id.is_not(None))) == 0  # success: no shop message
    assert app.extensions["afterdesk.channel"].submit_calls == 1
    assert_money_invariants(db, w.shop.id)


def test_r6_failed_payout_releases_money_gives_allowance_back_and_messages_once(db, make, clock):
    w = payout_world(make, db, quota=(5_000, 5_000))
    frozen = make.buyer(login="frozen-buyer")
    order = make.order(w.shop, frozen)
    p = svc.create_payout(db.session, w.staff, intent(order, 5_000), clock.now()).payout
    p = run_until_final(db, clock, p.id, step_seconds=2, max_rounds=10)
    assert p.status == "failed" and p.failure_reason == "buyer_wallet_frozen"
    funds = db.session.get(FundsAccount, w.shop.id, populate_existing=True)
    assert (funds.available_fen, funds.held_fen, funds.paid_out_fen) == (1_000_000, 0, 0)
    assert db.session.get(AccountDayUsage, (w.staff.id, p.shop_day), populate_existing=True).committed_fen == 0
    assert not svc.settle_failed(db.session, p.id, "again", clock.now())  # idempotent
    msgs = db.session.scalars(select(InSiteMessage).where(InSiteMessage.shop_id.is_not(None))).all()  # the shop's (the buyer is told too, R25)
    assert len(msgs) == 1 and msgs[0].payout_id == p.id and msgs[0].shop_id == w.shop.id
    # The merchant may start a new payout for the order right away (a minute later, R2.2).
    clock.advance(minutes=1)
    svc.create_payout(db.session, w.staff, intent(order, 5_000), clock.now())
    assert_money_invariants(db, w.shop.id)


def payout_after_an_outage(db, make, clock, app):
    """A ¥5 payout whose first attempt met a channel outage; the channel is back."""
    w = payout_world(make, db)
    channel = app.extensions["afterdesk.channel"]
    p = svc.create_payout(db.session, w.main, intent(w.order, 500), clock.now()).payout
    channel.outage = True
    worker.run_once(clock.now())
    channel.outage = False
    return w, channel, db.session.get(Payout, p.id, populate_existing=True)


def test_r6_transient_errors_retry_with_backoff(db, make, clock, app):
    w, channel, p = payout_after_an_outage(db, make, clock, app)
    assert p.status == "pending" and p.attempts == 1 and p.next_attempt_at > clock.now()
    worker.run_once(clock.now())  # not due yet
    assert db.session.get(Payout, p.id, populate_existing=True).attempts == 1
    clock.advance(seconds=2)
    assert run_until_final(db, clock, p.id, step_seconds=2, max_rounds=10).status == "succeeded"


def test_r6_continue_payout_requeues_a_pending_payout_and_never_pays_twice(db, make, clock, app):
    w, channel, p = payout_after_an_outage(db, make, clock, app)
    for _ in range(3):  # an impatient merchant presses 继续打款 several times
        svc.continue_payout(db.session, w.main, p.id, clock.now())
    assert db.session.get(Payout, p.id, populate_existing=True).next_attempt_at == clock.now()
    p = run_until_final(db, clock, p.id, step_seconds=2, max_rounds=10)
    svc.continue_payout(db.session, w.main, p.id, clock.now())  # on a final payout: nothing happens
    worker.run_once(clock.now())
    assert p.status == "succeeded" and len([t for t in channel.transfers() if t["payout_id"] == p.id]) == 1
    assert db.session.get(FundsAccount, w.shop.id, populate_existing=True).paid_out_fen == 500


def test_r6_unattended_payout_is_final_within_30_minutes(db, make, clock, app):
    w = payout_world(make, db)
    app.extensions["afterdesk.channel"].outage = True
    start = clock.now()
    p = svc.create_payout(db.session, w.main, intent(w.order, 500), start).payout
    while clock.now() - start < timedelta(minutes=30):
        worker.run_once(clock.now())
        clock.advance(seconds=30)
        if db.session.get(Payout, p.id, populate_existing=True).status == "failed":
            break
    p = db.session.get(Payout, p.id, populate_existing=True)
    assert p.status == "failed" and p.failed_at - start <= timedelta(minutes=30)
    assert p.failure_reason == worker.GAVE_UP
    assert_money_invariants(db, w.shop.id)


def test_r6_an_in_doubt_attempt_is_never_given_up_without_the_channels_word(db, make, clock, app):
    """Attempt 1 reached the channel but its answer timed out; attempt 2 was refused outright.
    At the give-up deadline the payout must not be failed blind: the channel is paying it."""
    from webapp.channel import TransientChannelError

    w = payout_world(make, db)
    channel = app.extensions["afterdesk.channel"]
    real_submit, real_status = channel.submit, channel.status
    calls = {"n": 0}

    def flaky_submit(*args):
        calls["n"] += 1
        if calls["n"] == 1:
            real_submit(*args)
            raise TransientChannelError("timeout", delivered=True)
        raise TransientChannelError("connection refused", delivered=False)

    def down(payout_id, now):
        raise TransientChannelError("down", delivered=False)

    channel.submit, channel.status = flaky_submit, down
    start = clock.now()
    p = svc.create_payout(db.session, w.main, intent(w.order, 500), start).payout
    while clock.now() - start < timedelta(minutes=29):
        worker.run_once(clock.now())
        clock.advance(seconds=30)
    assert db.session.get(Payout, p.id, populate_existing=True).status != "failed"
    assert db.session.get(FundsAccount, w.shop.id, populate_existing=True).held_fen == 500  # money still held
    channel.status = real_status  # the channel answers again: it paid
    for _ in range(3):
        worker.run_once(clock.now())
        clock.advance(seconds=5)
    p = db.session.get(Payout, p.id, populate_existing=True)
    assert p.status == "succeeded" and len([t for t in channel.transfers() if t["payout_id"] == p.id]) == 1
    assert_money_invariants(db, w.shop.id)
