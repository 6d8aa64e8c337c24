"""The simulator: books in SQLite, a controllable clock, injected faults, a ticker, the HTTP face.

Control endpoints (signed like /v1, except healthz):
    POST /_control/tick      one settle + callback pass now; answers what it settled and delivered
    POST /_control/clock     {"now": ts} freeze | {"advance": s} move frozen time | {"real": true}
    GET|POST /_control/faults  read | merge the fault config (answers the whole config)
    POST /_control/release   let every held submit go on;  GET /_control/held  {"held", "held_total"}
    GET  /_control/transfers rows, callback events and counters;  GET /_control/healthz  {"ok": true}
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Standard library only: webapp/__init__.py and webapp/channel/__init__.py are light (no Flask).
from webapp.channel import protocol

log = logging.getLogger("channelsim")


FROZEN_REASON = "buyer_wallet_frozen"
CALLBACK_TIMEOUT = 5.0
CALLBACK_MAX_ATTEMPTS = 10
DROP = object()  # a handler answer meaning: close the connection without answering

DEFAULT_FAULTS = {
    "latency_ms": 0, "hold_submits": False, "error_5xx_next": 0, "error_5xx_rate": 0.0,
    "drop_answer_next": 0, "outage": False, "duplicate_notifications": False,
    "out_of_order_notifications": False, "drop_notifications": False,
    "frozen_buyers": [], "settle_seconds": 3.0, "declined_shops": [],
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    idempotency_key TEXT PRIMARY KEY, payout_id INTEGER NOT NULL, buyer_ref TEXT NOT NULL,
    amount_fen INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT, reference TEXT NOT NULL,
    notify_url TEXT, not_after INTEGER NOT NULL, accepted_at REAL NOT NULL,
    settle_at REAL NOT NULL, final_at REAL);
CREATE TABLE IF NOT EXISTS events (  -- the callback outbox
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | dropped | gave_up
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_http INTEGER);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS recharges (  -- money in: a shop's top-up from its bank, final at once
    idempotency_key TEXT PRIMARY KEY, topup_id INTEGER NOT NULL, shop_ref TEXT NOT NULL,
    amount_fen INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT, reference TEXT NOT NULL,
    accepted_at REAL NOT NULL);
"""
COUNTERS = ("submit_calls", "recorded", "expired_refusals")
DECLINED_REASON = "bank_declined"
RECHARGE_FIELDS = ("topup_id", "state", "reference", "reason")
ANSWER_FIELDS = ("payout_id", "state", "reference", "reason")


class BadRequest(ValueError):
    pass


class Clock:
    """Wall clock, or virtual time frozen at an instant and moved by hand."""

    def __init__(self):
        self._frozen: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() if self._frozen is None else self._frozen

    def control(self, body: dict) -> dict:
        with self._lock:
            if body.get("real"):
                self._frozen = None
            elif body.get("now") is not None:
                self._frozen = float(body["now"])
            elif body.get("advance") is not None:
                self._frozen = (time.time() if self._frozen is None else self._frozen) + float(body["advance"])
            else:
                raise BadRequest("clock needs now, advance or real")
            frozen = self._frozen is not None
        return {"now": self.now(), "frozen": frozen}


class Store:
    """One SQLite connection shared by all threads behind a lock; WAL; autocommit outside tx()."""

    def __init__(self, path: str):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.db.executemany("INSERT OR IGNORE INTO counters VALUES (?, 0)", [(c,) for c in COUNTERS])

    @contextmanager
    def tx(self):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, args=()) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args)]

    def execute(self, sql: str, args=()) -> None:
        with self.lock:
            self.db.execute(sql, args)

    def bump(self, db, counter: str) -> None:
        db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (counter,))


def _coerce(default, value):
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise BadRequest("expected true or false")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise BadRequest("expected a list")
        return [str(v) for v in value]
    return type(default)(value)


def _need(payload: dict, key: str, kind: type):
    value = payload.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
        raise BadRequest(f"{key} must be a {kind.__name__}")
    return value


