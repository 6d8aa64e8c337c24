"""Fast refunds through the services on SQLite and PostgreSQL (R10-R14), the ledger balanced
after every branch, and the database guard on the confirmed refund note (R11)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.support import assert_money_invariants, both_backends, intent, payout_world
from webapp.domain.payout_rules import Code
from webapp.domain.refund_rules import ApplyRefusal
from webapp.models import AfterSalesCase, CaseEvent, FundsAccount, RefundSettings
from webapp.services import ledger, refunds
from webapp.services import payouts as psvc

pytestmark = both_backends


@pytest.fixture
def rw(make, db, clock):
    """A certified shop with fast refund confirmed, ¥100 in funds, and a ¥30 order paid an hour ago."""
    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000, refund_quota=(100_000, 1_000_000))
    refunds.confirm_settings(db.session, w.main, "7天内未发货可极速退款，退款原路返回。", clock.now())
    return w


def kinds(db, case_id):
    return [e.kind for e in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))]


@pytest.mark.parametrize("certified, setup, missing", [(False, True, ["certification"]), (True, False, ["setup"])])
def test_r10_preconditions_refuse_enabling(db, make, clock, certified, setup, missing):
    w = payout_world(make, db)
    w.shop.certified, w.shop.setup_complete = certified, setup
    db.session.commit()
    with pytest.raises(refunds.SettingsRefused) as info:
        refunds.confirm_settings(db.session, w.main, "note", clock.now())
    assert info.value.codes == missing
    assert db.session.get(RefundSettings, w.shop.id) is None


def test_r11_confirmed_note_cannot_be_confirmed_again(db, rw, clock):
    with pytest.raises(refunds.SettingsRefused) as info:
        refunds.confirm_settings(db.session, rw.main, "a new note", clock.now())
    assert info.value.codes == ["already_confirmed"]
    assert db.session.get(RefundSettings, rw.shop.id, populate_existing=True).note.startswith("7天内")


def test_r11_database_refuses_a_direct_orm_update_of_the_note(db, rw):
    settings = db.session.get(RefundSettings, rw.shop.id)
    settings.note = "edited behind the app's back"
    with pytest.raises((IntegrityError, DBAPIError)) as info:
        db.session.commit()
    assert "frozen" in str(info.value)
    db.session.rollback()
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(update(RefundSettings).where(RefundSettings.shop_id == rw.shop.id).values(confirmed_at=None))
        db.session.commit()
    db.session.rollback()
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(text("UPDATE refund_settings SET note = 'raw sql' WHERE shop_id = :s"), {"s": rw.shop.id})
        db.session.commit()
    db.session.rollback()
    assert db.session.get(RefundSettings, rw.shop.id, populate_existing=True).note.startswith("7天内")


def test_r11_switching_off_and_on_keeps_the_note(db, rw, clock):
    refunds.set_fast_refund_enabled(db.session, rw.main, False, clock.now())
    refunds.set_fast_refund_enabled(db.session, rw.main, True, clock.now())
    s = db.session.get(RefundSettings, rw.shop.id, populate_existing=True)
    assert s.enabled and s.note.startswith("7天内")


@pytest.mark.parametrize("delta, ok", [(timedelta(days=7) - timedelta(seconds=1), True), (timedelta(days=7) + timedelta(seconds=1), False)])
def test_r12_window_boundary_with_the_injected_clock(db, rw, make, clock, delta, ok):
    order = make.order(rw.shop, rw.buyer, paid_fen=1_000, paid_at=clock.now() - delta)
    if ok:
        assert refunds.apply(db.session, rw.buyer, order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case.status == "refunded"
    else:
        # R23: after the 7 days the buyer can still apply; the shop reviews it and no money moves.
        case = refunds.apply(db.session, rw.buyer, order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
        assert (case.status, case.fast, case.review_why, case.refund_fen) == ("awaiting_merchant", False, "outside_window", None)
        assert db.session.get(FundsAccount, rw.shop.id, populate_existing=True).refunded_fen == 0


def test_r13_refund_only_is_refunded_at_once_from_the_funds_account(db, rw, clock):
    applied = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    case = applied.case
    assert applied.created and case.status == "refunded" and case.refund_fen == 3_000 and case.advanced_fen == 0 and case.fast
    assert kinds(db, case.id) == ["submitted", "auto_approved", "refunded", "order_closed"]  # R24: a full refund closes the order
    funds = db.session.get(FundsAccount, rw.shop.id, populate_existing=True)
    assert (funds.available_fen, funds.refunded_fen, funds.arrears_fen) == (7_000, 3_000, 0)
    assert_money_invariants(db, rw.shop.id)


def test_r13_return_with_intact_goods_is_automatic(db, rw, clock):
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=True, now=clock.now()).case
    assert case.status == "refunded"
    assert_money_invariants(db, rw.shop.id)


def test_r13_shortfall_is_advanced_as_arrears_which_block_payouts_and_are_recovered_first(db, make, clock):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=1_000)
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    case = refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    assert case.status == "refunded" and case.refund_fen == 3_000 and case.advanced_fen == 2_000
    funds = db.session.get(FundsAccount, w.shop.id, populate_existing=True)
    assert (funds.available_fen, funds.arrears_fen, funds.refunded_fen) == (0, 2_000, 3_000)
    assert_money_invariants(db, w.shop.id)
    other = make.order(w.shop, w.buyer)
    ledger.topup(db.session, w.shop.id, 1_500, clock.now())  # not enough to clear the arrears
    funds = db.session.get(FundsAccount, w.shop.id, populate_existing=True)
    assert (funds.available_fen, funds.arrears_fen) == (0, 500)
    with pytest.raises(psvc.PayoutRefused) as info:
        psvc.create_payout(db.session, w.main, intent(other, 100), clock.now())
    assert info.value.refusals[0].code == Code.INSUFFICIENT_FUNDS and info.value.refusals[0].params["arrears"] == 500
    ledger.topup(db.session, w.shop.id, 10_000, clock.now())  # 追缴成功: arrears first, the rest available
    funds = db.session.get(FundsAccount, w.shop.id, populate_existing=True)
    assert (funds.available_fen, funds.arrears_fen) == (9_500, 0)
    psvc.create_payout(db.session, w.main, intent(other, 100), clock.now())
    assert_money_invariants(db, w.shop.id)


def test_r14_damaged_goods_go_to_review_and_the_merchant_approves(db, rw, clock):
    applied = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=False, now=clock.now())
    case = applied.case
    assert case.status == "awaiting_merchant" and case.review_why == "goods_not_intact"
    assert db.session.get(FundsAccount, rw.shop.id).refunded_fen == 0
    again = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert not again.created and again.case.id == case.id  # one open application per order
    refunds.approve(db.session, rw.staff, case.id, clock.now())
    case = db.session.get(AfterSalesCase, case.id, populate_existing=True)
    assert case.status == "refunded" and case.refund_fen == 3_000 and case.decided_by_id == rw.staff.id
    assert kinds(db, case.id) == ["submitted", "to_review", "approved", "refunded", "order_closed"]
    assert_money_invariants(db, rw.shop.id)


def test_r14_merchant_rejects_with_a_reason(db, rw, clock):
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=False, now=clock.now()).case
    with pytest.raises(refunds.SettingsRefused):
        refunds.reject(db.session, rw.main, case.id, "  ", clock.now())
    refunds.reject(db.session, rw.main, case.id, "商品有明显使用痕迹", clock.now())
    case = db.session.get(AfterSalesCase, case.id, populate_existing=True)
    assert case.status == "rejected" and case.reject_reason == "商品有明显使用痕迹"
    with pytest.raises(refunds.CaseClosed):
        refunds.approve(db.session, rw.main, case.id, clock.now())
    assert db.session.get(FundsAccount, rw.shop.id, populate_existing=True).refunded_fen == 0


def test_shop_not_opted_in_goes_to_review(db, make, clock):
    w = payout_world(make, db, paid_fen=3_000)
    case = refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    assert case.status == "awaiting_merchant" and case.review_why == "shop_not_opted_in"


def test_refund_never_exceeds_paid_minus_already_refunded(db, rw, clock, make):
    refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    again = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert not again.created  # the double submit shows the refund already made
    # A merchant-created case on the same order cannot refund past the paid amount either.
    manual = make.case(rw.order, requested_fen=500)
    with pytest.raises(refunds.ApplicationRefused):
        refunds.approve(db.session, rw.main, manual.id, clock.now())
    total = db.session.scalar(select(func.sum(AfterSalesCase.refund_fen)).where(AfterSalesCase.order_id == rw.order.id))
    assert total == 3_000
    assert_money_invariants(db, rw.shop.id)


def test_r18_other_buyers_and_shops_cannot_touch_a_case(db, rw, clock, make):
    stranger = make.buyer()
    with pytest.raises(refunds.CaseNotFound):
        refunds.apply(db.session, stranger, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=False, now=clock.now()).case
    other = payout_world(make, db)
    with pytest.raises(refunds.CaseNotFound):
        refunds.approve(db.session, other.main, case.id, clock.now())


# --- R23: every buyer can ask for a refund ----------------------------------------------------

def _refunded_total(db, order_id):
    from webapp.models import LedgerEntry

    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).join(
        AfterSalesCase, LedgerEntry.case_id == AfterSalesCase.id).where(AfterSalesCase.order_id == order_id))


@pytest.mark.parametrize("setup, why", [
    ("not_opted_in", "shop_not_opted_in"), ("switched_off", "fast_refund_off"), ("outside_window", "outside_window"),
    ("damaged", "goods_not_intact")])
def test_r23_where_fast_refund_does_not_apply_the_case_goes_to_review_without_money(db, make, clock, setup, why):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000)
    if setup != "not_opted_in":
        refunds.confirm_settings(db.session, w.main, "note", clock.now())
    if setup == "switched_off":
        refunds.set_fast_refund_enabled(db.session, w.main, False, clock.now())
    order = w.order
    if setup == "outside_window":
        order = make.order(w.shop, w.buyer, paid_fen=3_000, paid_at=clock.now() - timedelta(days=20), status="completed")
    kind, intact = ("return_and_refund", False) if setup == "damaged" else ("refund_only", None)
    applied = refunds.apply(db.session, w.buyer, order.order_no, kind=kind, goods_intact=intact, now=clock.now())
    case = applied.case
    assert applied.created and case.status == "awaiting_merchant" and case.fast is False and case.review_why == why
    assert case.refund_fen is None and _refunded_total(db, order.id) == 0
    assert kinds(db, case.id) == ["submitted", "to_review"]
    # One open application per order: applying again returns it.
    again = refunds.apply(db.session, w.buyer, order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert not again.created and again.case.id == case.id
    assert db.session.scalar(select(func.count()).select_from(AfterSalesCase).where(AfterSalesCase.order_id == order.id)) == 1
    # The merchant approves: only now does money move.
    refunds.approve(db.session, w.main, case.id, clock.now())
    case = db.session.get(AfterSalesCase, case.id, populate_existing=True)
    assert case.status == "refunded" and case.refund_fen == 3_000 and _refunded_total(db, order.id) == 3_000
    assert_money_invariants(db, w.shop.id)


def test_r23_the_service_decides_fast_never_the_caller(db, make, clock):
    """Whatever a form sends, a shop with fast refund off never gets a case flagged fast."""
    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000)
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    refunds.set_fast_refund_enabled(db.session, w.main, False, clock.now())
    case = refunds.apply(db.session, w.buyer, w.order.order_no, kind="return_and_refund", goods_intact=True,
                         now=clock.now()).case
    assert case.fast is False and case.status == "awaiting_merchant" and case.review_why == "fast_refund_off"
    assert db.session.get(FundsAccount, w.shop.id, populate_existing=True).refunded_fen == 0


def test_r23_the_order_page_offer_matches_what_apply_does(db, make, clock):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000)
    offer = refunds.buyer_offer(db.session, w.order, clock.now())
    assert (offer.offer, offer.why) == ("review", "shop_not_opted_in")
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    assert refunds.buyer_offer(db.session, w.order, clock.now()).offer == "fast"
    refunds.set_fast_refund_enabled(db.session, w.main, False, clock.now())
    assert refunds.buyer_offer(db.session, w.order, clock.now()).why == "fast_refund_off"
    refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert refunds.buyer_offer(db.session, w.order, clock.now()).offer == "open"


# --- R24: the order follows its money ------------------------------------------------------------

def test_r24_a_full_refund_closes_the_order_in_the_same_transaction(db, rw, clock):
    from webapp.models import AuditEvent, Order

    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    order = db.session.get(Order, rw.order.id, populate_existing=True)
    assert (order.status, order.refunded_fen, order.refund_state) == ("closed", 3_000, "full")
    assert kinds(db, case.id) == ["submitted", "auto_approved", "refunded", "order_closed"]
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order.refunded_closed")) is not None
    offer = refunds.buyer_offer(db.session, order, clock.now())
    assert (offer.offer, offer.refusal) == ("none", ApplyRefusal.NOTHING_LEFT)


def test_r24_a_partial_refund_keeps_the_order_open_and_shows_the_amount(db, make, clock):
    from webapp.models import Order

    w = payout_world(make, db, paid_fen=3_000, funds_fen=10_000)
    case = make.case(w.order, requested_fen=1_000)
    refunds.approve(db.session, w.main, case.id, clock.now())
    order = db.session.get(Order, w.order.id, populate_existing=True)
    assert (order.status, order.refunded_fen, order.refund_state) == ("paid", 1_000, "partial")
    # The buyer can still ask for the rest: the open application asks for what is left.
    rest = refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    assert rest.requested_fen == 2_000
    refunds.approve(db.session, w.main, rest.id, clock.now())
    order = db.session.get(Order, w.order.id, populate_existing=True)
    assert (order.status, order.refunded_fen) == ("closed", 3_000)
    assert_money_invariants(db, w.shop.id)


def test_r24_database_refuses_a_refunded_case_without_money_and_a_refund_past_the_paid_amount(db, rw, make):
    from webapp.models import Order

    with pytest.raises((IntegrityError, DBAPIError)):
        make.case(rw.order, status="refunded")  # 已退款 with no refund_fen
    db.session.rollback()
    with pytest.raises((IntegrityError, DBAPIError)):
        db.session.execute(update(Order).where(Order.id == rw.order.id).values(refunded_fen=3_001))
        db.session.commit()
    db.session.rollback()


def test_r24_double_refund_replayed_ends_with_one_refund(db, rw, clock, make):
    """The testers' bug: a case already marked refunded, then the buyer applies again."""
    from webapp.models import Order

    first = make.case(rw.order, requested_fen=3_000)
    refunds.approve(db.session, rw.main, first.id, clock.now())  # refunded: money moved, order closed
    again = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    assert not again.created and again.case.id == first.id
    with pytest.raises(refunds.ApplicationRefused):  # and a second merchant case cannot pay it again either
        refunds.approve(db.session, rw.main, make.case(rw.order, requested_fen=500).id, clock.now())
    assert _refunded_total(db, rw.order.id) == 3_000
    assert db.session.get(Order, rw.order.id, populate_existing=True).refunded_fen == 3_000
    assert db.session.scalar(select(func.count()).select_from(AfterSalesCase).where(
        AfterSalesCase.order_id == rw.order.id, AfterSalesCase.status == "refunded")) == 1
    assert_money_invariants(db, rw.shop.id)
