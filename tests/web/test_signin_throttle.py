"""Sign-in throttling with device cookies (OWASP ASVS 2.2.1; OWASP "Slow Down Online Guessing Attacks
with Device Cookies"): a browser that signed in to an account before keeps its own budget, so failures
from elsewhere never lock the owner out; unknown browsers are slowed per login name and per address;
the wait is told in the user's language. Every test runs on the embedded store (the app's database)
and on Redis. (No R-number: throttling is not a product rule.) The races are in tests/races/test_signin_race.py."""
from __future__ import annotations

import os
import re

import pytest

from tests.support import flushed_redis, PASSWORD, csrf_from, page_token

REDIS_TEST_URL = os.environ.get("THROTTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
DEVICE = "afterdesk_device"
OWNER_IP, ATTACKER_NET = "198.51.100.10", "203.0.113"


@pytest.fixture(params=["database", "redis"])
def store(request):
    """Where the counters live: the app's database (the embedded default) or Redis (a db of its own, flushed)."""
    if request.param == "database":
        yield "database"
        return
    with flushed_redis(REDIS_TEST_URL):
        yield REDIS_TEST_URL


@pytest.fixture
def app_config(store):
    return {"SIGNIN_THROTTLE_STORAGE_URI": store}


@pytest.fixture(autouse=True)
def _isolated_requests(client):
    """Every test client of the app (`app.test_client()`, one per browser) runs requests as a server would."""


def sign_in(client, login: str, password: str, ip: str, path: str = "/login"):
    """One attempt through the real form (CSRF included) from the address `ip`."""
    env = {"REMOTE_ADDR": ip}
    token = csrf_from(client.get(path, environ_base=env).get_data(as_text=True))
    return client.post(path, data={"login": login, "password": password, "csrf_token": token}, environ_base=env)


def sign_out(client):
    assert client.post("/logout", data={"csrf_token": page_token(client, "/orders")}).status_code == 303


def english(client):
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})


def lock_out_unknown_browsers(app, login: str, path: str = "/login", start: int = 0):
    """Ten wrong passwords for `login` from ten addresses, each from a fresh (unknown) browser."""
    for i in range(start, start + 10):
        assert sign_in(app.test_client(), login, "wrong-password", f"{ATTACKER_NET}.{i + 1}", path).status_code == 200


def wait_text(resp) -> str:
    m = re.search(r'<p class="error" id="password-error">([^<]*)</p>', resp.get_data(as_text=True))
    assert m, resp.get_data(as_text=True)[:500]
    return m.group(1)


def test_owners_known_browser_signs_in_while_the_account_is_hammered_from_elsewhere(app, client, world):
    """The attack of the issue: wrong passwords from anywhere used to lock the owner out everywhere."""
    owner = world.main_a
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 303  # this browser is now known
    assert client.get_cookie(DEVICE) is not None
    sign_out(client)

    attacker = app.test_client()
    statuses = [sign_in(attacker, owner.login, f"guess-{i}", f"{ATTACKER_NET}.{i % 250 + 1}").status_code
                for i in range(60)]
    assert statuses == [200] * 10 + [429] * 50  # ten guesses, then unknown browsers are locked out
    # The attacker holding the right password from yet another address and browser waits too...
    assert sign_in(app.test_client(), owner.login, PASSWORD, "192.0.2.77").status_code == 429
    # ... the owner's browser does not, from its own address or any other, even after a typo.
    assert sign_in(client, owner.login, "typo", OWNER_IP).status_code == 200
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 303
    sign_out(client)
    assert sign_in(client, owner.login, PASSWORD, "192.0.2.200").status_code == 303


def test_known_browser_has_its_own_small_budget(app, client, world):
    """A known browser's failures spend its own budget (LOGIN_DEVICE_FAILURE_LIMIT), not the account's."""
    owner = world.main_a
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 303
    sign_out(client)
    assert [sign_in(client, owner.login, "wrong", OWNER_IP).status_code for _ in range(11)] == [200] * 10 + [429]
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 429  # this device waits now
    # Unknown browsers still have the account's budget: the device's failures were not theirs.
    assert sign_in(app.test_client(), owner.login, PASSWORD, "192.0.2.5").status_code == 303


