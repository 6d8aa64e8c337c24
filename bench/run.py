"""The "Speed and scale" benchmark: `make bench` or `.venv/bin/python -m bench.run [--only a,b] ...`.

Builds (or reuses) its PostgreSQL databases, serves the app with gunicorn (5 sync workers,
AFTERDESK_WORKER=off) and a bare Flask hello the same way, drives them with wrk over HTTP (Lua
scripts in bench/lua: the session cookie, the CSRF token, a fresh request key and order per POST),
and prints each figure's ratio with the raw req/s and p50/p99 beside it, PASS/FAIL against its
target. The two sides of a ratio are measured in alternation, round after round, in one run, and
the figure is the median of the per-round ratios (the machine is shared and noisy).

Figures (`--only` takes their names): http (confirm/bell, poll/bell, bell/hello), search, records,
create, pgbench, hotspot, export, statements (statement counts per request and EXPLAIN ANALYZE).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from . import data

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
BIN = Path(sys.executable).parent
FIGURES = ("http", "search", "records", "create", "pgbench", "hotspot", "export", "statements")
PORTS = {"large": 8401, "small": 8402, "hello": 8403, "export": 8404}


# --- serving ---------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    port: int
    app: str
    cwd: str
    env: dict
    workers: int = 5
    threads: int = 1  # >1: gthread workers, as deploy/gunicorn.conf.py runs the app nodes
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, logdir: Path) -> None:
        self.log = logdir / f"gunicorn-{self.name}.log"
        out = open(self.log, "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(self.workers), "--threads", str(self.threads),
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", self.app], cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        path = "/" if self.name == "hello" else "/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn {self.name} exited; see {self.log}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200 and len(self.worker_pids()) == self.workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn {self.name} did not answer; see {self.log}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(stat.parent.name))
        return pids

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def app_env(ds: data.Dataset, app_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CHANNEL_"))}
    env.update(DATABASE_URL=ds.url, AFTERDESK_WORKER="off", SECRET_KEY="bench-" + ds.name, PYTHONPATH=app_dir,
               AFTERDESK_INSTANCE=str(Path(tempfile.gettempdir()) / "afterdesk-bench-instance"))
    env.pop("AFTERDESK_ENV", None)  # production would make the cookie Secure, which plain http never sends back
    return env


# --- signing in --------------------------------------------------------------------------------

@dataclass
class Session:
    cookie: str
    csrf: str


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not m:
        raise RuntimeError("no CSRF token on the page")
    return m.group(1)


def sign_in(base: str, login: str) -> Session:
    """Through the sign-in page like a person, then a page with a form for the CSRF token."""
    with httpx.Client(base_url=base, headers={"User-Agent": "afterdesk-bench"}, timeout=30) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"login": login, "password": data.PASSWORD, "csrf_token": token, "next": ""})
        if r.status_code != 303:
            raise RuntimeError(f"sign-in of {login} failed: {r.status_code}")
        csrf = _csrf(c.get("/orders").text)
        value = c.cookies.get("afterdesk_session")
    return Session(f"afterdesk_session={value}", csrf)


# --- wrk ---------------------------------------------------------------------------------------

@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    sample: str = ""

    def text(self, latency_only: bool = False) -> str:
        err = f", {self.errors} errors ({self.sample[:80]})" if self.errors else ""
        head = "" if latency_only else f"{self.rps:7.1f} req/s "
        return f"{head}p50 {self.p50_ms:6.1f} ms p99 {self.p99_ms:6.1f} ms{err}"


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    servers: dict[str, Server] = field(default_factory=dict)
    sessions: dict[tuple[str, str], Session] = field(default_factory=dict)
    pool_marks: dict[tuple[str, int], int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def server(self, name: str) -> Server:
        if name not in self.servers:
            if name == "hello":
                srv = Server("hello", PORTS["hello"], "bench.hello:app", str(ROOT), {**os.environ, "PYTHONPATH": str(ROOT)},
                             self.args.workers)
            else:
                ds = data.DATASETS[name]
                data.ensure(ds, self.args.app_dir, sys.executable, log=self.say)
                srv = Server(name, PORTS[name], "wsgi:app", self.args.app_dir, app_env(ds, self.args.app_dir),
                             self.args.workers)
            srv.start(self.tmp)
            self.servers[name] = srv
        return self.servers[name]

    def session(self, name: str, login: str) -> Session:
        key = (name, login)
        if key not in self.sessions:
            self.sessions[key] = sign_in(self.server(name).url, login)
        return self.sessions[key]

    def wrk(self, base: str, script: str, script_args: list[str], connections: int | None = None,
            duration: float | None = None) -> Run:
        c = connections or self.args.connections
        t = min(self.args.threads, c)
        cmd = ["wrk", f"-t{t}", f"-c{c}", f"-d{max(1, round(duration or self.args.duration))}s", "--timeout", "30s",
               "-s", str(LUA / script), base, "--", *script_args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=(duration or self.args.duration) + 60)
        m = re.search(r"BENCH_JSON (\{.*\})", out.stdout)
        if not m:
            raise RuntimeError(f"wrk printed no summary: {out.stdout[-800:]} {out.stderr[-800:]}")
        j = json.loads(m.group(1))
        errors = j["bad_status"] + j["refused"] + j["socket_errors"] + j["timeouts"]
        good = j["requests"] - j["bad_status"] - j["refused"]
        return Run(good / (j["duration_us"] / 1e6), j["p50_us"] / 1000, j["p99_us"] / 1000, j["requests"], errors,
                   j["sample"])

    # targets: name -> callable(warmup: bool) -> Run
    def get_target(self, name: str, path_list: list[str], login: str | None, htmx: bool, expect: str = "-"):
        srv = self.server(name)
        paths = self.tmp / f"paths-{secrets.token_hex(4)}.txt"
        paths.write_text("\n".join(path_list) + "\n")
        cookie = "-"
        if login:
            s = self.session(name, login)
            cookie = str(self.tmp / f"cookie-{secrets.token_hex(4)}.txt")
            Path(cookie).write_text(s.cookie + "\n")

        def run(duration: float | None = None, connections: int | None = None) -> Run:
            return self.wrk(srv.url, "get.lua", [str(paths), cookie, "1" if htmx else "0", expect], connections, duration)
        return run

    def confirm_target(self, name: str, logins: list[str], pools_of: dict[str, int]):
        """POST confirm, one fresh pool order per request; `pools_of` maps login -> its shop id."""
        srv = self.server(name)
        ds = data.DATASETS[name]
        accounts = self.tmp / f"accounts-{secrets.token_hex(4)}.txt"
        accounts.write_text("".join(f"{s.cookie}\t{s.csrf}\tp{pools_of[login]}\n"
                                    for login in logins for s in [self.session(name, login)]))
        shops = sorted(set(pools_of.values()))

        def run(duration: float | None = None, connections: int | None = None) -> Run:
            pools = self.tmp / f"pools-{secrets.token_hex(4)}.txt"
            c = connections or self.args.connections
            rows, starts = [], {}
            for shop in shops:
                start, size = data.pool_next(ds.url, shop)
                # Past every order the previous run sent, even those still in flight when it stopped.
                start = max(start + 50, self.pool_marks.get((name, shop), 0))
                need = int(300 * (duration or self.args.duration) / len(shops)) + 500  # at up to 300 req/s
                if start + need > size:
                    data.add_pool(ds.url, shop, max(need * 2, 10_000))
                starts[shop] = start
                rows.append(f"p{shop}\t{data.pool_prefix(shop)}\t{start}\n")
            pools.write_text("".join(rows))
            threads = min(self.args.threads, c)
            result = self.wrk(srv.url, "confirm.lua", [str(accounts), str(pools), str(threads), secrets.token_hex(4)],
                              connections, duration)
            for shop, start in starts.items():  # a bound on the indices sent: completed + in flight, uneven threads
                self.pool_marks[(name, shop)] = start + threads * (result.requests + c + 2)
            return result
        return run

    def alternate(self, targets: dict, connections: dict | None = None) -> dict[str, list[Run]]:
        """Every target once per round (after its warm-up), round after round."""
        runs: dict[str, list[Run]] = {k: [] for k in targets}
        for r in range(self.args.rounds):
            for name, target in targets.items():
                c = (connections or {}).get(name)
                if self.args.warmup:
                    target(self.args.warmup, c)
                runs[name].append(target(None, c))
                print(f"    round {r + 1} {name}: {runs[name][-1].text()}", flush=True)
        return runs

    def figure(self, label: str, runs: dict[str, list[Run]], top: str, bottom: str, *, metric: str, target: str | None,
               unit: str = "") -> None:
        key = (lambda r: r.rps) if metric == "rps" else (lambda r: r.p50_ms)
        ratios = [key(a) / key(b) for a, b in zip(runs[top], runs[bottom], strict=True) if key(b) > 0]
        ratio = statistics.median(ratios) if ratios else float("nan")
        verdict = ""
        if target:
            op, value = target.split()
            ok = ratio >= float(value) if op == ">=" else ratio <= float(value)
            verdict = f"target {op.replace('>=', '≥').replace('<=', '≤')} {value}  {'PASS' if ok else 'FAIL'}"
        latency_only = metric == "p50"

        def med(name):
            rs = runs[name]
            return Run(statistics.median(r.rps for r in rs), statistics.median(r.p50_ms for r in rs),
                       statistics.median(r.p99_ms for r in rs), sum(r.requests for r in rs), sum(r.errors for r in rs),
                       next((r.sample for r in rs if r.errors), ""))
        self.say(f"{label:<44} {ratio:6.2f}{unit}   {verdict}")
        self.say(f"    {top:<18} {med(top).text(latency_only)}   (rounds: {', '.join(f'{key(r):.1f}' for r in runs[top])})")
        self.say(f"    {bottom:<18} {med(bottom).text(latency_only)}   (rounds: {', '.join(f'{key(r):.1f}' for r in runs[bottom])})")


# --- the figures ---------------------------------------------------------------------------------

HOT = "bench-hot-01"


def hot_logins(n: int) -> list[str]:
    return [f"bench-hot-{i:02d}" for i in range(1, n + 1)]


def live_payout(url: str) -> int:
    """A payout of the measured shop that is still live (pending): the status row polls it."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id FROM payout WHERE shop_id = %s AND status = 'pending' ORDER BY id DESC LIMIT 1",
                            (data.HOT_SHOP,)).fetchone()[0]


