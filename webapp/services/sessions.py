"""Server-side sessions (R27): where signed-in sessions live, and what ends them.

The browser's cookie holds a random id (`new_id()`, 256 bits); the store keys the session by the
id's SHA-256 (`digest()`), never by the id itself. One interface, two backends:

- `DatabaseStore` (the embedded default): the `user_session` table. Loading a session is one
  read by primary key that also loads the account it signs in (outer joins to merchant_account
  and buyer), so Flask-Login's user loader then finds the account in the identity map: a
  signed-in request costs one statement for "who is this".
- `RedisStore` (REDIS_URL set): one string per session (JSON, with a TTL) and one set per account
  of its sessions' digests, so an account's sessions can be listed and ended.

Every method takes the database session first, as every service does (the Redis store does not
use it). The database store only executes statements: the caller commits (`store.writing()`).
A write never brings back a session deleted meanwhile (UPDATE ... WHERE / SET ... XX).

What people do with sessions: `account_sessions` (the "My sessions" page), `end_session`,
`end_other_sessions`, and `end_all` (disabling an account, resetting its password: services/staff.py).
"""
from __future__ import annotations

import hashlib
import json
import math
import secrets
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Protocol

from flask import current_app
from sqlalchemy import and_, delete, insert, select, update

from ..db import AnySession, write_transaction
from ..domain.devices import Device, describe
from ..models import Buyer, MerchantAccount, UserSession
from . import audit