def test_device_cookie_is_signed_http_only_long_lived_and_renewed(client, world, app):
    resp = sign_in(client, world.main_a.login, PASSWORD, OWNER_IP)
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(DEVICE + "="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert f"Max-Age={180 * 24 * 3600}" in header and "Secure" not in header  # Secure in production (below)
    first = client.get_cookie(DEVICE).value
    sign_out(client)
    assert sign_in(client, world.main_a.login, PASSWORD, OWNER_IP).status_code == 303
    assert client.get_cookie(DEVICE).value != first  # a new nonce at each sign-in: a fresh device budget


def test_device_cookie_in_production_is_secure_with_the_host_prefix(app, world, monkeypatch):
    from webapp.config import Config
    from webapp.services import signin_throttle

    monkeypatch.setenv("AFTERDESK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    cfg = Config()
    assert signin_throttle.cookie_name({"SESSION_COOKIE_SECURE": cfg.SESSION_COOKIE_SECURE}) == "__Host-" + DEVICE

    app.config["SESSION_COOKIE_SECURE"] = True  # what production sets
    client = app.test_client()
    token = csrf_from(client.get("/login", base_url="https://localhost").get_data(as_text=True))
    resp = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                       data={"login": world.main_a.login, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 303
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("__Host-" + DEVICE + "="))
    assert "Secure" in header and "HttpOnly" in header and "Path=/" in header and "Domain" not in header


def test_one_browser_is_remembered_for_each_login_it_signed_in_to(app, client, world):
    for account in (world.main_a, world.staff_a):
        assert sign_in(client, account.login, PASSWORD, OWNER_IP).status_code == 303
        sign_out(client)
    lock_out_unknown_browsers(app, world.main_a.login)
    lock_out_unknown_browsers(app, world.staff_a.login, start=20)
    for account in (world.main_a, world.staff_a):
        assert sign_in(client, account.login, PASSWORD, OWNER_IP).status_code == 303
        sign_out(client)


def test_unknown_browsers_are_slowed_per_address_across_many_logins(app, client, world, make):
    """One address trying many login names (existing or not) gets LOGIN_FAILURE_LIMIT password checks."""
    names = ["no-such-1", world.staff_a.login, "no-such-2", world.buyer_x.login, *[f"nobody-{i}" for i in range(6)]]
    ip = "192.0.2.66"
    for name in names:
        assert sign_in(app.test_client(), name, "wrong", ip).status_code == 200
    resp = sign_in(app.test_client(), world.staff_b.login, PASSWORD, ip)  # even a right password waits now
    assert resp.status_code == 429
    assert sign_in(app.test_client(), world.buyer_y.login, PASSWORD, ip, "/buyer/login").status_code == 429
    # Another address has its own budget; so does a browser that knows the account, from the same address.
    assert sign_in(app.test_client(), world.staff_b.login, PASSWORD, "192.0.2.67").status_code == 303
    assert sign_in(client, world.main_b.login, PASSWORD, OWNER_IP).status_code == 303
    sign_out(client)
    assert sign_in(client, world.main_b.login, PASSWORD, ip).status_code == 303


def test_ipv6_addresses_share_a_budget_per_64(app, world):
    for i in range(10):
        assert sign_in(app.test_client(), f"nobody-{i}", "wrong", f"2001:db8:1:2::{i + 1:x}").status_code == 200
    assert sign_in(app.test_client(), world.staff_a.login, PASSWORD, "2001:db8:1:2:ffff::1").status_code == 429
    assert sign_in(app.test_client(), world.staff_a.login, PASSWORD, "2001:db8:1:3::1").status_code == 303


def _forge(cfg_secret: str, payload):
    from itsdangerous import URLSafeSerializer
    import hashlib

    return URLSafeSerializer(cfg_secret, salt="afterdesk.signin-device",
                             signer_kwargs={"digest_method": hashlib.sha256}).dumps(payload)


def test_forged_or_tampered_device_cookie_counts_as_unknown(app, client, world, clock):
    owner = world.main_a
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 303
    genuine = client.get_cookie(DEVICE).value
    other = app.test_client()
    assert sign_in(other, world.staff_a.login, PASSWORD, OWNER_IP).status_code == 303
    for_another_login = other.get_cookie(DEVICE).value
    lock_out_unknown_browsers(app, owner.login)

    from webapp.domain.signin_throttle import account_key

    payload = [[account_key("merchant", owner.login), "A" * 22, int(clock.now().timestamp())]]
    body, sig = genuine.rsplit(".", 1)
    forged = {
        "tampered signature": body + "." + ("A" if sig[0] != "A" else "B") + sig[1:],
        "tampered payload": _forge("test-secret-key", payload).split(".")[0] + "." + sig,
        "signed with another key": _forge("not-the-secret-key", payload),
        "valid, for another login": for_another_login,
        "garbage": "x" * 50,
        "unsigned": body,
    }
    for what, value in forged.items():
        browser = app.test_client()
        browser.set_cookie(DEVICE, value)
        assert sign_in(browser, owner.login, PASSWORD, OWNER_IP).status_code == 429, what
    browser = app.test_client()
    browser.set_cookie(DEVICE, genuine)  # the genuine cookie, wherever it is, is the known browser
    assert sign_in(browser, owner.login, PASSWORD, OWNER_IP).status_code == 303


def test_an_expired_device_cookie_counts_as_unknown(app, client, world, clock):
    owner = world.main_a
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 303
    sign_out(client)
    clock.advance(days=181)  # LOGIN_DEVICE_COOKIE_LIFETIME is 180 days (the browser would have dropped it too)
    lock_out_unknown_browsers(app, owner.login)
    assert sign_in(client, owner.login, PASSWORD, OWNER_IP).status_code == 429


def test_the_wait_is_told_in_minutes_or_seconds_in_both_languages(app, client, world, clock):
    """The form comes back with what was typed in the login field (never the password) and the wait."""
    lock_out_unknown_browsers(app, world.main_a.login)
    resp = sign_in(client, world.main_a.login, PASSWORD, "192.0.2.9")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "300"
    assert wait_text(resp) == "登录失败次数过多，请 5 分钟后再试。"  # zh_CN by default
    assert 'value="main-a"' in html and PASSWORD not in html
    english(client)
    clock.advance(minutes=4)
    resp = sign_in(client, world.main_a.login, PASSWORD, "192.0.2.9")
    assert wait_text(resp) == "Too many failed sign-ins. Wait 1 minute and try again."
    clock.advance(seconds=30)
    resp = sign_in(client, world.main_a.login, PASSWORD, "192.0.2.9")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert wait_text(resp) == "Too many failed sign-ins. Wait 30 seconds and try again."
    assert 'value="main-a"' in resp.get_data(as_text=True) and PASSWORD not in resp.get_data(as_text=True)
    clock.advance(seconds=29)
    assert wait_text(sign_in(client, world.main_a.login, PASSWORD, "192.0.2.9")) == (
        "Too many failed sign-ins. Wait 1 second and try again.")
    clock.advance(seconds=1)  # the window is over
    assert sign_in(client, world.main_a.login, PASSWORD, "192.0.2.9").status_code == 303


def test_the_wait_on_the_buyer_page_in_chinese_seconds(app, client, world, clock):
    lock_out_unknown_browsers(app, world.buyer_x.login, "/buyer/login")
    clock.advance(minutes=4, seconds=15)
    resp = sign_in(client, world.buyer_x.login, PASSWORD, "192.0.2.9", "/buyer/login")
    assert resp.status_code == 429 and "买家" in resp.get_data(as_text=True)
    assert wait_text(resp) == "登录失败次数过多，请 45 秒后再试。"
    assert f'value="{world.buyer_x.login}"' in resp.get_data(as_text=True)


def _normalized(resp, login: str) -> str:
    html = resp.get_data(as_text=True).replace(login, "LOGIN")  # what was typed is shown back, as it should be
    return re.sub(r'(name="csrf_token" (?:type="hidden" )?value="|"X-CSRFToken": ")[^"]+', r"\1TOKEN", html)  # a token per session


def test_lockout_does_not_reveal_whether_the_account_exists(app, world):
    pages = {}
    for n, login in enumerate((world.main_a.login, "no-such-merchant")):
        lock_out_unknown_browsers(app, login, start=n * 20)
        resp = sign_in(app.test_client(), login, PASSWORD, "192.0.2.9")
        pages[login] = (resp.status_code, resp.headers["Retry-After"], _normalized(resp, login))
    assert pages[world.main_a.login] == pages["no-such-merchant"]
    assert pages["no-such-merchant"][0] == 429


def test_a_success_gives_its_reservation_back(app, world):
    """Only failures spend the budget: an unknown browser's successful sign-in leaves it as it was."""
    login = world.main_a.login
    for i in range(9):
        assert sign_in(app.test_client(), login, "wrong", f"{ATTACKER_NET}.{i + 1}").status_code == 200
    assert sign_in(app.test_client(), login, PASSWORD, "192.0.2.1").status_code == 303
    assert sign_in(app.test_client(), login, "wrong", "192.0.2.2").status_code == 200  # the 10th failure
    assert sign_in(app.test_client(), login, "wrong", "192.0.2.3").status_code == 429


def test_a_refused_attempt_spends_nothing(app, world):
    """An attempt refused by the login name's budget gives back what it reserved of its address's."""
    lock_out_unknown_browsers(app, world.main_a.login)
    ip = "192.0.2.44"
    for _ in range(15):
        assert sign_in(app.test_client(), world.main_a.login, "wrong", ip).status_code == 429
    assert sign_in(app.test_client(), world.staff_a.login, PASSWORD, ip).status_code == 303


@pytest.mark.parametrize("app_config", [{"LOGIN_REQUEST_LIMIT": "3 per minute"}])
def test_flood_guard_limits_every_sign_in_post_per_address(app, world):
    """Flask-Limiter stays as a flood guard: every POST counts, successes included (each costs an Argon2id hash)."""
    statuses = [sign_in(app.test_client(), world.main_a.login, PASSWORD, "192.0.2.50").status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    resp = sign_in(app.test_client(), world.main_a.login, PASSWORD, "192.0.2.50")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert "秒后再试" in wait_text(resp) or "分钟后再试" in wait_text(resp)
    assert sign_in(app.test_client(), world.main_a.login, PASSWORD, "192.0.2.51").status_code == 303


def test_merchant_and_buyer_pages_keep_separate_login_name_budgets(app, world, make):
    make.buyer(login=world.main_a.login)  # a buyer with the same login name as a merchant
    lock_out_unknown_browsers(app, world.main_a.login)
    assert sign_in(app.test_client(), world.main_a.login, PASSWORD, "192.0.2.8", "/buyer/login").status_code == 303


@pytest.mark.parametrize("store", ["database"], indirect=True)  # Redis expires its keys itself
def test_expired_counters_are_purged_from_the_embedded_store(app, db, clock, monkeypatch):
    from sqlalchemy import func, select

    from webapp.models import SignInBucket
    from webapp.services import signin_throttle as st

    now_ms = int(clock.now().timestamp() * 1000)
    s = st.DatabaseStore(db.session)
    for key in ("ip:a", "ip:b"):
        assert s.reserve(key, 10, 1_000, now_ms) == (True, now_ms + 1_000)
    monkeypatch.setattr(st, "PURGE_CHANCE", 1.0)
    assert s.reserve("ip:c", 10, 60_000, now_ms + 1_000) == (True, now_ms + 61_000)  # a and b have ended
    assert db.session.scalars(select(SignInBucket.key)).all() == ["ip:c"]
    assert db.session.scalar(select(func.sum(SignInBucket.attempts))) == 1



@pytest.mark.parametrize("app_config", [{"SIGNIN_THROTTLE_STORAGE_URI": "redis://127.0.0.1:1/0"}])
def test_a_sign_in_while_redis_is_down_gets_the_503_page_not_a_500(client, make, app_config):
    """The counters cannot be taken, so nobody is let through unchecked (fails closed), and the
    person reads "temporarily unavailable, nothing was changed" in their language."""
    shop = make.shop()
    make.account(shop, role="main", login="redis-down")
    resp = sign_in(client, "redis-down", PASSWORD, "198.51.100.7")
    assert resp.status_code == 503
    assert "服务暂时不可用" in resp.get_data(as_text=True)