def poll_url(b: Bench, name: str, payout_id: int) -> str:
    """What the browser polls: the URL in the live row's hx-get, with the version the row shows
    (`?v=`); while the payout does not change the app answers 204 (nothing to swap)."""
    s = b.session(name, HOT)
    with httpx.Client(base_url=b.server(name).url, headers={"Cookie": s.cookie, "HX-Request": "true",
                                                            "User-Agent": "afterdesk-bench"}, timeout=30) as c:
        row = c.get(f"/payouts/{payout_id}/status").text
    m = re.search(r'hx-get="([^"]+)"', row)
    if not m:
        raise RuntimeError(f"payout {payout_id} has no live row: {row[:300]}")
    return m.group(1).replace("&amp;", "&")


def search_numbers(url: str, n: int = 500) -> list[str]:
    """Order numbers of the measured shop, spread over its whole history."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT order_no FROM orders WHERE shop_id = %s AND order_no NOT LIKE '69%%' AND id %% 97 = 0 "
            "ORDER BY id LIMIT 100000", (data.HOT_SHOP,)).fetchall()
    step = max(1, len(rows) // n)
    return [r[0] for r in rows[::step]][:n]


def fig_http(b: Bench) -> None:
    srv = "large" if b.args.http_dataset == "large" else "small"
    ds = data.DATASETS[srv]
    targets = {
        "hello": b.get_target("hello", ["/"], None, False),
        "bell": b.get_target(srv, ["/messages/bell"], HOT, True, "bell-icon"),
        "poll": b.get_target(srv, [poll_url(b, srv, live_payout(ds.url))], HOT, True),
        "confirm": b.confirm_target(srv, [HOT], {HOT: data.HOT_SHOP}),
    }
    runs = b.alternate(targets)
    b.figure("payout confirm POST ÷ bell (req/s)", runs, "confirm", "bell", metric="rps", target=">= 0.5")
    b.figure("status poll ÷ bell (req/s)", runs, "poll", "bell", metric="rps", target=">= 0.9")
    b.figure("bell ÷ bare Flask hello (req/s)", runs, "bell", "hello", metric="rps", target=">= 0.3")


def fig_search(b: Bench) -> None:
    targets = {}
    for name in ("large", "small"):
        b.server(name)  # builds the dataset if needed
        nums = search_numbers(data.DATASETS[name].url)
        targets[name] = b.get_target(name, [f"/orders?q={n}" for n in nums], HOT, True, "<table")
    runs = b.alternate(targets)
    b.figure("order search p50: 1.2 M orders ÷ 200 k", runs, "large", "small", metric="p50", target="<= 1.2")


def fig_records(b: Bench) -> None:
    targets = {name: b.get_target(name, ["/payouts"], HOT, False, "records-results") for name in ("large", "small")}
    runs = b.alternate(targets)
    b.figure("payout records page p50: 1 M payouts ÷ 1 k", runs, "large", "small", metric="p50", target="<= 1.3")


def fig_create(b: Bench) -> None:
    targets = {name: b.confirm_target(name, [HOT], {HOT: data.HOT_SHOP}) for name in ("large", "small")}
    runs = b.alternate(targets)
    b.figure("payout create p50: 1 M payouts ÷ 1 k", runs, "large", "small", metric="p50", target="<= 1.2")


def fig_hotspot(b: Bench) -> None:
    name = "large"
    staff = hot_logins(data.HOT_STAFF)
    solo = [f"bench-solo-{s:03d}" for s in data.SOLO_SHOPS]
    targets = {
        "one shop x50 staff": b.confirm_target(name, staff, {login: data.HOT_SHOP for login in staff}),
        "50 shops x1 staff": b.confirm_target(name, solo, {login: int(login[-3:]) for login in solo}),
    }
    runs = b.alternate(targets, {k: 50 for k in targets})
    b.figure("create req/s, one shop 50 staff ÷ 50 shops", runs, "one shop x50 staff", "50 shops x1 staff",
             metric="rps", target=None)


def capture(b: Bench) -> dict:
    """Statement counts per request and the confirm as a pgbench script (bench/capture.py)."""
    ds = data.DATASETS["large"]
    b.server("large")  # builds the dataset if needed
    base, size = data.pgbench_block(ds.url)
    with psycopg.connect(ds.url) as conn:
        k0 = conn.execute(
            "SELECT o.id - %s + 1 FROM orders o WHERE o.id BETWEEN %s AND %s AND NOT EXISTS "
            "(SELECT 1 FROM payout p WHERE p.order_id = o.id) ORDER BY o.id DESC LIMIT 1",
            (base, base, base + size - 1)).fetchone()[0]
    out, sql = b.tmp / "statements.json", b.tmp / "confirm.pgbench.sql"
    env = app_env(ds, b.args.app_dir)
    res = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "capture.py"), str(out), str(sql),
                          str(base), str(k0), str(ds.buyers)], cwd=b.args.app_dir, env=env, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError("capture failed: " + res.stderr[-2000:])
    return {"counts": json.loads(out.read_text()), "script": sql, "pool": size}


def pgbench_bin() -> str:
    found = shutil.which("pgbench") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None)
    if not found:
        raise RuntimeError("pgbench not found (it comes with PostgreSQL)")
    return str(found)


def fig_pgbench(b: Bench) -> None:
    cap = capture(b)
    ds = data.DATASETS["large"]
    pg = pgbench_bin()

    def pgbench(duration: float | None = None, connections: int | None = None) -> Run:
        c = connections or b.args.connections
        cmd = [pg, "-n", "-h", "127.0.0.1", "-U", "postgres", f"-c{c}", f"-j{min(b.args.threads, c)}",
               f"-T{int(duration or b.args.duration)}", "-D", f"pool={cap['pool']}", "-f", str(cap["script"]),
               "-r", ds.db]
        out = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"tps = ([\d.]+)", out.stdout)
        lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
        if not m:
            raise RuntimeError(f"pgbench failed: {out.stdout[-600:]} {out.stderr[-1200:]}")
        n = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
        return Run(float(m.group(1)), float(lat.group(1)) if lat else 0.0, float("nan"), int(n.group(1)) if n else 0,
                   int(failed.group(1)) if failed else 0, out.stderr.strip()[-120:] if failed and int(failed.group(1)) else "")

    targets = {"confirm": b.confirm_target("large", [HOT], {HOT: data.HOT_SHOP}), "pgbench": pgbench}
    try:
        runs = b.alternate(targets)
    finally:
        data.repair_counters(ds.url)
    b.figure("confirm req/s ÷ pgbench of its SQL (tps)", runs, "confirm", "pgbench", metric="rps", target=None)
    b.say(f"    (pgbench script: {cap['script']}, {cap['counts']['confirm POST']['statements']} statements; "
          "pgbench's p50 column is its average latency)")


def fig_export(b: Bench) -> None:
    """On a server of its own (same settings), so the workers' peak RSS before is an idle one's."""
    ds = data.DATASETS["large"]
    b.server("large")  # builds the dataset if needed
    # The export streams for minutes: served like the production nodes (gthread workers, deploy/gunicorn.conf.py),
    # whose timeout watches the worker process, not one long response.
    srv = Server("export", PORTS["export"], "wsgi:app", b.args.app_dir, app_env(ds, b.args.app_dir), b.args.workers,
                 threads=4)
    srv.start(b.tmp)
    try:
        _export(b, srv)
    finally:
        srv.stop()
    if srv.log and "WORKER TIMEOUT" in srv.log.read_text():
        b.say("    gunicorn killed the worker mid-download: WORKER TIMEOUT (its default --timeout is 30 s)")


def _export(b: Bench, srv: Server) -> None:
    s = sign_in(srv.url, HOT)
    before = {pid: _proc_kb(pid, "VmHWM") for pid in srv.worker_pids()}
    peak = dict(before)
    rows, t0, completed, status = 0, time.monotonic(), False, 0
    limit = b.args.export_seconds
    with httpx.Client(base_url=srv.url, headers={"Cookie": s.cookie, "User-Agent": "afterdesk-bench"},
                      timeout=httpx.Timeout(limit + 60)) as c:
        try:
            with c.stream("GET", "/payouts/export.csv") as r:
                status = r.status_code
                last = 0.0
                for chunk in r.iter_bytes():
                    rows += chunk.count(b"\n")
                    now = time.monotonic()
                    if now - last > 0.5:
                        last = now
                        for pid in peak:
                            peak[pid] = max(peak[pid], _proc_kb(pid, "VmHWM"))
                    if now - t0 > limit:
                        break
                else:
                    completed = True
        except httpx.HTTPError as exc:
            b.say(f"    export stream ended with {type(exc).__name__} after {rows} rows (worker killed?)")
    took = time.monotonic() - t0
    for pid in peak:
        peak[pid] = max(peak[pid], _proc_kb(pid, "VmHWM"))
    grew = max(peak, key=lambda p: peak[p] - before.get(p, 0)) if peak else None
    rows = max(0, rows - 1)  # the header
    state = "complete" if completed else f"cut at {took:.0f} s (--export-seconds {limit})"
    b.say(f"{'CSV export, measured shop (1 M payouts)':<44} {rows / took:8.0f} rows/s   HTTP {status}, {rows:,} rows in "
          f"{took:.1f} s, {state}")
    if grew:
        b.say(f"    worker peak RSS (VmHWM) {peak[grew] / 1024:.0f} MiB, was {before.get(grew, 0) / 1024:.0f} MiB before the "
              f"export ({(peak[grew] - before.get(grew, 0)) / 1024:+.0f} MiB for {rows:,} rows)")


def _proc_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


EXPLAINS = {
    "order search (full number)": """
        SELECT orders.id FROM orders WHERE orders.shop_id = 1 AND (orders.order_no LIKE :q || '%%' ESCAPE '/')
        ORDER BY orders.paid_at DESC, orders.id DESC LIMIT 26""",
    "records page (first page)": """
        SELECT payout.id FROM payout WHERE payout.shop_id = 1 ORDER BY payout.created_at DESC, payout.id DESC LIMIT 26""",
    "records totals": """
        SELECT anon_1.status, count(*), coalesce(sum(anon_1.amount_fen), 0)
        FROM (SELECT payout.status AS status, payout.amount_fen AS amount_fen FROM payout WHERE payout.shop_id = 1) AS anon_1
        GROUP BY anon_1.status""",
    "bell unread count": """
        SELECT count(*) FROM insite_message WHERE insite_message.shop_id = 1 AND insite_message.read_at IS NULL""",
}


def fig_statements(b: Bench) -> None:
    cap = capture(b)
    b.say("statements per request (in-process capture, measured shop, 1 M payouts):")
    for name, c in cap["counts"].items():
        extra = f", {c['rows']} CSV rows" if "rows" in c else ""
        b.say(f"    {name:<44} {c['statements']:5d} statements, {c['transactions']} commits, "
              f"{c['rollbacks']} rollbacks (HTTP {c['status']}{extra})")
    (Path(b.tmp) / "statements-sql.txt").write_text(
        "\n\n".join(f"== {k}\n" + "\n".join(v["sql"]) for k, v in cap["counts"].items()))
    if b.args.explain:
        q = search_numbers(data.DATASETS["large"].url, 1)[0]
        with psycopg.connect(data.DATASETS["large"].url) as conn:
            for name, sql in EXPLAINS.items():
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql.replace(":q", "%s"),
                                    (q,) if ":q" in sql else None).fetchall()
                b.say(f"EXPLAIN ANALYZE {name} (1.2 M orders / 1 M payouts):")
                for (line,) in plan:
                    b.say("    " + line)


RUNNERS = {"http": fig_http, "search": fig_search, "records": fig_records, "create": fig_create,
           "pgbench": fig_pgbench, "hotspot": fig_hotspot, "export": fig_export, "statements": fig_statements}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated figures: {', '.join(FIGURES)}")
    p.add_argument("--app-dir", default=str(ROOT), help="the app tree to serve and migrate (default: this checkout)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10, help="seconds per measured wrk run")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each measured run (0: none)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=10)
    p.add_argument("--workers", type=int, default=5, help="gunicorn workers per server")
    p.add_argument("--http-dataset", choices=("large", "small"), default="small",
                   help="database behind the confirm/poll/bell figures (large: the bell counts over 66 k messages)")
    p.add_argument("--export-seconds", type=float, default=60, help="stop reading the CSV export after this long")
    p.add_argument("--no-explain", dest="explain", action="store_false", help="skip EXPLAIN ANALYZE in `statements`")
    p.add_argument("--rebuild", action="store_true", help="drop and rebuild the bench databases first")
    p.add_argument("--label", default="", help="a note printed in the header (e.g. which commit --app-dir holds)")
    args = p.parse_args(argv)
    args.app_dir = str(Path(args.app_dir).resolve())
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = set(only) - set(FIGURES)
    if unknown:
        p.error(f"unknown figures: {', '.join(sorted(unknown))}")
    for tool in ("wrk",):
        if not shutil.which(tool):
            p.error(f"{tool} not found: apt-get install -y {tool}")
    if args.rebuild:
        for ds in data.DATASETS.values():
            data.build(ds, args.app_dir, sys.executable, data.schema_head(args.app_dir))
    tmp = Path(tempfile.mkdtemp(prefix="afterdesk-bench-"))
    b = Bench(args, tmp)
    head = subprocess.run(["git", "-C", args.app_dir, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    b.say(f"AfterDesk bench: app {args.app_dir} ({args.label or head.stdout.strip() or 'not a git checkout'}), "
          f"schema {data.schema_head(args.app_dir)}, gunicorn -w {args.workers} (sync), "
          f"wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds x ({args.warmup:g} s warm-up + "
          f"{args.duration:g} s), medians; {os.cpu_count()} CPUs")
    try:
        for name in FIGURES:
            if name in only:
                b.say()
                b.say(f"== {name}")
                RUNNERS[name](b)
    finally:
        for srv in b.servers.values():
            srv.stop()
    (tmp / "summary.txt").write_text("\n".join(b.lines) + "\n")
    print(f"\n(work files and gunicorn logs in {tmp})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
