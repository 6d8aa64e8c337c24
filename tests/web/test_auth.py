"""Sign-in, sessions, CSRF, throttling and security headers (DESIGN.md Security)."""
import pytest

from tests.support import PASSWORD, csrf_from, login, page_token


def test_merchant_signs_in_and_lands_on_orders(client, world):
    resp = login(client, world.staff_a)
    assert resp.status_code == 303 and resp.headers["Location"] == "/orders"
    assert "Shop A" in client.get("/orders").get_data(as_text=True)


def test_buyer_signs_in_on_its_own_page(client, world):
    resp = login(client, world.buyer_x)
    assert resp.status_code == 303 and resp.headers["Location"] == "/my/orders"


def test_merchant_login_page_does_not_accept_buyers(client, world):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"login": world.buyer_x.login, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 200
    assert "Wrong login name or password" in resp.get_data(as_text=True) or "登录名或密码错误" in resp.get_data(as_text=True)


def test_wrong_password_keeps_the_login_name_and_says_why(client, world):
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    resp = login(client, world.main_a, password="nope")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Wrong login name or password, or the account is disabled." in html
    assert 'value="main-a"' in html  # what the user typed is kept
    assert PASSWORD not in html


def test_disabled_account_cannot_sign_in(client, db, world):
    world.staff_a.active = False
    db.session.commit()
    assert login(client, world.staff_a).status_code == 200


def test_disabling_an_account_ends_its_session_on_the_next_request(client, db, world, login_as):
    login_as(world.staff_a)
    assert client.get("/orders").status_code == 200
    world.staff_a.active = False
    db.session.commit()
    resp = client.get("/orders")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_password_reset_epoch_ends_other_sessions(client, db, world, login_as):
    login_as(world.staff_a)
    world.staff_a.session_epoch += 1
    db.session.commit()
    assert client.get("/orders").status_code == 302


def test_new_session_at_sign_in_no_fixation(client, world):
    client.get("/login")
    before = client.get_cookie("afterdesk_session").value
    login(client, world.staff_a)
    after = client.get_cookie("afterdesk_session").value
    assert before != after
    # The pre-login CSRF token is not the one the new session uses.
    assert csrf_from(client.get("/login").get_data(as_text=True))


def test_logout_clears_the_session(client, world, login_as):
    login_as(world.staff_a)
    resp = client.post("/logout", data={"csrf_token": page_token(client, "/orders")})
    assert resp.status_code == 303
    assert client.get("/orders").status_code == 302


@pytest.mark.parametrize(
    "next_url, expected",
    [
        ("/after-sales", "/after-sales"),
        ("/orders?q=69", "/orders?q=69"),
        ("https://evil.example/x", "/orders"),
        ("//evil.example/x", "/orders"),
        ("/\\evil.example", "/orders"),
        ("javascript:alert(1)", "/orders"),
    ],
)
def test_login_next_accepts_local_paths_only(client, world, next_url, expected):
    resp = login(client, world.main_a, next_url=next_url)
    assert resp.status_code == 303 and resp.headers["Location"] == expected


def test_anonymous_is_sent_to_login_with_next(client, world):
    resp = client.get("/orders?q=69")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")
    assert client.get("/my/orders").headers["Location"].startswith("/buyer/login")


def test_idle_timeout_30_minutes(client, world, clock, login_as):
    login_as(world.staff_a)
    clock.advance(minutes=29)
    assert client.get("/orders").status_code == 200  # activity renews the idle timer
    clock.advance(minutes=29)
    assert client.get("/orders").status_code == 200
    clock.advance(minutes=30, seconds=1)
    assert client.get("/orders").status_code == 302


def test_absolute_timeout_12_hours(client, world, clock, login_as):
    login_as(world.staff_a)
    for _ in range(24):
        clock.advance(minutes=29, seconds=59)
        if client.get("/orders").status_code != 200:
            break
    # 24 x 29m59s = 11h59m36s: still in
    assert client.get("/orders").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/orders").status_code == 302


def test_csrf_post_without_token_is_refused(client, world, login_as):
    login_as(world.staff_a)
    resp = client.post("/logout")
    assert resp.status_code == 400
    assert client.get("/orders").status_code == 200  # still signed in: nothing happened
    assert client.post("/login", data={"login": "main-a", "password": PASSWORD}).status_code == 400


def test_csrf_token_in_htmx_header_is_accepted(client, world, login_as):
    login_as(world.staff_a)
    token = page_token(client, "/orders")
    resp = client.post("/logout", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert resp.status_code == 303


def test_login_throttled_after_10_failures_per_login_name(client, world):
    """Ten failures for one login name, from ten addresses: the name is locked for 5 minutes."""
    for i in range(10):
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
        assert login(client, world.main_a, password="wrong").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "10.0.1.1"
    resp = login(client, world.main_a)  # even the right password waits now
    assert resp.status_code == 429
    html = resp.get_data(as_text=True)
    assert "Wait 5 minutes" in html or "请 5 分钟后再试" in html  # the wait comes from LOGIN_FAILURE_LIMIT
    assert 'value="main-a"' in html  # the form keeps what was typed
    assert login(client, world.staff_a).status_code == 303  # other names are not locked out


def test_login_throttled_per_ip_across_names(client, make):
    shop = make.shop()
    names = [make.account(shop) for _ in range(11)]
    for acc in names[:10]:
        assert login(client, acc, password="wrong").status_code == 200
    assert login(client, names[10]).status_code == 429


def test_successful_sign_ins_do_not_count(client, world):
    for _ in range(12):
        assert login(client, world.main_a).status_code == 303


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "HX-Request" in resp.headers.get("Vary", "")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_inline_script_in_pages(client, world, login_as):
    login_as(world.main_a)
    for path in ("/orders", f"/orders/{world.order_a.order_no}", "/after-sales", f"/after-sales/{world.case_a.id}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick" not in html and "style=" not in html


def test_production_without_secret_key_refuses_to_start(monkeypatch):
    from webapp.config import Config, ConfigError

    monkeypatch.setenv("AFTERDESK_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("AFTERDESK_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config()


def test_production_cookies_are_secure(monkeypatch):
    from webapp.config import Config

    monkeypatch.setenv("AFTERDESK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    cfg = Config()
    assert cfg.SESSION_COOKIE_SECURE is True and cfg.SESSION_COOKIE_NAME.startswith("__Host-")


def test_embedded_default_keeps_its_secret_key(monkeypatch, tmp_path):
    import webapp.config as config

    monkeypatch.setattr(config, "INSTANCE", tmp_path)
    monkeypatch.delenv("AFTERDESK_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("AFTERDESK_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    first = config.Config()
    second = config.Config()
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) >= 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'afterdesk.db'}"


def test_database_url_forms(monkeypatch):
    from webapp.config import Config

    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    monkeypatch.setenv("SECRET_KEY", "k")
    assert Config().SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h/d"
