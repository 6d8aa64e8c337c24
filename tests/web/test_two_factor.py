"""Two-step verification (issue 12 point 3; OWASP ASVS 4.0.3 V2.8, V2.6, V4.3.3): an optional TOTP
authenticator for merchant accounts, set up from a QR code and confirmed with a code; 10 recovery codes
shown once and stored hashed; the code as the second step of signing in (throttled like passwords,
never accepted twice, within 5 minutes of the password); the code at the step-up; and a main account
that requires it of its sub-accounts, and resets a sub-account's. Every test runs on SQLite and
PostgreSQL; codes are computed with pyotp from the secret the page shows, at the fake clock's time."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import func, select, text

from tests.support import PASSWORD, both_backends, csrf_from, login, page_token
from webapp.models import AuditEvent, MerchantAccount, RecoveryCode, Shop

pytestmark = both_backends

SETTINGS = "/account/two-factor"
SECOND = "/login/two-factor"
CONFIRM = "/account/confirm-password"
STALE = {"minutes": 5, "seconds": 1}
CODE_RE = re.compile(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>")


@pytest.fixture
def app_config():
    """Small sign-in budgets (3 instead of 10) so a test can use one up."""
    return {"LOGIN_FAILURE_LIMIT": "3 per 5 minutes", "LOGIN_DEVICE_FAILURE_LIMIT": "3 per 5 minutes"}


@pytest.fixture
def tw(make):
    class W:
        pass

    w = W()
    w.shop = make.shop(name="星河数码")
    w.main = make.account(w.shop, role="main", login="boss")
    w.staff = make.account(w.shop, role="staff", login="kefu")
    w.other_shop = make.shop(name="Other")
    w.other_main = make.account(w.other_shop, role="main", login="other-boss")
    return w


# -- helpers ---------------------------------------------------------------------------------------

def en(client):
    client.post("/lang", data={"lang": "en", "csrf_token": page_token(client, "/login")})


def totp(secret: str, clock, seconds: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() + timedelta(seconds=seconds))


def shown_secret(html: str) -> str:
    m = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)</p>', html)
    assert m, "no secret on the set-up page"
    return m.group(1).replace(" ", "")


def enrol(client, clock) -> tuple[str, list[str]]:
    """Through the pages: the set-up page's secret, a code of it now, the recovery codes shown."""
    page = client.get(SETTINGS)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = shown_secret(html)
    done = client.post(f"{SETTINGS}/enable", data={"code": totp(secret, clock), "csrf_token": csrf_from(html)})
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    codes = CODE_RE.findall(done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def turned_on(db, account, clock) -> tuple[str, list[str]]:
    """Through the service: two-factor on for `account` with a known secret (its code of now is used)."""
    from webapp.services import two_factor as svc

    secret = pyotp.random_base32()
    codes = svc.enable(db.session, db.session.get(MerchantAccount, account.id), secret, totp(secret, clock), clock.now())
    return secret, codes


def password_step(client, account, next_url=None):
    resp = login(client, account, next_url=next_url)
    assert resp.status_code == 303 and resp.headers["Location"] == SECOND, resp.headers.get("Location")
    return resp


def code_step(client, code="", recovery_code=""):
    token = page_token(client, "/login")  # the session's token (the code page itself may have moved on)
    return client.post(SECOND, data={"code": code, "recovery_code": recovery_code, "csrf_token": token})


def sign_in(client, account, secret, clock, next_url=None):
    password_step(client, account, next_url)
    resp = code_step(client, totp(secret, clock))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    return resp


def signed_in(client) -> bool:
    resp = client.get("/orders")
    return resp.status_code == 200


def fresh(db, account) -> MerchantAccount:
    db.session.commit()
    return db.session.get(MerchantAccount, account.id, populate_existing=True)


def actions(db, action: str) -> list[AuditEvent]:
    db.session.commit()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def sign_out(client):
    assert client.post("/logout", data={"csrf_token": page_token(client, "/account/sessions")}).status_code == 303


# -- setting it up ---------------------------------------------------------------------------------

def test_enrol_with_a_code_from_the_shown_secret(client, tw, login_as, db, clock):
    login_as(tw.main)
    en(client)
    page = client.get(SETTINGS)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Two-step verification" in html
    assert '<svg' in html and 'class="qr"' in html and "<title>QR code for your authenticator app</title>" in html
    secret = shown_secret(html)
    assert len(secret) == 32
    assert re.search(r'id="two-factor-secret">(?:[A-Z2-7]{4} ){7}[A-Z2-7]{4}</p>', html)  # groups of 4
    assert "The app lists it as AfterDesk (boss)." in html
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert "http://" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # drawn here, nothing fetched
    # the secret being set up is in the session only, not on the account, until it is confirmed
    assert fresh(db, tw.main).totp_secret is None
    assert shown_secret(client.get(SETTINGS).get_data(as_text=True)) == secret  # the same until confirmed

    wrong = f"{(int(totp(secret, clock)) + 1) % 1_000_000:06d}"
    refused = client.post(f"{SETTINGS}/enable", data={"code": wrong, "csrf_token": csrf_from(html)})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "That code is not right." in body
    assert 'aria-invalid="true"' in body and 'aria-describedby="code-error"' in body and 'id="code-error"' in body
    assert f'value="{wrong}"' not in body  # a code is never shown back
    assert fresh(db, tw.main).totp_enabled_at is None

    done = client.post(f"{SETTINGS}/enable", data={"code": totp(secret, clock), "csrf_token": csrf_from(html)})
    body = done.get_data(as_text=True)
    codes = CODE_RE.findall(body)
    assert done.status_code == 200 and len(codes) == len(set(codes)) == 10
    assert "They are shown only this once" in body and "I have saved them, continue" in body
    assert done.headers["Cache-Control"] == "no-store"
    account = fresh(db, tw.main)
    assert account.totp_secret == secret and account.totp_enabled_at == clock.now()
    assert account.totp_last_step == int(clock.now().timestamp()) // 30
    assert [e.target_id for e in actions(db, "two_factor.enable")] == [str(tw.main.id)]

    after = client.get(SETTINGS).get_data(as_text=True)  # and never again
    assert "10 unused recovery codes left." in after and not any(c in after for c in codes)
    assert secret not in after and "two-factor-secret" not in after
    again = client.post(f"{SETTINGS}/enable", data={"code": totp(secret, clock, 30), "csrf_token": csrf_from(html)})
    assert again.status_code == 303  # already on: nothing new, no codes
    assert not CODE_RE.findall(client.get(SETTINGS).get_data(as_text=True))


def test_recovery_codes_are_never_stored_in_clear(client, tw, login_as, db, clock):
    login_as(tw.main)
    _secret, codes = enrol(client, clock)
    db.session.commit()
    rows = db.session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == tw.main.id)).all()
    assert len(rows) == 10 and len({r.salt for r in rows}) == 10 and all(r.used_at is None for r in rows)
    stored = " ".join(f"{r.salt} {r.code_hash}" for r in rows)
    for code in codes:
        plain = code.replace("-", "")
        assert code not in stored and plain not in stored and plain.lower() not in stored
    # nor anywhere else: the session store (the response showed them, nothing kept them), the activity log
    for table in ("user_session", "audit_event", "recovery_code", "merchant_account"):
        dump = " ".join(str(v) for row in db.session.execute(text(f"SELECT * FROM {table}")) for v in row)
        assert not any(c in dump or c.replace("-", "") in dump for c in codes), table


