"""R20/R21 pages: the undo window on the live row, withdraw, the approval queue with its badge,
decisions (and forged ones), the payout controls settings and the approver switch, in en and zh."""
import pytest
from sqlalchemy import select

from tests.support import intent, page_token, payout_world
from webapp.models import AuditEvent, Payout, Shop
from webapp.services import payouts as svc


@pytest.fixture
def pc(make, db):
    w = payout_world(make, db, paid_fen=100_000, quota=(50_000, 100_000))
    w.shop.undo_window_seconds = 30
    w.shop.payout_approval_fen = 20_000
    w.approver = make.account(w.shop, role="staff", is_approver=True)
    make.quota(w.approver, 50_000, 100_000)
    db.session.commit()
    return w


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def post(client, url, htmx=False, **data):
    token = page_token(client, "/payouts")
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    return client.post(url, data={"csrf_token": token, **data}, headers=headers)


def test_r21_live_row_counts_down_and_withdraw_cancels(client, pc, login_as, db, clock):
    p = svc.create_payout(db.session, pc.staff, intent(pc.order, 500), clock.now()).payout
    login_as(pc.staff)
    en(client)
    clock.advance(seconds=12)
    row = client.get(f"/payouts/{p.id}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Sends in 18 s" in row and "Withdraw" in row and "Send now" in row
    resp = post(client, f"/payouts/{p.id}/withdraw", htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Cancelled" in html and "Withdrawn before it was sent" in html
    assert "every 2s" not in html  # final: the row stops polling
    assert db.session.get(Payout, p.id, populate_existing=True).status == "cancelled"


def test_r21_withdraw_refused_once_sent_says_why_in_place(client, pc, login_as, db, clock):
    from webapp import worker

    p = svc.create_payout(db.session, pc.main, intent(pc.order, 500), clock.now()).payout
    worker.run_once(clock.advance(seconds=31))
    login_as(pc.main)
    en(client)
    resp = post(client, f"/payouts/{p.id}/withdraw", htmx=True)
    assert resp.status_code == 409 and "can no longer be withdrawn" in resp.get_data(as_text=True)


def test_r20_queue_badge_and_decision_in_zh(client, pc, login_as, db, clock):
    p = svc.create_payout(db.session, pc.staff, intent(pc.order, 20_000), clock.now()).payout
    login_as(pc.main)
    html = client.get("/payouts/approvals").get_data(as_text=True)
    assert "审批" in html and "待审批" in html and pc.order.order_no in html
    assert client.get("/payouts/approvals/count").get_data(as_text=True).count(">1<") == 1
    resp = post(client, f"/payouts/{p.id}/approve", htmx=True)
    assert resp.status_code == 200 and "待打款" in resp.get_data(as_text=True)
    assert "approvals-changed" in resp.headers["HX-Trigger"]
    assert db.session.get(Payout, p.id, populate_existing=True).status == "pending"
    assert "nav-count" not in client.get("/payouts/approvals/count").get_data(as_text=True)


def test_r20_a_forged_approval_by_the_requester_changes_nothing(client, pc, login_as, db, clock):
    p = svc.create_payout(db.session, pc.approver, intent(pc.order, 20_000), clock.now()).payout
    login_as(pc.approver)
    en(client)
    html = client.get("/payouts/approvals").get_data(as_text=True)
    assert "Your own request" in html and f"/payouts/{p.id}/approve" not in html  # no button offered
    resp = post(client, f"/payouts/{p.id}/approve", htmx=True)  # forged anyway
    assert resp.status_code == 409 and "someone else must approve it" in resp.get_data(as_text=True)
    assert db.session.get(Payout, p.id, populate_existing=True).status == "awaiting_approval"
    login_as(pc.staff)  # a sub-account that is no approver
    assert post(client, f"/payouts/{p.id}/approve").status_code == 403
    assert post(client, f"/payouts/{p.id}/reject", note="x").status_code == 403
    assert db.session.get(Payout, p.id, populate_existing=True).status == "awaiting_approval"


def test_r20_reject_with_a_reason_is_shown_to_the_requester(client, pc, login_as, db, clock):
    p = svc.create_payout(db.session, pc.staff, intent(pc.order, 20_000), clock.now()).payout
    login_as(pc.main)
    post(client, f"/payouts/{p.id}/reject", note="amount too high")
    login_as(pc.staff)
    en(client)
    html = client.get(f"/orders/{pc.order.order_no}").get_data(as_text=True)
    assert "Rejected by an approver" in html and "amount too high" in html


def test_r20_r21_settings_keep_what_was_typed_and_are_audited(client, pc, login_as, db):
    login_as(pc.main)
    en(client)
    token = page_token(client, "/settings/payouts")
    bad = client.post("/settings/payouts", data={"csrf_token": token, "undo_window_seconds": "601",
                                                 "payout_approval": "1.234", "refund_approval": ""})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "from 0 to 600" in html and 'value="601"' in html and 'value="1.234"' in html
    ok = client.post("/settings/payouts", data={"csrf_token": token, "undo_window_seconds": "60",
                                                "payout_approval": "300", "refund_approval": "1,000"})
    assert ok.status_code == 303
    shop = db.session.get(Shop, pc.shop.id, populate_existing=True)
    assert (shop.undo_window_seconds, shop.payout_approval_fen, shop.refund_approval_fen) == (60, 30_000, 100_000)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "settings.payout_controls"))
    login_as(pc.staff)
    assert client.get("/settings/payouts").status_code == 403


def test_r20_main_account_makes_a_sub_account_an_approver(client, pc, login_as, db):
    login_as(pc.main)
    en(client)
    resp = post(client, f"/staff/{pc.staff.id}/approver", htmx=True, approver="1")
    assert resp.status_code == 200 and "Approver" in resp.get_data(as_text=True)
    from webapp.models import MerchantAccount

    assert db.session.get(MerchantAccount, pc.staff.id, populate_existing=True).is_approver
