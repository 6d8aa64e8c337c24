"""Fast refund pages: settlement settings (R10, R11), the buyer's application (R12) and status
page (R15), and the merchant's review queue (R14)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support import page_token, payout_world
from webapp.models import AfterSalesCase, RefundSettings
from webapp.services import refunds


@pytest.fixture
def rw(make, db):
    return payout_world(make, db, paid_fen=3_000, funds_fen=10_000, refund_quota=(100_000, 1_000_000))


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def confirm(db, rw, clock):
    refunds.confirm_settings(db.session, rw.main, "七天无理由，极速退款原路返回。", clock.now())


@pytest.mark.parametrize("certified, setup, text", [(False, True, "Merchant certification"), (True, False, "shop setup is not complete")])
def test_r10_settings_say_what_is_missing_and_offer_nothing_to_submit(client, rw, login_as, db, certified, setup, text):
    rw.shop.certified, rw.shop.setup_complete = certified, setup
    db.session.commit()
    login_as(rw.main)
    en(client)
    html = client.get("/settings/settlement").get_data(as_text=True)
    assert text in html and "Fast refund cannot be enabled yet" in html and 'name="note"' not in html
    forged = client.post("/settings/settlement/confirm", data={"note": "x", "csrf_token": page_token(client, "/orders")})
    assert forged.status_code == 422 and text in forged.get_data(as_text=True)
    assert db.session.get(RefundSettings, rw.shop.id) is None


def test_r11_fill_review_confirm_then_read_only(client, rw, login_as, db):
    login_as(rw.main)
    en(client)
    token = page_token(client, "/settings/settlement")
    empty = client.post("/settings/settlement/review", data={"note": "  ", "csrf_token": token})
    assert empty.status_code == 422 and "Write the refund note buyers will see." in empty.get_data(as_text=True)
    review = client.post("/settings/settlement/review", data={"note": "<b>七天</b>无理由", "fast_refund": "1",
                                                             "csrf_token": token}).get_data(as_text=True)
    assert "this is what buyers will see" in review and "&lt;b&gt;七天&lt;/b&gt;无理由" in review  # escaped, never raw HTML
    assert db.session.get(RefundSettings, rw.shop.id) is None  # nothing saved at review
    done = client.post("/settings/settlement/confirm", data={"note": "<b>七天</b>无理由", "csrf_token": token})
    assert done.status_code == 303
    page = client.get("/settings/settlement").get_data(as_text=True)
    assert "Fixed, cannot be edited" in page and "<textarea" not in page  # no way to edit it
    forged = client.post("/settings/settlement/confirm", data={"note": "changed", "csrf_token": token})
    assert forged.status_code == 422 and "cannot be changed" in forged.get_data(as_text=True)
    assert db.session.get(RefundSettings, rw.shop.id, populate_existing=True).note == "<b>七天</b>无理由"


def test_r11_switch_off_and_on(client, rw, login_as, db, clock):
    confirm(db, rw, clock)
    login_as(rw.main)
    token = page_token(client, "/settings/settlement")
    assert client.post("/settings/settlement/enabled", data={"enabled": "0", "csrf_token": token}).status_code == 303
    assert not db.session.get(RefundSettings, rw.shop.id, populate_existing=True).enabled
    assert client.post("/settings/settlement/enabled", data={"enabled": "1", "csrf_token": token}).status_code == 303
    assert db.session.get(RefundSettings, rw.shop.id, populate_existing=True).enabled


def test_r12_r23_fast_within_the_window_review_after_and_forged_post_never_fast(client, rw, login_as, db, clock, make):
    confirm(db, rw, clock)
    old = make.order(rw.shop, rw.buyer, paid_at=clock.now() - timedelta(days=7, seconds=1))
    login_as(rw.buyer)
    en(client)
    fresh = client.get(f"/my/orders/{rw.order.order_no}").get_data(as_text=True)
    assert "Apply for refund" in fresh and "Fast refund until" in fresh
    late = client.get(f"/my/orders/{old.order_no}").get_data(as_text=True)
    assert "Apply for refund" in late and "Fast refund until" not in late  # R23: still a way to ask, with the reason
    assert "More than 7 days have passed since payment" in late
    forged = client.post(f"/my/orders/{old.order_no}/refund", data={"kind": "refund_only", "csrf_token": page_token(client, "/my/orders")})
    assert forged.status_code == 303
    case = db.session.scalar(select(AfterSalesCase).where(AfterSalesCase.order_id == old.id))
    assert case.fast is False and case.status == "awaiting_merchant" and case.refund_fen is None


def test_r13_apply_refund_only_lands_on_the_status_page_refunded(client, rw, login_as, db, clock):
    confirm(db, rw, clock)
    login_as(rw.buyer)
    en(client)
    resp = client.post(f"/my/orders/{rw.order.order_no}/refund", data={"kind": "refund_only", "csrf_token": page_token(client, "/my/orders")})
    assert resp.status_code == 303 and "/my/refunds/" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Refunded" in page and "¥30.00" in page and "Approved automatically" in page and "七天无理由" in page
    assert 'hx-trigger="every 2s"' not in page  # final: no polling
    again = client.post(f"/my/orders/{rw.order.order_no}/refund", data={"kind": "refund_only", "csrf_token": page_token(client, "/my/orders")})
    assert again.headers["Location"] == resp.headers["Location"]  # a repeated submit shows the same application


def test_r14_return_needs_goods_condition_and_damaged_goes_to_review_live(client, rw, login_as, db, clock, app):
    confirm(db, rw, clock)
    login_as(rw.buyer)
    en(client)
    token = page_token(client, "/my/orders")
    missing = client.post(f"/my/orders/{rw.order.order_no}/refund", data={"kind": "return_and_refund", "csrf_token": token})
    assert missing.status_code == 422 and "tell us whether the goods are intact" in missing.get_data(as_text=True)
    resp = client.post(f"/my/orders/{rw.order.order_no}/refund", data={"kind": "return_and_refund", "goods_intact": "no", "csrf_token": token})
    status_url = resp.headers["Location"] + "/status"
    live = client.get(status_url, headers={"HX-Request": "true"})
    assert live.status_code == 200 and "Awaiting merchant" in live.get_data(as_text=True) and 'hx-trigger="every 2s"' in live.get_data(as_text=True)
    case_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    refunds.approve(db.session, rw.staff, case_id, clock.now())
    final = client.get(status_url, headers={"HX-Request": "true"})
    assert final.status_code == 286 and "Refunded" in final.get_data(as_text=True)


def test_merchant_queue_filters_badge_approve_and_reject(client, rw, login_as, db, clock, make):
    confirm(db, rw, clock)
    c1 = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="return_and_refund", goods_intact=False, now=clock.now()).case
    o2 = make.order(rw.shop, rw.buyer)
    c2 = refunds.apply(db.session, rw.buyer, o2.order_no, kind="return_and_refund", goods_intact=False, now=clock.now()).case
    login_as(rw.staff)
    en(client)
    listing = client.get("/after-sales?status=awaiting_merchant").get_data(as_text=True)
    assert f"/after-sales/{c1.id}" in listing and '<span class="nav-count"' in listing
    assert f"/after-sales/{c1.id}" not in client.get("/after-sales?type=fast").get_data(as_text=True)  # R23: damaged goods are not fast
    token = page_token(client, "/after-sales")
    no_reason = client.post(f"/after-sales/{c2.id}/reject", data={"reason": "", "csrf_token": token})
    assert no_reason.status_code == 422 and "Write the reason the buyer will see" in no_reason.get_data(as_text=True)
    assert client.post(f"/after-sales/{c2.id}/reject", data={"reason": "已使用", "csrf_token": token}).status_code == 303
    assert client.post(f"/after-sales/{c1.id}/approve", data={"csrf_token": token}).status_code == 303
    page = client.get(f"/after-sales/{c1.id}").get_data(as_text=True)
    assert "Refunded ¥30.00 to the buyer." in page and "Approved by the shop" in page
    assert client.post(f"/after-sales/{c1.id}/approve", data={"csrf_token": token}).status_code == 303  # already decided
    assert "This case was already decided." in client.get(f"/after-sales/{c1.id}").get_data(as_text=True)


def test_funds_page_shows_arrears(client, make, db, clock, login_as):
    w = payout_world(make, db, paid_fen=3_000, funds_fen=1_000)
    refunds.confirm_settings(db.session, w.main, "note", clock.now())
    refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now())
    login_as(w.main)
    en(client)
    html = client.get("/funds").get_data(as_text=True)
    assert "¥20.00" in html and "Small payouts are paused" in html and "Platform advance" in html


def test_r18_another_buyer_cannot_see_a_refund(client, rw, login_as, db, clock, make):
    confirm(db, rw, clock)
    case = refunds.apply(db.session, rw.buyer, rw.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    login_as(make.buyer())
    assert client.get(f"/my/refunds/{case.id}").status_code == 404
    assert client.get(f"/my/orders/{rw.order.order_no}/refund").status_code == 404