def test_turning_it_on_needs_a_recent_password(client, tw, login_as, db, clock):
    login_as(tw.main)
    en(client)
    html = client.get(SETTINGS).get_data(as_text=True)
    secret = shown_secret(html)
    assert "To turn on two-step verification" not in html  # just signed in: nothing to ask
    clock.advance(**STALE)
    assert "To turn on two-step verification, enter your password again." in client.get(SETTINGS).get_data(as_text=True)
    resp = client.post(f"{SETTINGS}/enable", data={"code": totp(secret, clock), "csrf_token": csrf_from(html)})
    assert resp.status_code == 303 and urlsplit(resp.headers["Location"]).path == CONFIRM
    assert fresh(db, tw.main).totp_enabled_at is None


# -- signing in --------------------------------------------------------------------------------------

def test_sign_in_needs_the_code_and_keeps_next(client, tw, db, clock):
    secret, _codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    password_step(client, tw.main, next_url="/payouts")
    assert not signed_in(client)  # the right password alone signs nobody in
    page = client.get(SECOND).get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page and "boss" in page
    done = code_step(client, totp(secret, clock))
    assert done.status_code == 303 and done.headers["Location"] == "/payouts"
    assert signed_in(client)
    assert client.get_cookie("afterdesk_device") is not None  # a known browser from now on, as with a password