ID_BYTES = 32  # the cookie's id: 256 bits from the OS's CSPRNG (ASVS 3.2.2 asks at least 64)
HANDLE_CHARS = 16  # what the "My sessions" page calls a session by: a prefix of its digest, never the id
USER_AGENT_CHARS = 255
IP_CHARS = 45  # the longest textual IPv6 address (IPv4-mapped)
ACCOUNT_KINDS = ("m", "b")  # merchant account, buyer (the "m:"/"b:" of Flask-Login's user id)


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def digest(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


class StoreUnavailable(RuntimeError):
    """The session store did not answer (Redis down): the request gets the 503 page."""


@dataclass(frozen=True)
class Record:
    digest: str
    account_kind: str
    account_id: int
    data: str  # the session's keys, serialized by webapp/sessions.py
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    # The account it signs in, when the store read it in the same statement (the database store). Held
    # here for the request: the ORM's identity map, where the user loader finds it, keeps only weak references.
    account: object | None = field(default=None, compare=False, repr=False)

    @property
    def handle(self) -> str:
        return self.digest[:HANDLE_CHARS]

    @property
    def device(self) -> Device:
        return describe(self.user_agent)

    def ends_at(self, idle: timedelta, absolute: timedelta) -> datetime:
        """Idle and absolute timeouts (ASVS 3.3) under the settings in force now, and the deadline
        written with the record (the earliest wins)."""
        return min(self.last_seen_at + idle, self.created_at + absolute, self.expires_at)


def deadline(created_at: datetime, last_seen_at: datetime, idle: timedelta, absolute: timedelta) -> datetime:
    return min(last_seen_at + idle, created_at + absolute)


def clip_user_agent(value: str | None) -> str | None:
    return value[:USER_AGENT_CHARS] if value else None


def clip_ip(value: str | None) -> str | None:
    return value[:IP_CHARS] if value else None


class Store(Protocol):
    name: str

    def writing(self, session: AnySession) -> AbstractContextManager: ...
    def load(self, session: AnySession, digest: str) -> Record | None: ...
    def create(self, session: AnySession, record: Record, now: datetime) -> None: ...
    def update(self, session: AnySession, record: Record, now: datetime) -> bool: ...
    def delete(self, session: AnySession, record: Record) -> None: ...
    def of_account(self, session: AnySession, kind: str, account_id: int) -> list[Record]: ...
    def delete_of_account(self, session: AnySession, kind: str, account_id: int, keep: str | None = None) -> int: ...
    def purge(self, session: AnySession, now: datetime) -> int: ...


_T = UserSession.__table__.c
_COLUMNS = (_T.id_hash, _T.account_kind, _T.account_id, _T.data, _T.created_at, _T.last_seen_at, _T.expires_at,
            _T.ip, _T.user_agent)


def _record(row, account: object | None = None) -> Record:
    return Record(row.id_hash, row.account_kind, row.account_id, row.data, row.created_at, row.last_seen_at,
                  row.expires_at, row.ip, row.user_agent, account)


def _values(record: Record) -> dict:
    return {"id_hash": record.digest, "account_kind": record.account_kind, "account_id": record.account_id,
            "data": record.data, "created_at": record.created_at, "last_seen_at": record.last_seen_at,
            "expires_at": record.expires_at, "ip": record.ip, "user_agent": record.user_agent}


class DatabaseStore:
    name = "database"

    def writing(self, session: AnySession) -> AbstractContextManager:
        return write_transaction(session)

    def load(self, session: AnySession, digest: str) -> Record | None:
        """The session and, in the same statement, the account it signs in (into the identity map,
        where the user loader's `session.get` finds it without another query)."""
        row = session.execute(
            select(*_COLUMNS, MerchantAccount, Buyer)
            .outerjoin(MerchantAccount, and_(_T.account_kind == "m", MerchantAccount.id == _T.account_id))
            .outerjoin(Buyer, and_(_T.account_kind == "b", Buyer.id == _T.account_id))
            .where(_T.id_hash == digest)
        ).first()
        if row is None:
            return None
        return _record(row, row.MerchantAccount if row.account_kind == "m" else row.Buyer)

    def create(self, session: AnySession, record: Record, now: datetime) -> None:
        session.execute(insert(UserSession).values(**_values(record)))

    def update(self, session: AnySession, record: Record, now: datetime) -> bool:
        values = _values(record)
        del values["id_hash"], values["account_kind"], values["account_id"], values["created_at"]
        found = session.execute(update(UserSession).where(_T.id_hash == record.digest).values(**values)
                                .returning(_T.id_hash)).first()
        return found is not None

    def delete(self, session: AnySession, record: Record) -> None:
        session.execute(delete(UserSession).where(_T.id_hash == record.digest))

    def of_account(self, session: AnySession, kind: str, account_id: int) -> list[Record]:
        rows = session.execute(select(*_COLUMNS).where(_T.account_kind == kind, _T.account_id == account_id))
        return [_record(r) for r in rows]

    def delete_of_account(self, session: AnySession, kind: str, account_id: int, keep: str | None = None) -> int:
        stmt = delete(UserSession).where(_T.account_kind == kind, _T.account_id == account_id)
        if keep is not None:
            stmt = stmt.where(_T.id_hash != keep)
        return len(session.execute(stmt.returning(_T.id_hash)).all())

    def purge(self, session: AnySession, now: datetime) -> int:
        """Sessions past their deadline (the database has no TTL): by the expires_at index."""
        return len(session.execute(delete(UserSession).where(_T.expires_at < now).returning(_T.id_hash)).all())


class RedisStore:
    """`<prefix>session:<digest>` holds the record as JSON, expiring with it; `<prefix>account-sessions:
    <kind>:<id>` is the set of the account's digests (members whose key expired are dropped when the
    set is read). Expiry is also checked by the caller against the app's clock: the TTL only
    collects garbage."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "afterdesk:"):
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=3, socket_connect_timeout=3)
        self.prefix = prefix

    def _key(self, digest: str) -> str:
        return f"{self.prefix}session:{digest}"

    def _set(self, kind: str, account_id: int) -> str:
        return f"{self.prefix}account-sessions:{kind}:{account_id}"

    def _run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"session store (Redis): {exc}") from exc

    def writing(self, session: AnySession) -> AbstractContextManager:
        return nullcontext()

    @staticmethod
    def _dump(record: Record) -> str:
        values = _values(record)
        for key in ("created_at", "last_seen_at", "expires_at"):
            values[key] = values[key].isoformat()
        del values["id_hash"]
        return json.dumps(values, separators=(",", ":"))

    @staticmethod
    def _parse(digest: str, raw: str) -> Record:
        v = json.loads(raw)
        at = {k: datetime.fromisoformat(v[k]).astimezone(timezone.utc) for k in ("created_at", "last_seen_at", "expires_at")}
        return Record(digest, v["account_kind"], int(v["account_id"]), v["data"], at["created_at"], at["last_seen_at"],
                      at["expires_at"], v.get("ip"), v.get("user_agent"))

    @staticmethod
    def _ttl(record: Record, now: datetime) -> int:
        """Seconds, relative (the app's clock may not be Redis's: tests move theirs by hand)."""
        return max(1, math.ceil((record.expires_at - now).total_seconds()))

    def load(self, session: AnySession, digest: str) -> Record | None:
        raw = self._run(self.client.get, self._key(digest))
        return self._parse(digest, raw) if raw is not None else None

    def create(self, session: AnySession, record: Record, now: datetime) -> None:
        ttl, members = self._ttl(record, now), self._set(record.account_kind, record.account_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(record.digest), self._dump(record), ex=ttl, nx=True)
        pipe.sadd(members, record.digest)
        pipe.expire(members, ttl, nx=True)
        pipe.expire(members, ttl, gt=True)
        self._run(pipe.execute)

    def update(self, session: AnySession, record: Record, now: datetime) -> bool:
        ttl = self._ttl(record, now)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(record.digest), self._dump(record), ex=ttl, xx=True)  # never brings back a deleted one
        pipe.expire(self._set(record.account_kind, record.account_id), ttl, gt=True)
        stored, _ = self._run(pipe.execute)
        return bool(stored)

    def delete(self, session: AnySession, record: Record) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._key(record.digest))
        pipe.srem(self._set(record.account_kind, record.account_id), record.digest)
        self._run(pipe.execute)

    def of_account(self, session: AnySession, kind: str, account_id: int) -> list[Record]:
        members = sorted(self._run(self.client.smembers, self._set(kind, account_id)))
        if not members:
            return []
        raws = self._run(self.client.mget, [self._key(d) for d in members])
        gone = [d for d, raw in zip(members, raws, strict=True) if raw is None]
        if gone:
            self._run(self.client.srem, self._set(kind, account_id), *gone)
        return [self._parse(d, raw) for d, raw in zip(members, raws, strict=True) if raw is not None]

    def delete_of_account(self, session: AnySession, kind: str, account_id: int, keep: str | None = None) -> int:
        members = [d for d in self._run(self.client.smembers, self._set(kind, account_id)) if d != keep]
        if not members:
            return 0
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*[self._key(d) for d in members])
        pipe.srem(self._set(kind, account_id), *members)
        deleted, _ = self._run(pipe.execute)
        return int(deleted)

    def purge(self, session: AnySession, now: datetime) -> int:
        return 0  # keys expire by themselves


def store_from_config(config) -> Store:
    url = config.get("SESSION_STORE_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, prefix=config.get("SESSION_REDIS_PREFIX", "afterdesk:"))
    return DatabaseStore()


def current_store() -> Store:
    return current_app.extensions["afterdesk.sessions"]


def _timeouts() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return cfg["SESSION_IDLE_TIMEOUT"], cfg["SESSION_ABSOLUTE_TIMEOUT"]


def kind_of(account) -> str:
    return account.KIND


# What the "My sessions" page shows and does (R27). Merchants' actions are in the activity log (R19).

@dataclass(frozen=True)
class SessionRow:
    handle: str
    device: Device
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


def account_sessions(session: AnySession, account, current_digest: str | None, now: datetime) -> list[SessionRow]:
    """The account's live sessions, this one first, then the most recently seen."""
    idle, absolute = _timeouts()
    rows = [SessionRow(r.handle, r.device, r.ip, r.created_at, r.last_seen_at, r.digest == current_digest)
            for r in current_store().of_account(session, kind_of(account), account.id)
            if r.ends_at(idle, absolute) >= now]
    return sorted(rows, key=lambda r: (not r.current, -r.last_seen_at.timestamp(), r.handle))


def _audit(session: AnySession, account, action: str, handle: str, now: datetime, ip: str | None, after: dict) -> None:
    """The shop's activity log (R19): the session ended, or the one kept; buyers have no activity log."""
    if kind_of(account) == "m":
        audit.record(session, shop_id=account.shop_id, actor=account, action=action, target_type="session",
                     target_id=handle, now=now, ip=ip, after=after)


def end_session(session: AnySession, account, handle: str, current_digest: str | None, now: datetime,
                ip: str | None = None) -> bool:
    """Sign out one of the account's other sessions. False if it has none by that handle (this
    session is ended by signing out)."""
    store = current_store()
    found = next((r for r in store.of_account(session, kind_of(account), account.id)
                  if r.handle == handle and r.digest != current_digest), None)
    if found is None:
        return False
    with write_transaction(session):
        store.delete(session, found)
        _audit(session, account, "session.end", found.handle, now, ip,
               {"device": str(found.device) or None, "address": found.ip})
    return True


def end_other_sessions(session: AnySession, account, current_digest: str | None, now: datetime,
                       ip: str | None = None) -> int:
    """Sign out everywhere else: every session of the account but this one."""
    store = current_store()
    with write_transaction(session):
        ended = store.delete_of_account(session, kind_of(account), account.id, keep=current_digest)
        kept = current_digest[:HANDLE_CHARS] if current_digest else ""
        _audit(session, account, "session.end_others", kept, now, ip, {"sessions_ended": ended})
    return ended


def end_current(session: AnySession, record: Record) -> None:
    """This session ends: signed out (deleted at once, so a copy of its cookie is refused from now
    on), refused, past its timeout, or replaced at sign-in."""
    store = current_store()
    with store.writing(session):
        store.delete(session, record)


def end_all(session: AnySession, kind: str, account_id: int) -> int:
    """Every session of the account ends (disable, password reset). Called inside the caller's write
    transaction: with the database store the sessions go in the same commit."""
    return current_store().delete_of_account(session, kind, account_id)


def touched(record: Record, *, data: str | None, seen_at: datetime | None, ip: str | None,
            user_agent: str | None) -> Record:
    """The record after this request: its new data if it changed; if it was seen, the time, the
    deadline moved on and where from."""
    changes: dict = {}
    if data is not None:
        changes["data"] = data
    if seen_at is not None:
        idle, absolute = _timeouts()
        changes.update(last_seen_at=seen_at, expires_at=deadline(record.created_at, seen_at, idle, absolute),
                       ip=clip_ip(ip), user_agent=clip_user_agent(user_agent))
    return replace(record, **changes)


def started(raw_id: str, kind: str, account_id: int, data: str, now: datetime, ip: str | None,
            user_agent: str | None) -> Record:
    idle, absolute = _timeouts()
    return Record(digest(raw_id), kind, account_id, data, now, now, deadline(now, now, idle, absolute), clip_ip(ip),
                  clip_user_agent(user_agent))


def save_new(session: AnySession, record: Record, now: datetime) -> None:
    """A session at sign-in; expired sessions are purged on the way (the database has no TTL)."""
    store = current_store()
    with store.writing(session):
        store.purge(session, now)
        store.create(session, record, now)


def save_changes(session: AnySession, record: Record, now: datetime) -> bool:
    """False if the session was ended meanwhile (it stays ended)."""
    store = current_store()
    with store.writing(session):
        return store.update(session, record, now)
