"""R27, sessions end when they should (OWASP ASVS 4.0.3 V3.3): signed-in sessions live on the
server (webapp/sessions.py), so signing out, disabling an account or resetting its password ends
them for every copy of the cookie, enabling again revives none, and a merchant sees and ends its
own sessions. Every test runs on the three stores: the database on SQLite and on PostgreSQL (the
embedded default) and Redis (REDIS_URL; a db of its own, flushed)."""
from __future__ import annotations

import hashlib
import json
import os
import re

import pytest
from sqlalchemy import select

from tests.support import flushed_redis, PASSWORD, login, page_token

REDIS_TEST_URL = os.environ.get("SESSIONS_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
COOKIE = "afterdesk_session"
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg), "redis"])
def backend(request):
    return request.param


@pytest.fixture
def db_url(backend, request):
    return request.getfixturevalue("pg_url" if backend == "pg" else "sqlite_url")


@pytest.fixture
def redis_client(backend):
    if backend != "redis":
        yield None
        return
    with flushed_redis(REDIS_TEST_URL, decode_responses=True) as client:
        yield client


@pytest.fixture
def app_config(backend, redis_client):
    return {"SESSION_STORE_URL": REDIS_TEST_URL} if backend == "redis" else {}


def browser(app, *, ua: str = CHROME_WINDOWS, ip: str = "203.0.113.7"):
    """Another browser: its own cookie jar, address and User-Agent."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": ip, "HTTP_USER_AGENT": ua})
    return client


def signed_in(app, account, **kw):
    client = browser(app, **kw)
    assert login(client, account).status_code == 303
    return client


def cookie_of(client) -> str:
    return client.get_cookie(COOKIE).value


def copy_cookie(source, target) -> None:
    target.set_cookie(COOKIE, cookie_of(source))


def is_in(client, path="/orders") -> bool:
    resp = client.get(path)
    assert resp.status_code in (200, 302), resp.status_code
    return resp.status_code == 200


def stored(app, db, redis_client) -> list[str]:
    """Everything the session store holds, as text: every row or every key and value."""
    if redis_client is not None:
        out = []
        for key in redis_client.keys("*"):
            kind = redis_client.type(key)
            value = redis_client.get(key) if kind == "string" else " ".join(sorted(redis_client.smembers(key)))
            out.append(f"{key} {value}")
        return out
    from webapp.models import UserSession

    db.session.commit()
    return [" ".join(str(v) for v in row) for row in db.session.execute(select(*UserSession.__table__.c))]


def sessions_of(app, account) -> list:
    from webapp.extensions import db
    from webapp.services import sessions

    db.session.commit()
    return sessions.current_store().of_account(db.session, account.KIND, account.id)


@pytest.fixture(autouse=True)
def _isolated_requests(client):
    """Every `app.test_client()` (one per browser) runs its requests as a server would."""


def test_r27_a_cookie_copied_before_sign_out_is_refused_after_it(app, world):
    mine = signed_in(app, world.staff_a)
    thief = browser(app, ua=SAFARI_IPHONE, ip="198.51.100.66")
    copy_cookie(mine, thief)
    assert is_in(thief)  # the copy works while the session lives: that is what a stolen cookie is
    assert mine.post("/logout", data={"csrf_token": page_token(mine, "/orders")}).status_code == 303
    assert not is_in(mine)
    stolen = cookie_of(thief)
    for where in (thief, browser(app), browser(app, ip="127.0.0.1")):  # from anywhere, any browser
        where.set_cookie(COOKIE, stolen)
        assert not is_in(where)
        assert where.get("/messages/bell", headers={"HX-Request": "true"}).status_code == 204  # htmx: to sign-in
    assert sessions_of(app, world.staff_a) == []


def test_r27_disabled_then_enabled_account_keeps_its_old_sessions_refused(app, db, world, redis_client):
    from webapp.services import staff

    phone, laptop = signed_in(app, world.staff_a, ua=SAFARI_IPHONE), signed_in(app, world.staff_a)
    copy = browser(app)
    copy_cookie(phone, copy)
    assert is_in(phone) and is_in(laptop) and len(sessions_of(app, world.staff_a)) == 2
    main = signed_in(app, world.main_a)
    resp = main.post(f"/staff/{world.staff_a.id}/active", data={"active": "0", "csrf_token": page_token(main, "/staff")})
    assert resp.status_code == 303
    assert sessions_of(app, world.staff_a) == []  # ended at once, not on their next request
    staff.set_active(db.session, world.main_a, world.staff_a.id, True, world.main_a.created_at)  # enabled again
    for client in (phone, laptop, copy):
        assert not is_in(client)  # enabling revives none
    assert is_in(main)
    again = signed_in(app, world.staff_a)  # the account itself works again
    assert is_in(again)
    from webapp.models import AuditEvent

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.disable")).one()
    assert json.loads(event.after) == {"active": False, "sessions_ended": 2}


def test_r27_password_reset_ends_every_session(app, db, world):
    phone, laptop = signed_in(app, world.staff_a, ua=SAFARI_IPHONE), signed_in(app, world.staff_a)
    main = signed_in(app, world.main_a)
    resp = main.post(f"/staff/{world.staff_a.id}/password",
                     data={"password": "Another2026x", "csrf_token": page_token(main, f"/staff/{world.staff_a.id}/password")})
    assert resp.status_code == 303
    assert not is_in(phone) and not is_in(laptop) and sessions_of(app, world.staff_a) == []
    assert is_in(main)  # the main account's own session is not touched
    assert login(browser(app), world.staff_a).status_code == 200  # the old password no longer works
    fresh = browser(app)
    assert login(fresh, world.staff_a, password="Another2026x").status_code == 303 and is_in(fresh)


def test_r27_sign_out_everywhere_else_ends_the_others_but_not_this_one(app, db, world):
    here = signed_in(app, world.main_a)
    others = [signed_in(app, world.main_a, ua=SAFARI_IPHONE, ip=f"198.51.100.{i}") for i in (1, 2)]
    staff = signed_in(app, world.staff_a)
    assert all(is_in(c) for c in (here, *others))
    resp = here.post("/account/sessions/end-others", data={"csrf_token": page_token(here, "/account/sessions")})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/sessions"
    assert is_in(here) and not any(is_in(c) for c in others)
    assert is_in(staff)  # another account of the shop is not touched
    assert len(sessions_of(app, world.main_a)) == 1
    from webapp.models import AuditEvent

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "session.end_others")).one()
    assert (event.shop_id, event.actor_id, json.loads(event.after)) == (world.shop_a.id, world.main_a.id, {"sessions_ended": 2})
    html = here.get("/activity").get_data(as_text=True)
    assert "退出了其他所有设备" in html and "退出的登录数: 2" in html


def test_r27_my_sessions_lists_each_device_and_signs_out_one_with_htmx(app, db, world):
    here = signed_in(app, world.staff_a)  # a sub-account has the page too
    phone = signed_in(app, world.staff_a, ua=SAFARI_IPHONE, ip="198.51.100.23")
    here.post("/lang", data={"lang": "en", "csrf_token": page_token(here, "/orders")})
    html = here.get("/account/sessions").get_data(as_text=True)
    assert "My sessions" in html and html.count('id="session-') == 2
    assert "Chrome 131 · Windows" in html and "Safari 17 · iPhone" in html and "198.51.100.23" in html
    assert html.count("This device") == 1 and re.search(r"Chrome 131 · Windows</strong>\s*<span[^>]*>This device", html)
    handle = re.search(r'id="session-([0-9a-f]{16})"[^>]*>\s*<td[^>]*><strong>Safari', html).group(1)
    assert hashlib.sha256(cookie_of(phone).encode()).hexdigest().startswith(handle)
    token = page_token(here, "/account/sessions")
    resp = here.post(f"/account/sessions/{handle}/end", headers={"HX-Request": "true", "X-CSRFToken": token})
    fragment = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in fragment and 'id="sessions"' in fragment
    assert "That session is signed out" in fragment and fragment.count('id="session-') == 1
    assert not is_in(phone) and is_in(here)
    again = here.post(f"/account/sessions/{handle}/end", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert again.status_code == 404  # already ended
    from webapp.models import AuditEvent

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "session.end")).one()
    assert json.loads(event.after) == {"device": "Safari 17 · iPhone", "address": "198.51.100.23"}


def test_r27_nobody_ends_another_accounts_session(app, world):
    staff = signed_in(app, world.staff_a)
    handle = hashlib.sha256(cookie_of(staff).encode()).hexdigest()[:16]
    for intruder in (world.main_a, world.main_b, world.buyer_x):
        client = signed_in(app, intruder)
        resp = client.post(f"/account/sessions/{handle}/end", data={"csrf_token": page_token(client, "/account/sessions")})
        assert resp.status_code == 404
        assert handle not in client.get("/account/sessions").get_data(as_text=True)
    assert is_in(staff)


def test_r27_buyers_see_and_end_their_own_sessions_too(app, db, world):
    here, other = signed_in(app, world.buyer_x), signed_in(app, world.buyer_x, ua=SAFARI_IPHONE)
    html = here.get("/account/sessions").get_data(as_text=True)
    assert html.count('id="session-') == 2 and "本设备" in html
    assert here.post("/account/sessions/end-others", data={"csrf_token": page_token(here, "/account/sessions")}).status_code == 303
    assert not is_in(other, "/my/orders") and is_in(here, "/my/orders")
    from webapp.models import AuditEvent

    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("session."))).all() == []


def test_r27_idle_timeout_is_kept_by_the_store(app, world, clock):
    client = signed_in(app, world.staff_a)
    clock.advance(minutes=29)
    assert is_in(client)  # activity moves last-seen
    clock.advance(minutes=29)
    assert is_in(client)
    stale = browser(app)
    copy_cookie(client, stale)
    clock.advance(minutes=30, seconds=1)
    resp = stale.get("/orders")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert sessions_of(app, world.staff_a) == []  # refused and deleted when presented
    assert "登录已过期，请重新登录。" in stale.get("/login").get_data(as_text=True)  # and says why
    assert not is_in(client)


def test_r27_absolute_timeout_is_kept_by_the_store(app, world, clock):
    client = signed_in(app, world.staff_a)
    for _ in range(24):
        clock.advance(minutes=29, seconds=59)
        assert is_in(client)  # 24 x 29m59s = 11h59m36s: active all along, still in
    clock.advance(minutes=1)
    assert not is_in(client)
    assert sessions_of(app, world.staff_a) == []


def test_r27_the_raw_session_id_is_never_stored(app, db, world, redis_client):
    clients = [signed_in(app, world.main_a), signed_in(app, world.buyer_x)]
    dump = "\n".join(stored(app, db, redis_client))
    for client in clients:
        raw = cookie_of(client)
        assert len(raw) >= 43  # 256 bits, base64url
        assert raw not in dump
        assert hashlib.sha256(raw.encode()).hexdigest() in dump  # what the store keys it by
    assert PASSWORD not in dump


@pytest.mark.parametrize("value", ["A" * 43, "not a session", "x.y.z", "Zm9v." * 20, "%00%ff", "a" * 4000])
def test_r27_a_forged_or_garbage_cookie_is_just_a_fresh_anonymous_session(app, world, value):
    client = browser(app)
    client.set_cookie(COOKIE, value)
    resp = client.get("/orders")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert login(client, world.main_a).status_code == 303 and is_in(client)  # and signing in still works
    assert cookie_of(client) != value


def test_r27_a_signed_cookie_never_signs_anyone_in(app, world):
    """The secret key signs the cookie of a session that signs nobody in; such a cookie naming an
    account (forged with a leaked key, or from before R27) is not a sign-in: only the store is."""
    from flask.sessions import SecureCookieSessionInterface

    forged = SecureCookieSessionInterface().get_signing_serializer(app).dumps(
        {"_user_id": f"m:{world.main_a.id}:0", "_fresh": True, "_id": "x"})
    client = browser(app)
    client.set_cookie(COOKIE, forged)
    assert not is_in(client)


def test_r27_a_new_session_id_at_every_sign_in(app, world):
    client = browser(app)
    client.get("/login")
    anonymous = cookie_of(client)
    assert login(client, world.staff_a).status_code == 303
    first = cookie_of(client)
    assert first != anonymous
    old = browser(app)
    old.set_cookie(COOKIE, first)
    assert login(client, world.main_a).status_code == 303  # signing in again, as someone else
    assert cookie_of(client) != first
    assert not is_in(old)  # the session before it ended
    assert "Shop A" in client.get("/staff").get_data(as_text=True)


def test_r27_an_unchanged_request_writes_nothing_and_last_seen_moves_once_a_minute(app, world, clock):
    client = signed_in(app, world.main_a)
    client.get("/orders")
    before = sessions_of(app, world.main_a)
    again = client.get("/orders")
    assert "Set-Cookie" not in again.headers and sessions_of(app, world.main_a) == before
    clock.advance(seconds=30)
    client.get("/orders")
    assert sessions_of(app, world.main_a)[0].last_seen_at == before[0].last_seen_at
    clock.advance(seconds=31)
    later = client.get("/orders")
    assert "Set-Cookie" in later.headers and hashlib.sha256(cookie_of(client).encode()).hexdigest() == before[0].digest
    assert sessions_of(app, world.main_a)[0].last_seen_at == clock.now()


def test_r27_a_session_ended_meanwhile_is_never_written_back(app, db, world, clock):
    """A request that loaded the session before it was ended elsewhere must not bring it back
    when it saves (UPDATE ... WHERE / SET ... XX, never an upsert)."""
    from webapp.services import sessions

    client = signed_in(app, world.main_a)
    store = sessions.current_store()
    record = sessions_of(app, world.main_a)[0]
    assert sessions.end_all(db.session, "m", world.main_a.id) == 1
    db.session.commit()
    with app.test_request_context():
        changed = sessions.touched(record, data=record.data, seen_at=clock.now(), ip="10.0.0.1", user_agent="x")
        assert sessions.save_changes(db.session, changed, clock.now()) is False
    assert store.load(db.session, record.digest) is None
    assert not is_in(client)


def test_r27_the_bell_reads_the_session_once(app, db, world, backend, redis_client, monkeypatch):
    """A signed-in minimal GET: one read of the session. With the database store the same statement
    loads the account (the bell stays at two statements: tests/web/test_statement_counts.py); with
    Redis, one Redis command and the account's one statement."""
    from tests.web.test_statement_counts import statements

    client = signed_in(app, world.staff_a)
    client.get("/messages/bell", headers={"HX-Request": "true"})
    commands = []
    if redis_client is not None:
        from webapp.services import sessions

        real = sessions.current_store().client.execute_command
        monkeypatch.setattr(sessions.current_store().client, "execute_command",
                            lambda *a, **kw: commands.append(a[0]) or real(*a, **kw))
    with statements(db) as seen:
        resp = client.get("/messages/bell", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    assert len(seen) == 2, seen
    if backend == "redis":
        assert commands == ["GET"] and "user_session" not in " ".join(seen)
    else:
        assert "FROM user_session" in seen[0] and "merchant_account" in seen[0]


def test_r27_the_store_being_down_answers_503_not_500(app, world, backend, monkeypatch):
    from webapp.services import sessions

    client = signed_in(app, world.main_a)
    store = sessions.current_store()

    def down(*args, **kwargs):
        raise sessions.StoreUnavailable("session store (test): down")

    monkeypatch.setattr(store, "load", down)
    resp = client.get("/orders")
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200  # a request that does not use its session
    monkeypatch.undo()
    assert is_in(client)  # back: nothing was lost


@pytest.mark.parametrize("production", [False, True])
def test_r27_the_session_cookie_keeps_its_attributes(app, world, production):
    if production:  # as Config sets them with AFTERDESK_ENV=production (tests/web/test_auth.py)
        app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-afterdesk")
    client = browser(app)
    client.environ_base["wsgi.url_scheme"] = "https" if production else "http"
    resp = login(client, world.main_a)
    assert resp.status_code == 303
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "="))
    value = cookie.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)  # only the id
    attributes = {a.strip().split("=")[0] for a in cookie.split(";")[1:]}
    assert {"HttpOnly", "SameSite", "Path", "Expires"} <= attributes and "Domain" not in attributes
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    assert ("Secure" in attributes) is production


@pytest.mark.parametrize("who, sign_in_page", [("buyer_x", "/buyer/login"), ("main_a", "/login")])
def test_r27_a_session_expired_on_my_sessions_is_sent_to_its_own_sign_in_page(app, world, clock, who, sign_in_page):
    """My sessions is a page of buyers and merchants alike: when the session that opened it has timed
    out, the sign-in page is that of the account whose session it was (issue 12)."""
    from urllib.parse import parse_qs, urlsplit

    client = signed_in(app, getattr(world, who))
    assert client.get("/account/sessions").status_code == 200
    clock.advance(minutes=30, seconds=1)
    resp = client.get("/account/sessions")
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    assert target.path == sign_in_page and parse_qs(target.query)["next"] == ["/account/sessions"]
    # and an htmx request from that page is sent to the same sign-in page, as a whole page
    client = signed_in(app, getattr(world, who))
    clock.advance(minutes=30, seconds=1)
    resp = client.get("/account/sessions", headers={"HX-Request": "true"})
    assert resp.status_code == 204 and urlsplit(resp.headers["HX-Redirect"]).path == sign_in_page