def test_a_buyer_signs_in_with_the_password_alone(client, make, db, clock):
    buyer = make.buyer(login="buyer-2fa")
    resp = login(client, buyer)
    assert resp.status_code == 303 and resp.headers["Location"] == "/my/orders"


def test_a_wrong_code_is_refused_and_counted_by_the_sign_in_throttle(client, tw, db, clock):
    secret, _codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    en(client)
    password_step(client, tw.main)
    right = totp(secret, clock)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    for _ in range(3):  # the budget: 3 per 5 minutes
        resp = code_step(client, wrong)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422 and "That code is not right." in body and wrong not in body
    assert len(actions(db, "two_factor.failed")) == 3  # in the shop's activity log
    refused = code_step(client, right)  # even the right code now waits
    assert refused.status_code == 429 and "Too many failed sign-ins. Wait 5 minutes" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "300"
    assert not signed_in(client)
    assert fresh(db, tw.main).totp_last_step == int((clock.now() - timedelta(seconds=30)).timestamp()) // 30


def test_the_password_step_does_not_spend_the_budget(client, tw, db, clock):
    """Right passwords give their reservation back; only wrong codes count."""
    secret, _codes = turned_on(db, tw.main, clock)
    for _ in range(5):  # more right passwords than the budget of 3
        clock.advance(seconds=30)
        password_step(client, tw.main)
    assert code_step(client, totp(secret, clock)).status_code == 303


def test_a_replayed_code_is_refused(client, tw, db, clock):
    secret, _codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    code = totp(secret, clock)
    sign_in(client, tw.main, secret, clock)
    sign_out(client)
    en(client)
    password_step(client, tw.main)
    replay = code_step(client, code)
    assert replay.status_code == 422 and "That code has already been used." in replay.get_data(as_text=True)
    clock.advance(seconds=30)
    assert code_step(client, totp(secret, clock)).status_code == 303


def test_a_recovery_code_works_once(client, tw, db, clock):
    _secret, codes = turned_on(db, tw.main, clock)
    en(client)
    password_step(client, tw.main)
    typed = codes[0].replace("-", " ").lower()  # as people type it
    done = code_step(client, recovery_code=typed)
    assert done.status_code == 303
    assert "You signed in with a recovery code; it cannot be used again. 9 recovery codes are left" in client.get(
        done.headers["Location"]).get_data(as_text=True)
    assert signed_in(client)
    used = actions(db, "two_factor.recovery_used")
    assert len(used) == 1 and '"recovery_codes_left": 9' in used[0].after
    sign_out(client)
    en(client)
    password_step(client, tw.main)
    again = code_step(client, recovery_code=codes[0])
    body = again.get_data(as_text=True)
    assert again.status_code == 422 and "That recovery code is not right, or it has already been used." in body
    assert "<details class=\"recovery\" open>" in body and 'aria-describedby="recovery_code-error"' in body
    assert code_step(client, recovery_code=codes[1]).status_code == 303


def test_the_code_step_expires_five_minutes_after_the_password(client, tw, db, clock):
    secret, _codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    en(client)
    password_step(client, tw.main, next_url="/payouts")
    clock.advance(minutes=5)  # exactly 5 minutes: still fine
    assert client.get(SECOND).status_code == 200
    clock.advance(seconds=1)
    late = code_step(client, totp(secret, clock))
    assert late.status_code in (302, 303) and urlsplit(late.headers["Location"]).path == "/login"
    assert "next=/payouts" in late.headers["Location"].replace("%2F", "/")
    assert not signed_in(client)
    assert "The code was not entered within 5 minutes of the password." in client.get("/login").get_data(as_text=True)
    assert client.post(SECOND, data={"code": totp(secret, clock), "csrf_token": page_token(client, "/login")}
                       ).headers["Location"] == "/login"  # the pending sign-in is gone
    password_step(client, tw.main)
    assert code_step(client, totp(secret, clock)).status_code == 303


