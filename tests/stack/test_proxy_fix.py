"""TRUSTED_PROXIES: behind N proxies the client's address, scheme and host are the forwarded ones
(werkzeug's ProxyFix, last N hops); with 0 (the default) a client's own X-Forwarded-For is never
believed, not by the request, not by the sign-in throttle. No nginx needed: the Flask test client."""
from __future__ import annotations

import pytest

from tests.support import csrf_from


def make_app(db_url: str, **overrides):
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import limiter

    app = create_app(TestConfig(db_url, **overrides))
    seen: list[dict] = []

    @app.after_request
    def _record(response):
        from flask import request

        seen.append({"remote_addr": request.remote_addr, "scheme": request.scheme, "host": request.host})
        return response

    with app.app_context():
        limiter.reset()
    return app, seen


def test_with_one_trusted_proxy_the_client_is_the_last_forwarded_hop(sqlite_url):
    app, seen = make_app(sqlite_url, TRUSTED_PROXIES=1)
    resp = app.test_client().get("/healthz", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={
        # a client's own (forged) entry first, then the one the proxy appended: the real client
        "X-Forwarded-For": "203.0.113.9, 198.51.100.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example:8443",
    })
    assert resp.status_code == 200
    assert seen == [{"remote_addr": "198.51.100.7", "scheme": "https", "host": "shop.example:8443"}]


def test_without_trusted_proxies_a_spoofed_forwarded_for_is_ignored(sqlite_url):
    app, seen = make_app(sqlite_url)  # TRUSTED_PROXIES defaults to 0
    assert app.config["TRUSTED_PROXIES"] == 0
    app.test_client().get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.50"}, headers={
        "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert seen == [{"remote_addr": "192.0.2.50", "scheme": "http", "host": "localhost"}]


def failed_sign_in(client, n: int, forwarded_for: str) -> int:
    headers = {"X-Forwarded-For": forwarded_for}
    token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
    return client.post("/login", headers=headers, data={
        "login": f"nobody-{n}", "password": "wrong-password", "csrf_token": token}).status_code


@pytest.mark.parametrize("trusted, second_client_throttled", [(0, True), (1, False)])
def test_sign_in_throttle_counts_the_real_client(sqlite_url, trusted, second_client_throttled):
    """Two failed sign-ins use up the limit. Behind a trusted proxy another client (another last
    hop) still has its own; without one, changing X-Forwarded-For does not escape the throttle."""
    app, _ = make_app(sqlite_url, TRUSTED_PROXIES=trusted, LOGIN_FAILURE_LIMIT="2 per 5 minutes")
    client = app.test_client()
    assert [failed_sign_in(client, i, "198.51.100.7") for i in range(3)] == [200, 200, 429]
    status = failed_sign_in(client, 3, "198.51.100.8")
    assert status == (429 if second_client_throttled else 200)


def test_trusted_proxies_comes_from_the_environment(monkeypatch):
    from webapp.config import Config, ConfigError

    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert Config().TRUSTED_PROXIES == 0
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert Config().TRUSTED_PROXIES == 2
    for bad in ("-1", "yes"):
        monkeypatch.setenv("TRUSTED_PROXIES", bad)
        with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
            Config()
