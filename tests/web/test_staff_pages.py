"""Staff and quota pages: create with errors in place, inline quota editing, disable signs out,
password reset, activity filters, the staff member's own quota."""
import pytest
from sqlalchemy import select

from tests.support import intent, login, page_token, payout_world
from webapp.models import MerchantAccount, PayoutQuota
from webapp.services import payouts as psvc


@pytest.fixture
def pw(make, db):
    return payout_world(make, db, quota=(5_000, 20_000))


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def test_staff_list_shows_quota_usage_and_last_sign_in(client, pw, login_as, db, clock):
    psvc.create_payout(db.session, pw.staff, intent(pw.order, 1_200), clock.now())
    login_as(pw.main)
    en(client)
    html = client.get("/staff").get_data(as_text=True)
    assert pw.staff.login in html and "¥50.00 / payout · ¥200.00 / day" in html and "¥12.00" in html
    assert "Shop limits only" in html  # the main account's row


def test_create_sub_account_keeps_input_on_error_and_creates(client, pw, login_as, db):
    login_as(pw.main)
    en(client)
    token = page_token(client, "/staff/new")
    bad = client.post("/staff/new", data={"login": "Bad Name", "display_name": "小张", "password": "short", "csrf_token": token})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Use 3 to 32 characters" in html and "Use at least 10 characters." in html
    assert 'value="Bad Name"' in html and 'value="小张"' in html and "short" not in html.split("password")[-1][:200]
    ok = client.post("/staff/new", data={"login": "kefu-zhang", "display_name": "小张", "password": "Zhang2026pay", "csrf_token": token})
    assert ok.status_code == 303
    acc = db.session.scalar(select(MerchantAccount).where(MerchantAccount.login == "kefu-zhang"))
    assert acc.shop_id == pw.shop.id and acc.role == "staff"
    assert login(client.application.test_client(), acc, password="Zhang2026pay").status_code == 303


def test_inline_quota_edit_save_and_errors_in_place(client, pw, login_as, db):
    login_as(pw.main)
    en(client)
    edit = client.get(f"/staff/{pw.staff.id}/quota/edit", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert edit.lstrip().startswith(f'<tr id="staff-{pw.staff.id}"') and 'value="50.00"' in edit
    token = page_token(client, "/staff")
    bad = client.post(f"/staff/{pw.staff.id}/quota", data={"enabled": "y", "per_payout": "300", "daily": "200", "csrf_token": token},
                      headers={"HX-Request": "true"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "cannot be above the daily limit" in html and 'value="300"' in html
    over = client.post(f"/staff/{pw.staff.id}/quota", data={"enabled": "y", "per_payout": "50", "daily": "15000.01", "csrf_token": token},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "above the shop&#39;s daily maximum of ¥15,000.00" in over or "above the shop's daily maximum of ¥15,000.00" in over
    junk = client.post(f"/staff/{pw.staff.id}/quota", data={"enabled": "y", "per_payout": "abc", "daily": "0", "csrf_token": token},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Enter the amount in yuan" in junk and "The amount must be more than ¥0.00." in junk
    good = client.post(f"/staff/{pw.staff.id}/quota", data={"enabled": "y", "per_payout": "80", "daily": "300", "csrf_token": token},
                       headers={"HX-Request": "true"})
    assert good.status_code == 200 and "¥80.00 / payout · ¥300.00 / day" in good.get_data(as_text=True)
    q = db.session.get(PayoutQuota, pw.staff.id, populate_existing=True)
    assert (q.enabled, q.per_payout_fen, q.daily_fen) == (True, 8_000, 30_000)


def test_lowering_below_todays_use_says_so(client, pw, login_as, db, clock):
    psvc.create_payout(db.session, pw.staff, intent(pw.order, 5_000), clock.now())
    login_as(pw.main)
    en(client)
    resp = client.post(f"/staff/{pw.staff.id}/quota", data={"enabled": "y", "per_payout": "20", "daily": "40",
                                                            "csrf_token": page_token(client, "/staff")}, headers={"HX-Request": "true"})
    assert "has already paid out ¥50.00 today, so no more payouts today" in resp.get_data(as_text=True)


def test_disable_signs_the_staff_member_out_on_the_next_request(client, pw, login_as, app):
    staff_client = app.test_client()
    assert login(staff_client, pw.staff).status_code == 303
    assert staff_client.get("/orders").status_code == 200
    login_as(pw.main)
    resp = client.post(f"/staff/{pw.staff.id}/active", data={"active": "0", "csrf_token": page_token(client, "/staff")})
    assert resp.status_code == 303
    assert staff_client.get("/orders").status_code == 302
    assert login(app.test_client(), pw.staff).status_code == 200  # cannot sign in either


def test_password_reset_ends_sessions_and_checks_strength(client, pw, login_as, app):
    staff_client = app.test_client()
    login(staff_client, pw.staff)
    login_as(pw.main)
    en(client)
    token = page_token(client, "/staff")
    weak = client.post(f"/staff/{pw.staff.id}/password", data={"password": "abc", "csrf_token": token})
    assert weak.status_code == 422 and "Use at least 10 characters." in weak.get_data(as_text=True)
    assert staff_client.get("/orders").status_code == 200
    ok = client.post(f"/staff/{pw.staff.id}/password", data={"password": "Fresh2026pass", "csrf_token": token})
    assert ok.status_code == 303
    assert staff_client.get("/orders").status_code == 302
    assert login(app.test_client(), pw.staff, password="Fresh2026pass").status_code == 303


def test_activity_page_lists_and_filters(client, pw, login_as, db, clock):
    psvc.create_payout(db.session, pw.staff, intent(pw.order, 500), clock.now())
    login_as(pw.main)
    en(client)
    client.post(f"/staff/{pw.staff.id}/quota", data={"enabled": "y", "per_payout": "40", "daily": "200",
                                                    "csrf_token": page_token(client, "/staff")})
    html = client.get("/activity").get_data(as_text=True)
    assert "Quota changed" in html and "per payout: ¥50.00 → ¥40.00" in html and "Payout started" in html
    quotas = client.get("/activity?action=quota.", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Quota changed" in quotas and "Payout started" not in quotas
    by_staff = client.get(f"/activity?actor={pw.staff.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Payout started" in by_staff and "Quota changed" not in by_staff


def test_staff_sees_own_quota_live(client, pw, login_as, db, clock):
    psvc.create_payout(db.session, pw.staff, intent(pw.order, 1_500), clock.now())
    login_as(pw.staff)
    en(client)
    html = client.get("/quota/mine", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "¥15.00 / ¥200.00" in html and "Per payout at most ¥50.00; ¥185.00 left today." in html
    assert 'hx-trigger="every 20s, payout-settled from:body"' in html
    assert "My payout quota" in client.get("/payouts/new").get_data(as_text=True)


def test_audit_has_no_update_or_delete_route(app):
    """R19: events are append-only: nothing in the app routes to changing or deleting one."""
    for rule in app.url_map.iter_rules():
        assert "activity" not in rule.rule or rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
