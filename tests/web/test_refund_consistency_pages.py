"""Buyer and merchant pages for R23 (every buyer can ask for a refund) and R24 (the order follows
its money), in Chinese (the default) and English."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support import page_token, payout_world
from webapp.models import AfterSalesCase, FundsAccount, Order
from webapp.services import refunds


@pytest.fixture
def rw(make, db):
    return payout_world(make, db, paid_fen=3_000, funds_fen=10_000)


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def confirm(db, rw, clock):
    refunds.confirm_settings(db.session, rw.main, "七天无理由，极速退款原路返回。", clock.now())


def test_r23_buyer_of_a_shop_without_fast_refund_can_apply_zh(client, rw, login_as, db):
    login_as(rw.buyer)
    page = client.get(f"/my/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "申请退款</a>" in page and "该店铺暂未开通极速退款，需由商家审核。" in page
    assert "申请将由商家审核，商家同意后才会退款。" in page
    form = client.get(f"/my/orders/{rw.order.order_no}/refund").get_data(as_text=True)
    assert 'name="kind"' in form and "商家同意后才会退款" in form
    resp = client.post(f"/my/orders/{rw.order.order_no}/refund",
                       data={"kind": "refund_only", "csrf_token": page_token(client, "/my/orders")})
    assert resp.status_code == 303
    status = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "待商家处理" in status
    case = db.session.scalar(select(AfterSalesCase).where(AfterSalesCase.order_id == rw.order.id))
    assert (case.fast, case.status, case.review_why) == (False, "awaiting_merchant", "shop_not_opted_in")
    # One open application: the order page now points at it and offers no second one.
    again = client.get(f"/my/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "您的退款申请正在处理中" in again and f"/my/refunds/{case.id}" in again


@pytest.mark.parametrize("setup, reason", [
    ("switched_off", "The shop has switched fast refund off"),
    ("outside_window", "More than 7 days have passed since payment"),
    ("not_opted_in", "This shop does not offer fast refund right now"),
])
def test_r23_buyer_page_offers_review_with_the_reason_en(client, rw, login_as, db, clock, make, setup, reason):
    order = rw.order
    if setup != "not_opted_in":
        confirm(db, rw, clock)
    if setup == "switched_off":
        refunds.set_fast_refund_enabled(db.session, rw.main, False, clock.now())
    if setup == "outside_window":
        order = make.order(rw.shop, rw.buyer, paid_at=clock.now() - timedelta(days=10), status="delivered")
    login_as(rw.buyer)
    en(client)
    page = client.get(f"/my/orders/{order.order_no}").get_data(as_text=True)
    assert "Apply for refund" in page and reason in page and "Fast refund until" not in page
    assert "no money moves until it approves" in page


def test_r23_forged_post_with_fast_refund_off_never_creates_a_fast_case(client, rw, login_as, db, clock):
    confirm(db, rw, clock)
    refunds.set_fast_refund_enabled(db.session, rw.main, False, clock.now())
    login_as(rw.buyer)
    token = page_token(client, "/my/orders")
    resp = client.post(f"/my/orders/{rw.order.order_no}/refund",
                       data={"kind": "return_and_refund", "goods_intact": "yes", "fast": "1", "route": "automatic",
                             "csrf_token": token})
    assert resp.status_code == 303
    cases = db.session.scalars(select(AfterSalesCase).where(AfterSalesCase.order_id == rw.order.id)).all()
    assert len(cases) == 1 and cases[0].fast is False and cases[0].status == "awaiting_merchant"
    assert db.session.get(FundsAccount, rw.shop.id, populate_existing=True).refunded_fen == 0
    # Submitting again does not open a second application.
    client.post(f"/my/orders/{rw.order.order_no}/refund", data={"kind": "refund_only", "csrf_token": token})
    assert db.session.scalar(select(func.count()).select_from(AfterSalesCase).where(
        AfterSalesCase.order_id == rw.order.id)) == 1


def test_r24_full_refund_closes_the_order_on_buyer_and_merchant_pages(client, rw, login_as, db, clock):
    confirm(db, rw, clock)
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    login_as(rw.buyer)
    zh = client.get(f"/my/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "交易关闭，已退款 ¥30.00" in zh and "已支付，待发货" not in zh and "申请退款</a>" not in zh
    assert "该订单已全额退款。" in zh
    status = client.get(f"/my/refunds/{case.id}").get_data(as_text=True)
    assert "已退款" in status and "¥30.00" in status
    en(client)
    page = client.get(f"/my/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "Trade closed, refunded ¥30.00" in page and "Paid, awaiting shipment" not in page
    assert "This order has already been refunded in full." in page
    forged = client.post(f"/my/orders/{rw.order.order_no}/refund",
                         data={"kind": "refund_only", "csrf_token": page_token(client, "/my/orders")})
    assert forged.status_code == 303 and forged.headers["Location"].endswith(f"/my/refunds/{case.id}")
    assert db.session.get(Order, rw.order.id, populate_existing=True).refunded_fen == 3_000


def test_r24_partial_refund_shows_on_pages_and_is_filterable(client, rw, login_as, db, clock, make):
    partial = make.case(rw.order, requested_fen=1_000)
    refunds.approve(db.session, rw.main, partial.id, clock.now())
    full_order = make.order(rw.shop, rw.buyer, paid_fen=2_000)
    refunds.approve(db.session, rw.main, make.case(full_order, requested_fen=2_000).id, clock.now())
    untouched = make.order(rw.shop, rw.buyer)
    login_as(rw.main)
    zh = client.get(f"/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "部分退款 ¥10.00" in zh and "已支付，待发货" in zh
    en(client)
    detail = client.get(f"/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "Partly refunded ¥10.00" in detail
    listing = client.get("/orders?status=partly_refunded").get_data(as_text=True)
    assert rw.order.order_no in listing and full_order.order_no not in listing and untouched.order_no not in listing
    assert "Partly refunded ¥10.00" in listing and 'value="partly_refunded" selected' in listing
    full = client.get("/orders?status=refunded").get_data(as_text=True)
    assert full_order.order_no in full and rw.order.order_no not in full and "Trade closed, refunded ¥20.00" in full
    closed = client.get("/orders?status=closed").get_data(as_text=True)
    assert full_order.order_no in closed and rw.order.order_no not in closed
    client.get("/logout")
    login_as(rw.buyer)
    assert "Partly refunded ¥10.00" in client.get("/my/orders").get_data(as_text=True)


def test_r24_settlement_settings_say_what_happens_when_fast_refund_is_off(client, rw, login_as, db, clock):
    confirm(db, rw, clock)
    refunds.set_fast_refund_enabled(db.session, rw.main, False, clock.now())
    login_as(rw.main)
    en(client)
    page = client.get("/settings/settlement").get_data(as_text=True)
    assert "buyers can always apply for a refund" in page and "wait for your review" in page


def test_r24_a_repaired_case_page_renders_for_the_buyer(client, rw, login_as, db, make):
    """The testers saw HTTP 500 on a 已退款 case without an amount; a repaired one says what it is."""
    from webapp.models import CaseEvent

    case = make.case(rw.order, status="closed")
    db.session.add(CaseEvent(shop_id=rw.shop.id, case_id=case.id, kind="repaired_closed",
                             detail="marked refunded, but no money had moved", created_at=make.now))
    db.session.commit()
    login_as(rw.buyer)
    page = client.get(f"/my/refunds/{case.id}")
    assert page.status_code == 200 and "已关闭：此前未实际退款（记录更正）" in page.get_data(as_text=True)
