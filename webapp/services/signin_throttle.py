"""Sign-in throttling with device cookies (OWASP "Slow Down Online Guessing Attacks with Device
Cookies"); the rules are in domain/signin_throttle.py.

An attempt RESERVES its budgets before its password is checked, atomically (a conditional increment
in one statement), and a successful sign-in gives its reservations back. So N concurrent attempts
never get more than the limit's password checks through, and only failures (and attempts still in
flight) use a budget up. A budget that is used up refuses the attempt before the password (or even
the account) is looked at, with how long until its window ends.

Storage: Redis (one Lua script per operation: atomic on the server) when REDIS_URL is set, shared by
every node; otherwise the app's database (the embedded default): one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` per reservation, atomic on PostgreSQL (the row lock
of the conflicting row) and on SQLite (writers serialize on BEGIN IMMEDIATE), so it holds across
the threads and processes of one machine, and across machines on one PostgreSQL. (The `limits`
library's storages were not used: its memory storage is per process, and its API has no
"increment only while under the limit" and no give-back, which is the whole point here.)

Times come from the app's clock (epoch milliseconds), so every store agrees with the rest of the
app and tests move time by hand; Redis keys also expire by themselves shortly after their window.
"""
from __future__ import annotations

import hashlib
import random
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Protocol

from itsdangerous import BadData, URLSafeSerializer
from limits import parse as parse_limit
from sqlalchemy import case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..db import AnySession, is_postgres, write_transaction
from ..domain.signin_throttle import (Budget, DeviceEntry, account_key, buckets_for, remember,
                                      trusted_nonce)
from ..models import SignInBucket

DEVICE_COOKIE = "afterdesk_device"
_DEVICE_SALT = "afterdesk.signin-device"
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PURGE_CHANCE = 0.01  # a reservation in a hundred also deletes expired counter rows (embedded store)


class Throttled(Exception):
    """A budget is used up: no password check. `retry_after` is whole seconds until it has room again."""

    def __init__(self, retry_after: int):
        super().__init__(f"sign-in throttled for {retry_after} s")
        self.retry_after = retry_after


class Store(Protocol):
    def reserve(self, key: str, limit: int, window_ms: int, now_ms: int) -> tuple[bool, int]:
        """Take one attempt if the window has room: (granted, window end in epoch ms)."""

    def give_back(self, key: str, resets_at_ms: int) -> None:
        """Return one attempt reserved in the window ending at `resets_at_ms` (none if it has ended)."""


class DatabaseStore:
    """The embedded default: one row per budget in `signin_bucket`."""

    def __init__(self, session: AnySession):
        self.session = session

    def reserve(self, key: str, limit: int, window_ms: int, now_ms: int) -> tuple[bool, int]:
        t = SignInBucket.__table__.c
        insert = pg_insert if is_postgres(self.session) else sqlite_insert
        ins = insert(SignInBucket).values(key=key, attempts=1, resets_at_ms=now_ms + window_ms, granted=True)
        ended = t.resets_at_ms <= now_ms
        room = t.attempts < limit
        # Every SET expression reads the row as it was (both databases), under its lock: one atomic step.
        stmt = ins.on_conflict_do_update(index_elements=[t.key], set_={
            "attempts": case((ended, 1), (room, t.attempts + 1), else_=t.attempts),
            "resets_at_ms": case((ended, now_ms + window_ms), else_=t.resets_at_ms),
            "granted": or_(ended, room),
        }).returning(t.granted, t.resets_at_ms)
        with write_transaction(self.session):
            granted, resets_at_ms = self.session.execute(stmt).one()
            if random.random() < PURGE_CHANCE:
                self.session.execute(delete(SignInBucket).where(SignInBucket.resets_at_ms <= now_ms))
        return bool(granted), int(resets_at_ms)

    def give_back(self, key: str, resets_at_ms: int) -> None:
        t = SignInBucket
        with write_transaction(self.session):
            self.session.execute(update(t).where(t.key == key, t.resets_at_ms == resets_at_ms, t.attempts > 0)
                                 .values(attempts=t.attempts - 1).execution_options(synchronize_session=False))