def test_a_password_reset_meanwhile_ends_the_pending_sign_in(client, tw, db, clock):
    from webapp.services import staff as staff_svc

    secret, _codes = turned_on(db, tw.staff, clock)
    clock.advance(seconds=30)
    password_step(client, tw.staff)
    staff_svc.reset_password(db.session, db.session.get(MerchantAccount, tw.main.id), tw.staff.id, "Another2026pay!",
                             clock.now())
    resp = code_step(client, totp(secret, clock))
    assert resp.status_code == 303 and urlsplit(resp.headers["Location"]).path == "/login"
    assert not signed_in(client)


# -- the step-up -------------------------------------------------------------------------------------

def test_the_step_up_asks_for_a_code_too(client, tw, db, clock):
    secret, _codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    sign_in(client, tw.main, secret, clock)
    en(client)
    clock.advance(**STALE)
    page = client.get(f"{CONFIRM}?next=/staff").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "enter a current code from your authenticator app too" in page
    staff_page = client.get("/staff").get_data(as_text=True)
    assert 'id="step-up-code"' in staff_page  # the inline notice asks for it as well
    token = csrf_from(page)

    def step_up(**data):
        return client.post(CONFIRM, data={"password": PASSWORD, "next": "/staff", "csrf_token": token, **data})

    missing = step_up()
    assert missing.status_code == 422 and "Enter the 6-digit code from your authenticator app." in missing.get_data(as_text=True)
    right = totp(secret, clock)
    wrong = step_up(code=f"{(int(right) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 422 and "That code is not right." in wrong.get_data(as_text=True)
    bad_password = client.post(CONFIRM, data={"password": "not-it", "code": right, "next": "/staff", "csrf_token": token})
    assert bad_password.status_code == 422 and "That is not your password." in bad_password.get_data(as_text=True)
    assert len(actions(db, "session.reauth_failed")) == 2
    done = step_up(code=right)
    assert done.status_code == 303 and done.headers["Location"] == "/staff"
    assert len(actions(db, "session.reauth")) == 1
    replay = step_up(code=right)  # the code just used is refused at once
    assert replay.status_code == 422 and "That code has already been used." in replay.get_data(as_text=True)
    # the step-up counts: a money setting changes
    changed = client.post("/staff/two-factor", data={"required": "1", "csrf_token": token})
    assert changed.status_code == 303 and urlsplit(changed.headers["Location"]).path == "/staff"
    db.session.commit()
    assert db.session.get(Shop, tw.shop.id, populate_existing=True).staff_two_factor_required is True


def test_a_recovery_code_passes_the_step_up_once(client, tw, db, clock):
    secret, codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    sign_in(client, tw.main, secret, clock)
    clock.advance(**STALE)
    token = page_token(client, CONFIRM)
    ok = client.post(CONFIRM, data={"password": PASSWORD, "recovery_code": codes[3], "csrf_token": token})
    assert ok.status_code == 303
    clock.advance(**STALE)
    again = client.post(CONFIRM, data={"password": PASSWORD, "recovery_code": codes[3], "csrf_token": token})
    assert again.status_code == 422


# -- the account's own settings ----------------------------------------------------------------------

def test_turning_it_off_needs_the_step_up_and_a_current_code(client, tw, db, clock):
    secret, _codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    sign_in(client, tw.main, secret, clock)
    en(client)
    token = page_token(client, SETTINGS)
    clock.advance(seconds=30)
    missing = client.post(f"{SETTINGS}/disable", data={"csrf_token": token})
    assert missing.status_code == 422 and "Enter the 6-digit code" in missing.get_data(as_text=True)
    wrong = client.post(f"{SETTINGS}/disable", data={"code": "000000" if totp(secret, clock) != "000000" else "111111",
                                                     "csrf_token": token})
    assert wrong.status_code == 422 and fresh(db, tw.main).two_factor_enabled
    clock.advance(**STALE)
    stale = client.post(f"{SETTINGS}/disable", data={"code": totp(secret, clock), "csrf_token": token})
    assert stale.status_code == 303 and urlsplit(stale.headers["Location"]).path == CONFIRM
    assert fresh(db, tw.main).two_factor_enabled
    step = client.post(CONFIRM, data={"password": PASSWORD, "code": totp(secret, clock), "csrf_token": token})
    assert step.status_code == 303
    used = client.post(f"{SETTINGS}/disable", data={"code": totp(secret, clock), "csrf_token": token})
    assert used.status_code == 422 and "already been used" in used.get_data(as_text=True)  # the step-up's code
    clock.advance(seconds=30)
    off = client.post(f"{SETTINGS}/disable", data={"code": totp(secret, clock), "csrf_token": token})
    assert off.status_code == 303
    account = fresh(db, tw.main)
    assert (account.totp_secret, account.totp_enabled_at, account.totp_last_step) == (None, None, None)
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    assert len(actions(db, "two_factor.disable")) == 1
    sign_out(client)
    assert login(client, tw.main).headers["Location"] == "/orders"  # the password alone again


def test_new_recovery_codes_replace_the_old_ones(client, tw, db, clock):
    secret, old = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    sign_in(client, tw.main, secret, clock)
    resp = client.post(f"{SETTINGS}/recovery-codes", data={"csrf_token": page_token(client, SETTINGS)})
    new = CODE_RE.findall(resp.get_data(as_text=True))
    assert resp.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    assert len(actions(db, "two_factor.recovery_codes")) == 1
    sign_out(client)
    password_step(client, tw.main)
    assert code_step(client, recovery_code=old[0]).status_code == 422
    assert code_step(client, recovery_code=new[0]).status_code == 303


# -- the main account and its sub-accounts -----------------------------------------------------------

def test_requiring_it_is_the_main_accounts_audited_setting(client, tw, login_as, db, clock):
    login_as(tw.main)
    token = page_token(client, "/staff")
    assert client.post("/staff/two-factor", data={"required": "1", "csrf_token": token}).status_code == 303
    assert client.post("/staff/two-factor", data={"required": "0", "csrf_token": token}).status_code == 303
    assert [len(actions(db, a)) for a in ("settings.staff_two_factor_on", "settings.staff_two_factor_off")] == [1, 1]
    clock.advance(**STALE)
    stale = client.post("/staff/two-factor", data={"required": "1", "csrf_token": token})
    assert urlsplit(stale.headers["Location"]).path == CONFIRM
    db.session.commit()
    assert db.session.get(Shop, tw.shop.id, populate_existing=True).staff_two_factor_required is False
    other = db.session.get(Shop, tw.other_shop.id)
    assert other.staff_two_factor_required is False  # another shop is never touched (R18)
    sign_out(client)
    login_as(tw.staff)
    assert client.post("/staff/two-factor", data={"required": "1", "csrf_token": page_token(client, "/orders")}
                       ).status_code == 403


def test_a_sub_account_of_a_shop_that_requires_it_must_set_it_up_first(client, tw, login_as, db, clock):
    tw.shop.staff_two_factor_required = True
    db.session.commit()
    login_as(tw.staff)
    en(client)
    for path in ("/orders", "/payouts", "/payouts/new", "/account/sessions", "/quota/mine", "/after-sales"):
        resp = client.get(path)
        assert resp.status_code == 303 and resp.headers["Location"] == SETTINGS, path
    htmx = client.get("/payouts", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == SETTINGS
    poll = client.get("/messages/bell", headers={"HX-Request": "true"})  # a page's own poll: no reload
    assert poll.status_code == 204 and "HX-Redirect" not in poll.headers
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "Your shop requires two-step verification for sub-accounts. Set it up now" in page
    assert 'class="mainnav"' not in page and 'class="bell"' not in page  # nothing else to open
    assert client.get(f"{CONFIRM}?next={SETTINGS}").status_code == 200  # the step-up stays reachable
    secret, _codes = enrol(client, clock)
    assert client.get("/orders").status_code == 200 and client.get("/payouts").status_code == 200
    # and, required, it cannot be turned off, even with a right code and a fresh step-up
    clock.advance(seconds=30)
    off = client.post(f"{SETTINGS}/disable", data={"code": totp(secret, clock), "csrf_token": csrf_from(page)})
    assert off.status_code == 422 and "so it cannot be turned off" in off.get_data(as_text=True)
    assert fresh(db, tw.staff).two_factor_enabled
    assert "Turn off two-step verification</button>" not in client.get(SETTINGS).get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 303


def test_the_main_account_is_never_forced(client, tw, login_as, db):
    tw.shop.staff_two_factor_required = True
    db.session.commit()
    login_as(tw.main)
    assert client.get("/orders").status_code == 200 and client.get("/staff").status_code == 200


def test_the_main_account_resets_a_sub_accounts_two_factor_and_its_sessions_end(app, client, tw, login_as, db, clock):
    secret, _codes = turned_on(db, tw.staff, clock)
    clock.advance(seconds=30)
    staff_browser = app.test_client()
    sign_in(staff_browser, tw.staff, secret, clock)
    assert signed_in(staff_browser)
    login_as(tw.main)
    staff_page = client.get("/staff").get_data(as_text=True)
    assert "重置两步验证" in staff_page and "已开启两步验证" in staff_page
    reset = client.post(f"/staff/{tw.staff.id}/two-factor/reset", data={"csrf_token": csrf_from(staff_page)})
    assert reset.status_code == 303
    assert client.get(reset.headers["Location"]).status_code == 200
    assert not signed_in(staff_browser)  # the old cookie is refused (R27)
    staff = fresh(db, tw.staff)
    assert not staff.two_factor_enabled and staff.totp_secret is None
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    events = actions(db, "two_factor.reset")
    assert len(events) == 1 and events[0].actor_id == tw.main.id and '"sessions_ended": 1' in events[0].after
    activity = client.get("/activity").get_data(as_text=True)
    assert "主账号重置了两步验证" in activity and "登录时验证码错误" not in activity
    # another shop's account, or the main account itself, is not found
    token = csrf_from(staff_page)
    assert client.post(f"/staff/{tw.main.id}/two-factor/reset", data={"csrf_token": token}).status_code == 404
    other_browser = app.test_client()
    login(other_browser, tw.other_main)
    assert other_browser.post(f"/staff/{tw.staff.id}/two-factor/reset",
                              data={"csrf_token": page_token(other_browser, "/staff")}).status_code == 404
    # the sub-account signs in with its password alone now
    assert login(staff_browser, tw.staff).headers["Location"] == "/orders"


def test_the_activity_log_names_every_two_factor_event(client, tw, login_as, db, clock):
    secret, codes = turned_on(db, tw.main, clock)
    clock.advance(seconds=30)
    password_step(client, tw.main)
    code_step(client, "000000" if totp(secret, clock) != "000000" else "111111")
    code_step(client, recovery_code=codes[0])
    en(client)
    html = client.get("/activity").get_data(as_text=True)
    for label in ("Two-step verification turned on", "Wrong code at sign-in (two-step verification)",
                  "Signed in with a recovery code", "recovery codes left: 9", "with: authenticator app"):
        assert label in html, label
    filtered = client.get("/activity?action=two_factor.").get_data(as_text=True)
    assert "Two-step verification turned on" in filtered and "Signed in with a recovery code" in filtered


def test_the_check_on_every_request_costs_no_query(client, tw, login_as, db, clock):
    """The gate reads the signed-in account and its shop, loaded with the session: a sub-account with
    two-factor on, in a shop that requires it, costs the same statements as one in a shop that does not."""
    from tests.web.test_statement_counts import statements

    secret, _codes = turned_on(db, tw.staff, clock)
    clock.advance(seconds=30)
    sign_in(client, tw.staff, secret, clock)

    def count() -> int:
        client.get("/quota/mine")  # once to settle (last-seen)
        with statements(db) as seen:
            assert client.get("/quota/mine").status_code == 200
        assert not [s for s in seen if " FROM shop WHERE " in s]  # the shop came with the session's account
        return len(seen)

    optional = count()
    tw.shop.staff_two_factor_required = True
    db.session.commit()
    assert count() == optional
