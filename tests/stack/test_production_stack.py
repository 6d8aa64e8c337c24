"""The production stack, real parts on loopback: `python -m deploy.stack` (the launcher `make stack`
runs) with nginx (TLS, gzip, static files), two gunicorn nodes, two payout worker processes,
PostgreSQL and Redis. Signs in over https, makes payouts through nginx and through each node,
lets the workers settle them and checks the money in the database; checks that a forged
X-Forwarded-For is neither logged nor throttled as the client; that nginx serves the static files
for a year and compresses text; and that the launcher stops everything on SIGTERM.

Needs nginx (Debian: apt-get install nginx), openssl, PostgreSQL (127.0.0.1:5432) and Redis
(REDIS_URL, default redis://127.0.0.1:6379/0): skipped without them, failed with CI=true."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support import assert_money_invariants, assert_money_where_status_says, create_pg_database, csrf_from, unavailable

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own, emptied before each run: the throttling counts of one run (and of
# anything else on this Redis) never reach the next.
REDIS_URL = os.environ.get("STACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
COOKIE = "__Host-afterdesk"
SHOP = "星河数码旗舰店"
MAIN_LOGIN, DEMO_PASSWORD = "xinghe-main", "afterdesk-demo"
SPOOFED = "203.0.113.9"
UA_NGINX, UA_DIRECT = "afterdesk-stack-test (nginx)", "afterdesk-stack-test (direct)"
READY_SECONDS = 60
SETTLE_SECONDS = 30


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def require_tools() -> None:
    nginx = "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else shutil.which("nginx")
    if not nginx:
        unavailable("nginx", "not installed (Debian: apt-get install -y nginx; .ci/run installs it)")
    if not shutil.which("openssl"):
        unavailable("openssl", "not installed (Debian: apt-get install -y openssl)")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        unavailable(f"Redis at {REDIS_URL}", str(exc))


@dataclass
class Stack:
    base: str
    port: int
    node_ports: list[int]
    runtime: Path
    cert: Path
    proc: subprocess.Popen
    log: Path
    db_url: str
    payouts: dict[int, str] = field(default_factory=dict)  # payout id -> how it was made

    def tls(self) -> ssl.SSLContext:
        """Trusts the stack's own self-signed certificate, and nothing else."""
        return ssl.create_default_context(cafile=str(self.cert))

    def output(self, tail: int = 60) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def access_log(self, node: int) -> list[str]:
        return (self.runtime / "logs" / f"node-{node}.access.log").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_tools()
    db_url, drop = create_pg_database()
    runtime = tmp_path_factory.mktemp("stack")
    port, *node_ports = free_ports(3)
    log = runtime / "launcher.log"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "AFTERDESK_SECRET_KEY", "TRUSTED_PROXIES")}
    env.update(DATABASE_URL=db_url, REDIS_URL=REDIS_URL, GUNICORN_WORKERS="2", SIM_CHANNEL_SETTLE_SECONDS="1",
               SIM_CHANNEL_FROZEN_BUYERS="buyer4")
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.stack", "--nodes", "2", "--workers", "2", "--port", str(port),
             "--app-ports", ",".join(map(str, node_ports)), "--runtime-dir", str(runtime), "--seed-demo"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: the fallback below ends it and its children
    s = Stack(f"https://127.0.0.1:{port}", port, node_ports, runtime, runtime / "tls" / "cert.pem", proc, log, db_url)
    try:
        wait_ready(s)
    except BaseException:
        stop(s, check=False)
        drop()
        raise
    yield s
    try:
        stop(s, check=True)
    finally:
        drop()


def wait_ready(s: Stack) -> None:
    """Up when nginx answers /readyz with 200 over verified TLS: the database answers and a worker beat."""
    import httpx

    deadline = time.monotonic() + READY_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if s.proc.poll() is not None:
            pytest.fail(f"the launcher exited with {s.proc.returncode} before the stack was up:\n{s.output()}")
        if s.cert.exists():
            try:
                r = httpx.get(s.base + "/readyz", verify=s.tls(), timeout=3, trust_env=False)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
        time.sleep(0.3)
    pytest.fail(f"the stack was not ready within {READY_SECONDS} s ({last}):\n{s.output()}")