_RESERVE_LUA = """
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local row = redis.call('HMGET', KEYS[1], 'n', 'reset')
local n, reset = tonumber(row[1]) or 0, tonumber(row[2]) or 0
if reset <= now then n, reset = 0, now + window end
if n >= limit then return {0, reset} end
redis.call('HSET', KEYS[1], 'n', n + 1, 'reset', reset)
redis.call('PEXPIRE', KEYS[1], reset - now + 60000)
return {1, reset}
"""

_GIVE_BACK_LUA = """
local row = redis.call('HMGET', KEYS[1], 'n', 'reset')
if tonumber(row[2]) == tonumber(ARGV[1]) and (tonumber(row[1]) or 0) > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 0
"""


class RedisStore:
    """With REDIS_URL: one hash per budget (`n`, `reset`), changed only by the Lua scripts above, which
    Redis runs one at a time."""

    PREFIX = "afterdesk:signin:"
    MAX_CONNECTIONS = 64  # per process; a request waits for one (up to POOL_TIMEOUT_S) rather than fail
    POOL_TIMEOUT_S = 10

    def __init__(self, url: str):
        import redis

        pool = redis.BlockingConnectionPool.from_url(url, max_connections=self.MAX_CONNECTIONS,
                                                     timeout=self.POOL_TIMEOUT_S)
        self.client = redis.Redis(connection_pool=pool)
        self._reserve = self.client.register_script(_RESERVE_LUA)
        self._give_back = self.client.register_script(_GIVE_BACK_LUA)

    def reserve(self, key: str, limit: int, window_ms: int, now_ms: int) -> tuple[bool, int]:
        granted, resets_at_ms = self._reserve(keys=[self.PREFIX + key], args=[limit, window_ms, now_ms])
        return bool(granted), int(resets_at_ms)

    def give_back(self, key: str, resets_at_ms: int) -> None:
        self._give_back(keys=[self.PREFIX + key], args=[resets_at_ms])


_redis_stores: dict[str, RedisStore] = {}
_redis_lock = threading.Lock()


def storage_uri(cfg: Mapping[str, Any]) -> str:
    """"database" or a redis URL: SIGNIN_THROTTLE_STORAGE_URI, else Redis when REDIS_URL is set."""
    uri = cfg.get("SIGNIN_THROTTLE_STORAGE_URI") or cfg.get("RATELIMIT_STORAGE_URI") or ""
    return uri if uri.startswith(("redis://", "rediss://", "unix://")) else "database"


def store_for(session: AnySession, cfg: Mapping[str, Any]) -> Store:
    uri = storage_uri(cfg)
    if uri == "database":
        return DatabaseStore(session)
    with _redis_lock:  # one client (and connection pool) per URL per process
        if uri not in _redis_stores:
            _redis_stores[uri] = RedisStore(uri)
        return _redis_stores[uri]


def budget(text: str) -> Budget:
    """"10 per 5 minutes" (the `limits` notation the config uses) -> Budget(10, 300)."""
    item = parse_limit(text)
    return Budget(item.amount, item.get_expiry())


def budgets(cfg: Mapping[str, Any]) -> dict[str, Budget]:
    per_login = cfg["LOGIN_FAILURE_LIMIT"]
    return {"per_login": budget(per_login), "per_address": budget(cfg.get("LOGIN_IP_FAILURE_LIMIT") or per_login),
            "per_device": budget(cfg["LOGIN_DEVICE_FAILURE_LIMIT"])}


# -- the device cookie -------------------------------------------------------------------------------

def cookie_name(cfg: Mapping[str, Any]) -> str:
    """`__Host-` prefixed (Secure, Path=/, no Domain) where the session cookie is Secure: production."""
    return ("__Host-" if cfg.get("SESSION_COOKIE_SECURE") else "") + DEVICE_COOKIE


