"""Issue 11, the lean request path: compressed pages, fingerprinted static files cached for a
year, and a session cookie written only when the session changed."""
import gzip
import re
from datetime import timedelta

import pytest

from tests.support import payout_world


@pytest.fixture
def pw(make, db):
    return payout_world(make, db)


def test_pages_are_compressed_for_browsers_that_accept_it(client, pw, login_as):
    login_as(pw.main)
    plain = client.get("/orders")
    packed = client.get("/orders", headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("Content-Encoding") is None
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    html = gzip.decompress(packed.get_data()).decode()
    assert html == plain.get_data(as_text=True)
    assert len(packed.get_data()) < len(html) / 2
    brotli = client.get("/orders", headers={"Accept-Encoding": "br, gzip"})
    assert brotli.headers["Content-Encoding"] == "br"


def test_a_small_polling_fragment_is_sent_as_it_is(client, pw, login_as):
    login_as(pw.main)
    resp = client.get("/messages/bell", headers={"Accept-Encoding": "gzip", "HX-Request": "true"})
    assert resp.status_code == 200 and resp.headers.get("Content-Encoding") is None


def test_static_urls_carry_a_content_hash_and_are_cached_for_a_year(client, app):
    html = client.get("/login").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert urls and all(re.search(r"\?v=[0-9a-f]{12}$", u) for u in urls), urls
    css = next(u for u in urls if u.startswith("/static/css/app.css"))
    resp = client.get(css)
    assert resp.status_code == 200
    cc = resp.headers["Cache-Control"]
    assert "max-age=31536000" in cc and "immutable" in cc and "public" in cc and "no-store" not in cc
    # the hash is the file's: another file has another one
    assert len({u.split("?v=")[1] for u in urls}) == len(urls)


def test_the_session_cookie_is_not_rewritten_on_every_request(client, pw, login_as, clock):
    login_as(pw.main)
    client.get("/orders")
    again = client.get("/orders")
    assert "Set-Cookie" not in again.headers  # nothing in the session changed
    clock.advance(seconds=61)  # the last-seen time moves once a minute (idle timeout)
    later = client.get("/orders")
    assert "Set-Cookie" in later.headers


def test_idle_timeout_still_ends_the_session(client, pw, login_as, clock, app):
    login_as(pw.main)
    client.get("/orders")
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    clock.advance(seconds=int((idle - timedelta(seconds=30)).total_seconds()))
    assert client.get("/orders").status_code == 200  # seen moved: still in
    clock.advance(seconds=int((idle + timedelta(seconds=61)).total_seconds()))
    resp = client.get("/orders")
    assert resp.status_code in (302, 303) and "/login" in resp.headers["Location"]
