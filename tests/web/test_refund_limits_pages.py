"""R22 on the pages: a sub-account beyond its refund limits is told, in its language, who can
decide the case; the case stays for the main account. The limits are edited inline on the staff
page next to the payout quota, with errors in place and the typed values kept."""
from tests.support import page_token, payout_world
from webapp.models import AfterSalesCase, PayoutQuota
from webapp.services import refunds


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def test_r22_over_the_limit_the_page_says_who_can_decide(client, make, db, clock, login_as):
    w = payout_world(make, db, paid_fen=10_000, refund_quota=(3_000, 5_000))
    case = refunds.apply(db.session, w.buyer, w.order.order_no, kind="refund_only", goods_intact=None, now=clock.now()).case
    login_as(w.staff)
    en(client)
    token = page_token(client, f"/after-sales/{case.id}")
    resp = client.post(f"/after-sales/{case.id}/approve", data={"csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "above your per-refund limit of ¥30.00" in html and "The main account can decide it" in html
    assert db.session.get(AfterSalesCase, case.id, populate_existing=True).status == "awaiting_merchant"
    reject = client.post(f"/after-sales/{case.id}/reject", data={"csrf_token": token, "reason": "不符合"})
    assert reject.status_code == 403 and "不符合" in reject.get_data(as_text=True)  # the typed reason is kept


def test_r22_limits_edited_inline_next_to_the_payout_quota(client, make, db, login_as):
    w = payout_world(make, db)
    login_as(w.main)
    en(client)
    form = client.get(f"/staff/{w.staff.id}/quota/edit", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "May decide refunds" in form and 'name="per_refund"' in form and 'name="refund_daily"' in form
    token = page_token(client, "/staff")
    data = {"csrf_token": token, "enabled": "y", "per_payout": "50", "daily": "200",
            "refund_enabled": "y", "per_refund": "80", "refund_daily": "60"}
    bad = client.post(f"/staff/{w.staff.id}/quota", data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "per-refund limit cannot be above the daily refund limit" in html
    assert 'value="80"' in html and 'value="60"' in html
    ok = client.post(f"/staff/{w.staff.id}/quota", data={**data, "refund_daily": "300"},
                     headers={"HX-Request": "true", "X-CSRFToken": token})
    assert ok.status_code == 200 and "Refunds:" in ok.get_data(as_text=True)
    q = db.session.get(PayoutQuota, w.staff.id, populate_existing=True)
    assert (q.refund_enabled, q.per_refund_fen, q.refund_daily_fen) == (True, 8_000, 30_000)