class Channel:
    """The channel's behaviour, independent of HTTP."""

    def __init__(self, db_path: str, secret: str, faults: dict | None = None):
        self.secret = secret
        self.clock = Clock()
        self.store = Store(db_path)
        self.faults = dict(DEFAULT_FAULTS)
        self._cond = threading.Condition()
        self._release_gen = self.held_now = self.held_total = 0
        self._tick_lock = threading.Lock()
        self._rng = random.Random()
        self.set_faults(faults or {})

    # -- faults and the hold gate
    def fault(self, name: str):
        with self._cond:
            return self.faults[name]

    def take(self, name: str) -> bool:
        """Consume one of the `name` (e.g. error_5xx_next) tokens, if any is left."""
        with self._cond:
            if self.faults[name] > 0:
                self.faults[name] -= 1
                return True
            return False

    def set_faults(self, changes: dict) -> dict:
        unknown = sorted(set(changes) - set(DEFAULT_FAULTS))
        if unknown:
            raise BadRequest(f"unknown faults: {unknown}")
        clean = {k: _coerce(DEFAULT_FAULTS[k], v) for k, v in changes.items()}
        with self._cond:
            self.faults.update(clean)
            if not self.faults["hold_submits"]:
                self._release_locked()
            return dict(self.faults)

    def _release_locked(self) -> int:
        self._release_gen += 1
        self._cond.notify_all()
        return self.held_now

    def release(self) -> dict:
        with self._cond:
            return {"released": self._release_locked()}

    def held(self) -> dict:
        with self._cond:
            return {"held": self.held_now, "held_total": self.held_total}

    def _gate(self) -> None:
        with self._cond:
            if not self.faults["hold_submits"]:
                return
            generation = self._release_gen
            self.held_now += 1
            self.held_total += 1
            try:
                while self._release_gen == generation:
                    self._cond.wait()
            finally:
                self.held_now -= 1

    def inject_5xx(self) -> bool:
        with self._cond:
            rate = self.faults["error_5xx_rate"]
        return self.take("error_5xx_next") or (rate > 0 and self._rng.random() < rate)

    # -- transfers
    def submit(self, p: dict):
        payout_id, key = _need(p, "payout_id", int), _need(p, "idempotency_key", str)
        buyer_ref, amount = _need(p, "buyer_ref", str), _need(p, "amount_fen", int)
        not_after, notify_url = _need(p, "not_after", int), p.get("notify_url")
        if amount <= 0 or not (notify_url is None or isinstance(notify_url, str) and notify_url.startswith("http")):
            raise BadRequest("amount_fen must be > 0 and notify_url an http(s) URL or null")
        with self.store.tx() as db:
            self.store.bump(db, "submit_calls")
        self._gate()
        with self.store.tx() as db:
            now = self.clock.now()  # the not_after check is made here, right before recording
            row = db.execute("SELECT * FROM transfers WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                if (row["buyer_ref"], row["amount_fen"], row["payout_id"]) != (buyer_ref, amount, payout_id):
                    return 409, {"error": "conflict"}
                row = dict(row)
            elif now > not_after:
                self.store.bump(db, "expired_refusals")
                return 410, {"error": "expired"}
            else:
                frozen = buyer_ref in self.fault("frozen_buyers")
                row = {"idempotency_key": key, "payout_id": payout_id, "buyer_ref": buyer_ref,
                       "amount_fen": amount, "state": "failed" if frozen else "processing",
                       "reason": FROZEN_REASON if frozen else None,
                       "reference": f"CHS{uuid.uuid4().hex[:16].upper()}", "notify_url": notify_url,
                       "not_after": not_after, "accepted_at": now,
                       "settle_at": now + float(self.fault("settle_seconds")), "final_at": now if frozen else None}
                db.execute(f"INSERT INTO transfers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           tuple(row.values()))
                self.store.bump(db, "recorded")
                if frozen:
                    self._enqueue(db, row, "failed", now)
        if self.take("drop_answer_next"):
            return 200, DROP
        return 200, {k: row[k] for k in ANSWER_FIELDS}

    # -- recharges (money in)
    def recharge(self, p: dict):
        topup_id, key = _need(p, "topup_id", int), _need(p, "idempotency_key", str)
        shop_ref, amount, not_after = _need(p, "shop_ref", str), _need(p, "amount_fen", int), _need(p, "not_after", int)
        if amount <= 0:
            raise BadRequest("amount_fen must be > 0")
        with self.store.tx() as db:
            now = self.clock.now()
            row = db.execute("SELECT * FROM recharges WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                if (row["shop_ref"], row["amount_fen"], row["topup_id"]) != (shop_ref, amount, topup_id):
                    return 409, {"error": "conflict"}
                row = dict(row)
            elif now > not_after:
                return 410, {"error": "expired"}
            else:
                declined = shop_ref in self.fault("declined_shops")
                row = {"idempotency_key": key, "topup_id": topup_id, "shop_ref": shop_ref, "amount_fen": amount,
                       "state": "failed" if declined else "succeeded", "reason": DECLINED_REASON if declined else None,
                       "reference": f"CHR{uuid.uuid4().hex[:16].upper()}", "accepted_at": now}
                db.execute(f"INSERT INTO recharges ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           tuple(row.values()))
        if self.take("drop_answer_next"):
            return 200, DROP
        return 200, {k: row[k] for k in RECHARGE_FIELDS}

    def recharge_get(self, key: str):
        rows = self.store.query("SELECT * FROM recharges WHERE idempotency_key = ?", (key,))
        if not rows:
            return 404, {"state": "unknown"}
        return 200, {k: rows[0][k] for k in RECHARGE_FIELDS}

    def get(self, key: str):
        rows = self.store.query("SELECT * FROM transfers WHERE idempotency_key = ?", (key,))
        if not rows:
            return 404, {"state": "unknown"}
        return 200, {k: rows[0][k] for k in ANSWER_FIELDS}

    def listing(self) -> dict:
        columns = "idempotency_key, payout_id, buyer_ref, amount_fen, state, reason, reference, accepted_at"
        return {
            "transfers": self.store.query(f"SELECT {columns} FROM transfers ORDER BY accepted_at"),
            "recharges": self.store.query("SELECT idempotency_key, topup_id, shop_ref, amount_fen, state, reason, "
                                          "reference, accepted_at FROM recharges ORDER BY accepted_at"),
            "events": [dict(e, body=json.loads(e["body"])) for e in self.store.query("SELECT * FROM events ORDER BY id")],
            "counters": {r["name"]: r["value"] for r in self.store.query("SELECT * FROM counters")},
        }

    # -- settling and callbacks
    def _enqueue(self, db, row: dict, state: str, occurred_at: float) -> None:
        if not row.get("notify_url"):
            return
        event = {"event_id": uuid.uuid4().hex, "payout_id": row["payout_id"],
                 "idempotency_key": row["idempotency_key"], "state": state, "reference": row["reference"],
                 "reason": row["reason"], "occurred_at": int(occurred_at)}
        db.execute("INSERT INTO events (event_id, idempotency_key, url, body, next_at) VALUES (?, ?, ?, ?, ?)",
                   (event["event_id"], row["idempotency_key"], row["notify_url"], json.dumps(event), self.clock.now()))

    def tick(self) -> dict:
        """One pass: settle what is due, then deliver the callbacks that are due."""
        with self._tick_lock:
            settled = self._settle_due()
            deliveries = self._deliver_due()
        return {"now": self.clock.now(), "settled": settled, "deliveries": deliveries}

    def _settle_due(self) -> list[dict]:
        out_of_order = self.fault("out_of_order_notifications")
        with self.store.tx() as db:
            now = self.clock.now()
            rows = [dict(r) for r in db.execute(
                "SELECT * FROM transfers WHERE state = 'processing' AND settle_at <= ? ORDER BY accepted_at", (now,))]
            for row in rows:
                db.execute("UPDATE transfers SET state = 'succeeded', final_at = ? WHERE idempotency_key = ?",
                           (now, row["idempotency_key"]))
                row["state"] = "succeeded"
                self._enqueue(db, row, "succeeded", now)
                if out_of_order:  # a stale "processing" event that arrives after the final one
                    self._enqueue(db, row, "processing", min(row["accepted_at"], now - 1))
        return [{"idempotency_key": r["idempotency_key"], "payout_id": r["payout_id"], "state": r["state"]}
                for r in rows]

    def _deliver_due(self) -> list[dict]:
        now = self.clock.now()
        due = self.store.query("SELECT * FROM events WHERE status = 'pending' AND next_at <= ? ORDER BY id", (now,))
        report = []
        for ev in due:
            event = json.loads(ev["body"])
            entry = {"event_id": ev["event_id"], "idempotency_key": ev["idempotency_key"], "state": event["state"]}
            if self.fault("drop_notifications"):
                self.store.execute("UPDATE events SET status = 'dropped' WHERE id = ?", (ev["id"],))
                report.append(dict(entry, http_status=None, result="dropped"))
                continue
            copies = 2 if self.fault("duplicate_notifications") else 1
            codes = [self._post(ev["url"], ev["body"].encode()) for _ in range(copies)]
            ok = any(c is not None and 200 <= c < 300 for c in codes)
            attempts = ev["attempts"] + 1
            status = "delivered" if ok else "gave_up" if attempts >= CALLBACK_MAX_ATTEMPTS else "pending"
            backoff = min(60.0, 0.5 * 2 ** (attempts - 1))
            self.store.execute("UPDATE events SET status = ?, attempts = ?, next_at = ?, last_http = ? WHERE id = ?",
                             (status, attempts, now + backoff, codes[-1], ev["id"]))
            report += [dict(entry, http_status=c, result=status) for c in codes]
        return report

    def _post(self, url: str, body: bytes) -> int | None:
        """POST one signed callback; the HTTP status, or None if the receiver could not be reached."""
        headers = {"Content-Type": "application/json",
                   **protocol.sign(self.secret, "POST", urlsplit(url).path or "/", body, int(self.clock.now()))}
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=CALLBACK_TIMEOUT) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (OSError, ValueError) as exc:  # URLError is an OSError
            log.warning("callback to %s failed: %s", url, exc)
            return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an env proxy


class Handler(BaseHTTPRequestHandler):
    server_version = "channelsim/1"

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def log_message(self, fmt, *args):
        log.debug("%s %s", self.address_string(), fmt % args)

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError as exc:  # the caller gave up waiting (e.g. a held submit)
            log.info("could not answer %s: %s", self.path, exc)
            self.close_connection = True

    def _dispatch(self, method: str) -> None:
        channel: Channel = self.server.channel
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if path == "/_control/healthz":
                return self._send(200, {"ok": True})
            v1 = path.startswith("/v1/")
            if not (v1 or path.startswith("/_control/")):
                return self._send(404, {"error": "not_found"})
            if v1 and channel.fault("outage"):
                return self._send(503, {"error": "outage"})
            try:
                protocol.verify(channel.secret, method, path, body, self.headers, channel.clock.now())
            except protocol.SignatureError as exc:
                return self._send(401, {"error": exc.reason})
            payload = json.loads(body) if body else {}
            if not isinstance(payload, dict):
                raise BadRequest("body must be a JSON object")
            status, answer = (self._v1 if v1 else self._control)(channel, method, path, payload)
            if answer is DROP:
                self.close_connection = True  # recorded, but the caller never hears about it
                return
            self._send(status, answer)
        except (BadRequest, ValueError, TypeError) as exc:
            self._send(400, {"error": "bad_request", "detail": str(exc)})
        except Exception:  # noqa: BLE001 - answer 500 and keep serving
            log.exception("internal error on %s %s", method, path)
            self._send(500, {"error": "internal"})

    @staticmethod
    def _v1(channel: Channel, method: str, path: str, payload: dict):
        latency = channel.fault("latency_ms")
        if latency > 0:
            time.sleep(latency / 1000)
        if channel.inject_5xx():
            return 503, {"error": "injected"}
        if method == "POST" and path == "/v1/transfers":
            return channel.submit(payload)
        if method == "GET" and path.startswith("/v1/transfers/"):
            return channel.get(unquote(path[len("/v1/transfers/"):]))
        if method == "POST" and path == "/v1/recharges":
            return channel.recharge(payload)
        if method == "GET" and path.startswith("/v1/recharges/"):
            return channel.recharge_get(unquote(path[len("/v1/recharges/"):]))
        return 404, {"error": "not_found"}

    @staticmethod
    def _control(channel: Channel, method: str, path: str, payload: dict):
        routes = {
            ("POST", "/_control/tick"): channel.tick,
            ("POST", "/_control/clock"): lambda: channel.clock.control(payload),
            ("GET", "/_control/faults"): lambda: channel.set_faults({}),
            ("POST", "/_control/faults"): lambda: channel.set_faults(payload),
            ("POST", "/_control/release"): channel.release,
            ("GET", "/_control/held"): channel.held,
            ("GET", "/_control/transfers"): channel.listing,
        }
        action = routes.get((method, path))
        return (200, action()) if action else (404, {"error": "not_found"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(host: str, port: int, channel: Channel) -> ThreadingHTTPServer:
    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    server = Server((host, port), Handler)
    server.channel = channel
    return server


def _ticker(channel: Channel, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            channel.tick()
        except Exception:  # noqa: BLE001 - keep ticking
            log.exception("tick failed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="channelsim", description="Payment channel simulator (protocol v1).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed)")
    ap.add_argument("--db", default="instance/channelsim.db")
    ap.add_argument("--secret", default=os.environ.get("CHANNEL_SECRET"), help="default: $CHANNEL_SECRET")
    ap.add_argument("--faults", default=os.environ.get("CHANNEL_FAULTS"), help="JSON; default: $CHANNEL_FAULTS")
    ap.add_argument("--no-ticker", action="store_true", help="settle and call back only on /_control/tick")
    ap.add_argument("--tick-interval", type=float, default=0.2)
    ap.add_argument("--allow-remote", action="store_true", help="allow a host that is not a loopback address")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not args.secret:
        ap.error("a secret is required: --secret or CHANNEL_SECRET")
    if not (is_loopback(args.host) or args.allow_remote):
        ap.error(f"{args.host} is not a loopback address; pass --allow-remote to serve it anyway")
    try:
        faults = json.loads(args.faults) if args.faults else {}
        channel_db = Path(args.db)
        channel_db.parent.mkdir(parents=True, exist_ok=True)
        channel = Channel(str(channel_db), args.secret, faults)
    except (ValueError, BadRequest) as exc:
        ap.error(f"bad --faults: {exc}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = make_server(args.host, args.port, channel)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"channelsim listening on http://{host}:{server.server_address[1]}", flush=True)
    stop = threading.Event()
    if not args.no_ticker:
        threading.Thread(target=_ticker, args=(channel, args.tick_interval, stop), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
    return 0