def stop(s: Stack, *, check: bool) -> None:
    """SIGTERM to the launcher, as a service manager would: it stops every part and exits 0, and
    nothing listens on the stack's ports any more."""
    if s.proc.poll() is None:
        s.proc.send_signal(signal.SIGTERM)
        try:
            s.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(s.proc.pid, signal.SIGKILL)  # the group it was started in: the launcher and its children
            s.proc.wait()
            if check:
                pytest.fail(f"the launcher did not stop within 40 s of SIGTERM:\n{s.output()}")
    if not check:
        return
    assert s.proc.returncode == 0, f"the launcher exited with {s.proc.returncode}:\n{s.output()}"
    for port in (s.port, *s.node_ports):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port} after the stop"
    assert "stack    | stopped" in s.output(5)


# --- a browser of sorts: through nginx, or straight to one node as nginx would ------------------

class Browser:
    """Keeps the session cookie by hand, so one session can go through nginx (https) or straight to
    a node (http, with the X-Forwarded-* headers nginx would add); the CSRF check on https wants a
    same-origin Referer, as a browser sends."""

    def __init__(self, s: Stack):
        import httpx

        self.s = s
        self.cookie: str | None = None
        self.signed_in: httpx.Response | None = None
        self.nginx = httpx.Client(base_url=s.base, verify=s.tls(), trust_env=False, timeout=15)
        self.nodes = [httpx.Client(base_url=f"http://127.0.0.1:{p}", trust_env=False, timeout=15) for p in s.node_ports]

    def close(self) -> None:
        for c in (self.nginx, *self.nodes):
            c.close()

    def request(self, method: str, path: str, *, node: int | None = None, forwarded_for: str | None = None, **kw):
        headers = {"User-Agent": UA_NGINX if node is None else UA_DIRECT, "Referer": self.s.base + "/"}
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        if node is None:
            client = self.nginx
            if forwarded_for:
                headers["X-Forwarded-For"] = forwarded_for  # what a client may send: nginx appends the real one
        else:
            client = self.nodes[node - 1]
            headers.update({"X-Forwarded-For": forwarded_for or "127.0.0.1", "X-Forwarded-Proto": "https",
                            "X-Forwarded-Host": f"127.0.0.1:{self.s.port}"})
        headers.update(kw.pop("headers", {}))
        resp = client.request(method, path, headers=headers, **kw)
        for value in resp.headers.get_list("set-cookie"):
            if value.startswith(COOKIE + "="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        return resp

    def sign_in(self, login: str, password: str, **kw):
        token = csrf_from(self.request("GET", "/login", **kw).text)
        return self.request("POST", "/login", data={"login": login, "password": password, "csrf_token": token,
                                                     "next": ""}, **kw)

    def pay(self, order_no: str, amount: str, *, node: int | None = None, forwarded_for: str | None = None) -> int:
        """The workspace flow: open the order, review, confirm. Returns the payout id."""
        via = {"node": node, "forwarded_for": forwarded_for}
        page = self.request("GET", f"/payouts/new?order={order_no}", **via)
        assert page.status_code == 200, page.text[:500]
        key = re.search(r'name="request_key"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="request_key"', page.text)
        assert key, "no request key on the payout page"
        form = {"csrf_token": csrf_from(page.text), "amount": amount, "reason": "shipping_fee", "note": "stack test",
                "request_key": key.group(1) or key.group(2), "mode": "page"}
        review = self.request("POST", f"/orders/{order_no}/payouts/review", data=form, **via)
        assert review.status_code == 200, review.text[:500]
        return self.confirm(order_no, form, **via)

    def confirm(self, order_no: str, form: dict, **via) -> int:
        done = self.request("POST", f"/orders/{order_no}/payouts", data=form, **via)
        assert done.status_code == 303, done.text[:500]
        m = re.search(r"[?&]done=(\d+)", done.headers["location"])
        assert m, done.headers["location"]
        return int(m.group(1))


@pytest.fixture(scope="module")
def checks(stack):
    """An app on the stack's database, in this process, for reading and for setting up."""
    from webapp import create_app
    from webapp.config import TestConfig
    from webapp.extensions import db

    app = create_app(TestConfig(stack.db_url))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def merchant(stack):
    """The demo shop's main account, signed in through nginx; `signed_in` is the sign-in's answer."""
    b = Browser(stack)
    b.signed_in = b.sign_in(MAIN_LOGIN, DEMO_PASSWORD)
    assert b.signed_in.status_code == 303, b.signed_in.text[:500]
    yield b
    b.close()


@pytest.fixture(scope="module")
def orders(checks):
    """The demo shop with no undo window (payouts go to the channel at once) and fresh orders of
    buyers whose wallets work."""
    from sqlalchemy import select, update

    from tests.support import Factory
    from webapp.extensions import db
    from webapp.models import Buyer, Shop

    shop = db.session.scalar(select(Shop).where(Shop.name == SHOP))
    assert shop is not None, "seed-demo did not create the demo shop"
    db.session.execute(update(Shop).where(Shop.id == shop.id).values(undo_window_seconds=0))
    db.session.commit()
    buyers = db.session.scalars(select(Buyer).where(Buyer.login.in_(["buyer1", "buyer2", "buyer3"]))).all()
    make = Factory(db, datetime.now(timezone.utc))
    return shop.id, [make.order(shop, buyers[i % len(buyers)], paid_fen=10_000).order_no for i in range(12)]


# --- the tests ---------------------------------------------------------------------------------

def test_signs_in_over_https_with_a_secure_host_cookie(stack, merchant):
    resp = merchant.signed_in
    assert resp is not None
    cookie = next(v for v in resp.headers.get_list("set-cookie") if v.startswith(COOKIE + "="))
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attrs and "domain" not in attrs, cookie
    assert "Path=/" in cookie
    assert resp.headers["strict-transport-security"].startswith("max-age=")
    home = merchant.request("GET", "/orders")
    assert home.status_code == 200 and SHOP in home.text
    assert merchant.request("GET", "/orders", headers={"Cookie": ""}).status_code in (302, 303)  # no cookie, no session


def test_payouts_through_nginx_and_each_node_are_paid_exactly_once(stack, merchant, checks, orders):
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Payout, WorkerHeartbeat

    shop_id, order_nos = orders
    todo = iter(order_nos)
    for i in range(4):  # through nginx: round robin over both nodes
        stack.payouts[merchant.pay(next(todo), f"{1 + i}.00")] = "nginx"
    for node in (1, 2):  # straight to each node, as nginx would send it
        for i in range(2):
            stack.payouts[merchant.pay(next(todo), f"{5 + i}.{node}0", node=node)] = f"node-{node}"
    # A confirm sent again (a double click, a retry after a lost answer) to the *other* node: the
    # idempotency key finds the same payout; nothing new.
    order_no = next(todo)
    first = merchant.pay(order_no, "2.50", node=1)
    stack.payouts[first] = "node-1"
    page = merchant.request("GET", f"/payouts/new?order={order_no}", node=2)
    assert merchant.confirm(order_no, {"csrf_token": csrf_from(page.text), "amount": "2.50", "reason": "shipping_fee",
                                       "note": "stack test", "request_key": _key_of(first), "mode": "page"},
                            node=2) == first

    # Both nodes served requests that came through nginx, and both made payouts.
    for node in (1, 2):
        lines = stack.access_log(node)
        assert any(UA_NGINX in line for line in lines), f"node-{node} got nothing through nginx"
        assert any('POST /orders/' in line and '/payouts ' in line for line in lines), f"node-{node} made no payout"

    # The workers settle them all (the simulated channel runs inside each worker process).
    pids = sorted(stack.payouts)
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        db.session.commit()
        statuses = dict(db.session.execute(select(Payout.id, Payout.status).where(Payout.id.in_(pids))).all())
        if all(s in ("succeeded", "failed") for s in statuses.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert statuses == {pid: "succeeded" for pid in pids}, f"not all paid within {SETTLE_SECONDS} s:\n{stack.output()}"

    for pid in pids:  # captured once, one transfer at the channel, no failure message
        assert_money_where_status_says(checks, db, pid)
    assert_money_invariants(db, shop_id)
    keys = db.session.execute(select(Payout.request_key, func.count()).where(Payout.shop_id == shop_id)
                              .group_by(Payout.request_key).having(func.count() > 1)).all()
    assert keys == [], "one request key made two payouts"
    assert db.session.scalar(select(func.count()).select_from(Payout).where(Payout.shop_id == shop_id)) == len(pids)
    assert db.session.scalar(select(func.count(func.distinct(WorkerHeartbeat.name)))) >= 2, "both workers beat"


def _key_of(payout_id: int) -> str:
    from webapp.extensions import db
    from webapp.models import Payout

    payout = db.session.get(Payout, payout_id)
    assert payout is not None
    return payout.request_key


def test_a_spoofed_forwarded_for_is_neither_logged_nor_throttled_as_the_client(stack, merchant, checks, orders):
    import redis
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import AuditEvent

    _, order_nos = orders
    spoofed = merchant.pay(order_nos[-1], "1.23", forwarded_for=SPOOFED)  # through nginx, X-Forwarded-For forged
    as_nginx = merchant.pay(order_nos[-2], "1.24", node=2, forwarded_for="198.51.100.23")  # what nginx would say
    db.session.commit()
    ips = dict(db.session.execute(select(AuditEvent.target_id, AuditEvent.ip).where(
        AuditEvent.target_type == "payout", AuditEvent.target_id.in_([str(spoofed), str(as_nginx)]))).all())
    # nginx appends the address it saw; the app believes that last hop only (TRUSTED_PROXIES=1).
    assert ips == {str(spoofed): "127.0.0.1", str(as_nginx): "198.51.100.23"}
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.ip == SPOOFED)) is None
    assert any(f'xff="{SPOOFED}, 127.0.0.1"' in line for node in (1, 2) for line in stack.access_log(node))

    # A failed sign-in with a forged address counts against the real one (Redis, shared by the nodes).
    stranger = Browser(stack)
    try:
        resp = stranger.sign_in(f"nobody-{uuid.uuid4().hex[:8]}", "wrong", forwarded_for=SPOOFED)
    finally:
        stranger.close()
    assert resp.status_code == 200  # one failure in a Redis database emptied before the run: not throttled
    keys = [k.decode() for k in redis.Redis.from_url(REDIS_URL).scan_iter(match="afterdesk:signin:ip:*", count=1000)]
    assert "afterdesk:signin:ip:127.0.0.1" in keys, keys  # the sign-in throttle's budget of that address
    assert not any(SPOOFED in k for k in keys), keys


def test_nginx_serves_static_files_for_a_year_and_compresses_text(stack, merchant):
    css = merchant.request("GET", "/static/css/app.css?v=0123abcd", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["content-encoding"] == "gzip"
    assert css.content == (ROOT / "static" / "css" / "app.css").read_bytes()  # decoded by httpx
    cache = ", ".join(css.headers.get_list("cache-control"))
    assert "max-age=31536000" in cache and "public" in cache and "immutable" in cache, cache
    assert "expires" in css.headers
    js = merchant.request("GET", "/static/js/app.js", headers={"Accept-Encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
    assert "javascript" in js.headers["content-type"]
    # Served by nginx itself: no node saw a static request.
    assert not any("/static/" in line for node in (1, 2) for line in stack.access_log(node))

    page = merchant.request("GET", "/orders", headers={"Accept-Encoding": "gzip"})  # the app's pages too
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "no-store"
    csv = merchant.request("GET", "/payouts/export.csv", headers={"Accept-Encoding": "gzip"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-encoding"] == "gzip"

