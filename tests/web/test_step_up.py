"""Step-up re-authentication (issue 12 point 3; OWASP ASVS 4.0.3 V4.3.3): changes to money settings
need the password entered within the last 5 minutes (a sign-in counts). Later, nothing is changed and
the user confirms the password first, then returns to the page the form was on."""
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, both_backends, page_token, payout_world
from webapp.models import AuditEvent, MerchantAccount, PayoutQuota, Shop
from webapp.services import refunds

CONFIRM = "/account/confirm-password"
STALE = {"minutes": 5, "seconds": 1}


@pytest.fixture
def app_config():
    """A known browser's sign-in budget of 2 (instead of 10), so a test can use it up."""
    return {"LOGIN_DEVICE_FAILURE_LIMIT": "2 per 5 minutes"}


@pytest.fixture
def pw(make, db):
    return payout_world(make, db, quota=(5_000, 20_000))


def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def quota_of(db, account_id) -> tuple:
    q = db.session.get(PayoutQuota, account_id, populate_existing=True)
    return q.enabled, q.per_payout_fen, q.daily_fen


def actions(db, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def save_quota(client, pw, per_payout="80", daily="300", **headers):
    token = page_token(client, "/staff")
    return client.post(f"/staff/{pw.staff.id}/quota", headers=headers,
                       data={"enabled": "y", "per_payout": per_payout, "daily": daily, "csrf_token": token})


def step_up(client, password=PASSWORD, next_url="/staff"):
    token = page_token(client, f"{CONFIRM}?next={next_url}")
    return client.post(CONFIRM, data={"password": password, "next": next_url, "csrf_token": token})


def next_of(location: str) -> str | None:
    parts = urlsplit(location)
    assert parts.path == CONFIRM
    return parse_qs(parts.query).get("next", [None])[0]


@both_backends
def test_within_five_minutes_of_sign_in_the_quota_change_is_made(client, pw, login_as, db, clock):
    login_as(pw.main)
    clock.advance(minutes=5)  # exactly 5 minutes still counts
    assert save_quota(client, pw).status_code == 303
    assert quota_of(db, pw.staff.id) == (True, 8_000, 30_000)


@both_backends
def test_after_five_minutes_the_quota_change_is_refused_and_nothing_changes(client, pw, login_as, db, clock):
    login_as(pw.main)
    before, updates = quota_of(db, pw.staff.id), actions(db, "quota.update")
    clock.advance(**STALE)
    resp = save_quota(client, pw, Referer="http://localhost/staff")
    assert resp.status_code == 303 and next_of(resp.headers["Location"]) == "/staff"
    assert quota_of(db, pw.staff.id) == before == (True, 5_000, 20_000)
    assert actions(db, "quota.update") == updates


@both_backends
def test_after_stepping_up_the_quota_change_works_and_returns_to_the_page(client, pw, login_as, db, clock):
    login_as(pw.main)
    clock.advance(minutes=20)
    en(client)
    page = client.get("/staff").get_data(as_text=True)  # the page asks before anything is typed
    assert "For changes to money settings, enter your password again." in page and f'action="{CONFIRM}"' in page
    confirm_page = client.get(f"{CONFIRM}?next=/staff")
    assert confirm_page.status_code == 200 and "Confirm your password" in confirm_page.get_data(as_text=True)
    done = step_up(client, next_url="/staff")
    assert done.status_code == 303 and done.headers["Location"] == "/staff"
    assert "For changes to money settings" not in client.get("/staff").get_data(as_text=True)
    assert save_quota(client, pw).status_code == 303
    assert quota_of(db, pw.staff.id) == (True, 8_000, 30_000)
    assert actions(db, "session.reauth") == 1
    clock.advance(**STALE)  # and it lasts 5 minutes, as a sign-in does
    assert next_of(save_quota(client, pw, per_payout="90").headers["Location"]) is None
    assert quota_of(db, pw.staff.id) == (True, 8_000, 30_000)


@both_backends
def test_htmx_quota_save_without_a_recent_password_sends_the_whole_page_to_confirm(client, pw, login_as, db, clock):
    login_as(pw.main)
    clock.advance(**STALE)
    resp = save_quota(client, pw, **{"HX-Request": "true", "HX-Current-URL": "http://localhost/staff?x=1"})
    assert resp.status_code == 204 and resp.get_data() == b""  # nothing swapped into the row
    assert next_of(resp.headers["HX-Redirect"]) == "/staff?x=1"
    assert quota_of(db, pw.staff.id) == (True, 5_000, 20_000)


@pytest.mark.parametrize("lang, message", [
    ("zh", "密码不正确，请输入您登录时使用的密码。"),
    ("en", "That is not your password. Enter the password you sign in with."),
])
def test_wrong_password_keeps_the_user_on_the_step_up_page_with_an_error(client, pw, login_as, db, clock, lang, message):
    login_as(pw.main)
    if lang == "en":
        en(client)
    clock.advance(**STALE)
    resp = step_up(client, password="not-the-password", next_url="/staff")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in html and 'value="/staff"' in html
    assert "not-the-password" not in html
    assert actions(db, "session.reauth_failed") == 1  # in the activity log (R19)
    assert urlsplit(save_quota(client, pw).headers["Location"]).path == CONFIRM  # still refused
    assert quota_of(db, pw.staff.id) == (True, 5_000, 20_000)


def test_wrong_passwords_spend_the_same_budget_as_sign_in(client, pw, login_as, clock):
    login_as(pw.main)  # this browser is now a known one for the login: its own device budget
    en(client)
    clock.advance(**STALE)
    assert step_up(client, password="wrong-1").status_code == 422
    assert step_up(client, password="wrong-2").status_code == 422
    refused = step_up(client)  # even the right password waits until the window ends
    assert refused.status_code == 429 and "Too many failed sign-ins. Wait 5 minutes" in refused.get_data(as_text=True)
    assert urlsplit(save_quota(client, pw).headers["Location"]).path == CONFIRM and quota_of_unchanged(client, pw)
    clock.advance(minutes=5)
    assert step_up(client).status_code == 303


def quota_of_unchanged(client, pw) -> bool:
    from webapp.extensions import db

    return quota_of(db, pw.staff.id) == (True, 5_000, 20_000)


@pytest.mark.parametrize("target", ["https://evil.example/staff", "//evil.example/staff", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_a_next_pointing_off_site_is_ignored(client, pw, login_as, clock, target):
    login_as(pw.main)
    clock.advance(**STALE)
    page = client.get(CONFIRM, query_string={"next": target}).get_data(as_text=True)
    assert 'name="next" type="hidden" value=""' in page  # (the language switch keeps the URL: it checks too)
    assert f'href="{target}"' not in page
    done = step_up(client, next_url=target)
    assert done.status_code == 303 and done.headers["Location"] == "/"


def test_a_referer_from_another_site_is_not_a_way_back(client, pw, login_as, clock):
    login_as(pw.main)
    clock.advance(**STALE)
    resp = save_quota(client, pw, Referer="https://evil.example/staff")
    assert resp.status_code == 303 and next_of(resp.headers["Location"]) is None


@both_backends
def test_every_money_setting_form_is_refused_after_five_minutes(client, pw, login_as, db, clock):
    """Payout controls (thresholds, undo window), fast refund on and its confirmation, a new sub-account
    and a sub-account's password: none is done without a recent password."""
    shop_before = db.session.get(Shop, pw.shop.id)
    controls = (shop_before.undo_window_seconds, shop_before.payout_approval_fen, shop_before.refund_approval_fen)
    hash_before = db.session.get(MerchantAccount, pw.staff.id).password_hash
    login_as(pw.main)
    clock.advance(**STALE)
    token = page_token(client, "/staff")
    posts = {
        "/settings/payouts": {"undo_window_seconds": "120", "payout_approval": "10", "refund_approval": "10"},
        "/settings/settlement/confirm": {"note": "七天无理由，极速退款原路返回。"},
        "/settings/settlement/enabled": {"enabled": "1"},
        "/staff/new": {"login": "kefu-new", "display_name": "新客服", "password": "Zhang2026pay"},
        f"/staff/{pw.staff.id}/password": {"password": "Another2026pay"},
        f"/staff/{pw.staff.id}/quota": {"enabled": "y", "per_payout": "1", "daily": "1"},
    }
    for url, data in posts.items():
        resp = client.post(url, data={**data, "csrf_token": token})
        assert resp.status_code == 303 and urlsplit(resp.headers["Location"]).path == CONFIRM, url
    db.session.expire_all()
    shop = db.session.get(Shop, pw.shop.id)
    assert (shop.undo_window_seconds, shop.payout_approval_fen, shop.refund_approval_fen) == controls
    assert refunds.settings_of(db.session, pw.shop.id) is None
    assert db.session.scalar(select(MerchantAccount).where(MerchantAccount.login == "kefu-new")) is None
    assert db.session.get(MerchantAccount, pw.staff.id).password_hash == hash_before
    assert quota_of(db, pw.staff.id) == (True, 5_000, 20_000)


def test_the_forms_own_page_is_the_way_back_without_a_referer(client, pw, login_as, clock):
    login_as(pw.main)
    clock.advance(**STALE)
    resp = client.post("/settings/payouts", data={"undo_window_seconds": "5", "csrf_token": page_token(client, "/staff")})
    assert next_of(resp.headers["Location"]) == "/settings/payouts"


def test_exactly_the_money_setting_routes_need_a_recent_password(app):
    from webapp.web.step_up import needs_step_up

    protected = {ep for ep, view in app.view_functions.items() if needs_step_up(view)}
    assert protected == {"staff.create", "staff.save_quota", "staff.reset_password", "staff.set_approver",
                         "settings.payout_controls", "settings.confirm", "settings.set_enabled",
                         # two-factor sign-in (tests/web/test_two_factor.py): one's own, and the staff's
                         "two_factor.enable", "two_factor.disable", "two_factor.regenerate",
                         "staff.require_two_factor", "staff.reset_two_factor"}


def test_reading_the_pages_never_needs_the_password(client, pw, login_as, clock):
    login_as(pw.main)
    clock.advance(minutes=29)  # within the session's idle timeout
    for url in ("/staff", "/staff/new", f"/staff/{pw.staff.id}/password", "/settings/payouts", "/settings/settlement"):
        page = client.get(url)
        assert page.status_code == 200 and "修改资金相关设置前，请再次输入登录密码" in page.get_data(as_text=True), url


def test_a_new_sign_in_counts_as_a_password_entry(client, pw, login_as, clock):
    login_as(pw.main)
    clock.advance(minutes=10)
    login_as(pw.main)
    assert save_quota(client, pw).status_code == 303
    assert quota_of_unchanged(client, pw) is False


def test_staff_cannot_use_the_confirm_page_to_reach_main_account_settings(client, pw, login_as, clock):
    login_as(pw.staff)
    assert step_up(client, next_url="/orders").status_code == 303
    assert client.post(f"/staff/{pw.staff.id}/quota", data={"csrf_token": page_token(client, "/orders")}).status_code == 403
