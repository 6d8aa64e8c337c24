"""Sign-in throttling under a race: the budget is reserved atomically BEFORE the password check, so
200 concurrent wrong passwords get at most the limit's password checks through (before: 40 concurrent
attempts got 13 to 26 checks past a limit of 10, the count being taken after the slow Argon2id check).
Counted at the password verification itself, through the app, with real threads, on SQLite and
PostgreSQL (the embedded store: the app's database) and on Redis. (No R-number: throttling is not a
product rule.)"""
from __future__ import annotations

import os
import threading
import time

import pytest

from tests.support import flushed_redis, PASSWORD, race

pytestmark = pytest.mark.race

REDIS_TEST_URL = os.environ.get("THROTTLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
DEVICE = "afterdesk_device"
LIMIT = 10  # LOGIN_FAILURE_LIMIT and LOGIN_DEVICE_FAILURE_LIMIT: "10 per 5 minutes"
N = 200


@pytest.fixture(params=[pytest.param(("sqlite", "database"), id="sqlite"),
                        pytest.param(("pg", "database"), id="pg", marks=pytest.mark.pg),
                        pytest.param(("sqlite", "redis"), id="redis")])
def setup(request):
    """(database, where the throttle counts): the embedded store on both databases, and Redis."""
    backend, store = request.param
    if store == "redis":
        with flushed_redis(REDIS_TEST_URL):
            yield backend, REDIS_TEST_URL
        return
    yield backend, store


@pytest.fixture
def db_url(request, setup):
    return request.getfixturevalue("pg_url" if setup[0] == "pg" else "sqlite_url")


@pytest.fixture
def app_config(setup):
    return {"SIGNIN_THROTTLE_STORAGE_URI": setup[1],
            "WTF_CSRF_ENABLED": False,  # 200 browsers, no form round trip each: the race is the POST
            "LOGIN_REQUEST_LIMIT": "100000 per minute"}  # the flood guard is not what is raced here


@pytest.fixture
def checks(monkeypatch):
    """Counts the password checks (calls of the Argon2id verification), made slow to widen the race."""
    from webapp.services import auth

    real = auth.verify_password
    counted = {"n": 0}
    lock = threading.Lock()

    def counting(password_hash, password):
        with lock:
            counted["n"] += 1
        time.sleep(0.02)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    return counted


def post(app, login: str, password: str, ip: str, device: str | None = None, path: str = "/login") -> int:
    client = app.test_client()
    if device:
        client.set_cookie(DEVICE, device)
    return client.post(path, data={"login": login, "password": password}, environ_base={"REMOTE_ADDR": ip}).status_code


def statuses(results) -> list[int]:
    assert all(ok for ok, _ in results), [v for ok, v in results if not ok][:3]
    return [value for _, value in results]


def known_device(app, login: str) -> str:
    client = app.test_client()
    assert client.post("/login", data={"login": login, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.10"}).status_code == 303
    return client.get_cookie(DEVICE).value


def test_200_concurrent_wrong_passwords_for_one_account_check_at_most_the_limit(app, world, checks):
    """200 unknown browsers from 200 addresses: the login name's budget for unknown browsers holds."""
    login = world.main_a.login
    got = statuses(race(app, N, lambda i: post(app, login, f"guess-{i}", f"10.9.{i // 250}.{i % 250 + 1}")))
    assert checks["n"] <= LIMIT
    assert checks["n"] == got.count(200) == LIMIT and got.count(429) == N - LIMIT
    assert post(app, login, PASSWORD, "10.9.9.9") == 429  # locked out for unknown browsers, right password or not


def test_200_concurrent_wrong_passwords_from_one_address_check_at_most_the_limit(app, world, checks):
    """One address, 200 login names (one real): the address's budget for unknown browsers holds."""
    names = [world.staff_a.login, *[f"nobody-{i}" for i in range(N - 1)]]
    got = statuses(race(app, N, lambda i: post(app, names[i], "wrong", "192.0.2.99")))
    assert checks["n"] == got.count(200) == LIMIT and got.count(429) == N - LIMIT


def test_200_concurrent_wrong_passwords_from_the_known_browser_check_at_most_its_budget(app, world, checks):
    """A stolen device cookie is no way round the limit: the device's own budget holds."""
    login = world.main_a.login  # a plain value: the threads must not load rows through the test's session
    device = known_device(app, login)
    checks["n"] = 0
    got = statuses(race(app, N, lambda i: post(app, login, f"guess-{i}", f"10.8.{i // 250}.{i % 250 + 1}", device)))
    assert checks["n"] == got.count(200) == LIMIT and got.count(429) == N - LIMIT


def test_owners_known_browser_signs_in_during_a_concurrent_attack(app, world, checks):
    """The owner's browser signs in while 150 wrong passwords hit the account at the same moment."""
    login = world.main_a.login
    device = known_device(app, login)
    checks["n"] = 0

    def attempt(i):
        if i == 0:
            return post(app, login, PASSWORD, "198.51.100.10", device)
        return post(app, login, f"guess-{i}", f"10.7.{i // 250}.{i % 250 + 1}")

    got = statuses(race(app, 151, attempt))
    assert got[0] == 303
    assert got[1:].count(200) == LIMIT and got[1:].count(429) == 150 - LIMIT
    assert checks["n"] == LIMIT + 1  # the attackers' ten and the owner's one


def test_store_reservations_are_atomic_and_given_back(app, setup, clock):
    """The store itself: 200 threads reserving one budget of 10 get exactly 10; a give-back makes room
    for exactly one more; one from an ended window changes nothing."""
    from webapp.extensions import db
    from webapp.services import signin_throttle as st

    now_ms = int(clock.now().timestamp() * 1000)

    def reserve(_i):
        return st.store_for(db.session, app.config).reserve("acct:race", LIMIT, 300_000, now_ms)

    got = statuses(race(app, N, reserve))
    granted = [reset for ok, reset in got if ok]
    assert len(granted) == LIMIT and len(set(reset for _, reset in got)) == 1
    store = st.store_for(db.session, app.config)
    assert store.reserve("acct:race", LIMIT, 300_000, now_ms + 1)[0] is False
    store.give_back("acct:race", granted[0])
    assert store.reserve("acct:race", LIMIT, 300_000, now_ms + 2)[0] is True
    assert store.reserve("acct:race", LIMIT, 300_000, now_ms + 3)[0] is False
    store.give_back("acct:race", granted[0] - 1)  # not this window's: nothing given back
    assert store.reserve("acct:race", LIMIT, 300_000, now_ms + 4)[0] is False
    ok, reset = store.reserve("acct:race", LIMIT, 300_000, granted[0])  # the window has ended: a new one
    assert ok and reset == granted[0] + 300_000