def _serializer(cfg: Mapping[str, Any]) -> URLSafeSerializer:
    return URLSafeSerializer(cfg["SECRET_KEY"], salt=_DEVICE_SALT, signer_kwargs={"digest_method": hashlib.sha256})


def read_device_cookie(cfg: Mapping[str, Any], value: str | None) -> list[DeviceEntry]:
    """The entries of a device cookie whose HMAC-SHA256 (keyed with SECRET_KEY) checks out; anything
    else (missing, forged, tampered, signed with another key, malformed) is no entry at all."""
    if not value or len(value) > 4096:
        return []
    try:
        raw = _serializer(cfg).loads(value)
    except BadData:
        return []
    entries = []
    for item in raw if isinstance(raw, list) else []:
        if (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and isinstance(item[1], str)
                and isinstance(item[2], int) and _NONCE_RE.match(item[1])):
            entries.append(DeviceEntry(item[0], item[1], item[2]))
    return entries


def _lifetime_s(cfg: Mapping[str, Any]) -> int:
    lifetime = cfg["LOGIN_DEVICE_COOKIE_LIFETIME"]
    return int(lifetime.total_seconds() if isinstance(lifetime, timedelta) else lifetime)


# -- an attempt ------------------------------------------------------------------------------------

@dataclass
class Attempt:
    """A sign-in attempt that has its budgets reserved and may check the password."""

    store: Store
    account: str
    trusted: bool  # a known browser (a valid device cookie for this login)
    device: list[DeviceEntry]
    reserved: list[tuple[str, int]] = field(default_factory=list)

    def release(self) -> None:
        """Give the reservations back without trusting this browser: the password was right, but the
        sign-in still needs its second step (two-factor), which reserves again for its code."""
        for key, resets_at_ms in self.reserved:
            self.store.give_back(key, resets_at_ms)
        self.reserved = []

    def succeeded(self, cfg: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """The password was right: give the reservations back, and remember this browser for this login.
        Returns the device cookie to set (keyword arguments of `Response.set_cookie`)."""
        self.release()
        now_s, lifetime_s = int(now.timestamp()), _lifetime_s(cfg)
        entry = DeviceEntry(self.account, secrets.token_urlsafe(16), now_s)  # a new nonce: a new device budget
        entries = remember(self.device, entry, int(cfg["LOGIN_DEVICE_COOKIE_ENTRIES"]), now_s, lifetime_s)
        value = _serializer(cfg).dumps([[e.account, e.nonce, e.issued_at] for e in entries])
        secure = bool(cfg.get("SESSION_COOKIE_SECURE"))
        return {"key": cookie_name(cfg), "value": value, "max_age": lifetime_s, "path": "/", "secure": secure,
                "httponly": True, "samesite": "Lax"}


def reserve(session: AnySession, cfg: Mapping[str, Any], *, kind: str, login: str, address: str | None,
            device_cookie: str | None, now: datetime) -> Attempt:
    """Reserve this attempt's budgets (domain/signin_throttle.buckets_for) before the password check.
    Raises Throttled, with nothing kept reserved, when one is used up."""
    store = store_for(session, cfg)
    account = account_key(kind, login)
    device = read_device_cookie(cfg, device_cookie)
    now_ms = int(now.timestamp() * 1000)
    nonce = trusted_nonce(device, account, now_ms // 1000, _lifetime_s(cfg))
    attempt = Attempt(store, account, nonce is not None, device)
    for bucket in buckets_for(kind, login, address, nonce, **budgets(cfg)):
        granted, resets_at_ms = store.reserve(bucket.key, bucket.budget.limit, bucket.budget.window_s * 1000, now_ms)
        if not granted:
            for key, reset in attempt.reserved:  # budgets reserved before this one: not spent after all
                store.give_back(key, reset)
            raise Throttled(max(1, -(-(resets_at_ms - now_ms) // 1000)))
        attempt.reserved.append((bucket.key, resets_at_ms))
    return attempt
