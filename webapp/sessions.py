"""Server-side sessions for Flask (R27, ASVS 3.2-3.3): a SessionInterface over services/sessions.py.

A signed-in session lives in the store (the database, or Redis with REDIS_URL); the browser's
cookie holds only its random id, and the store only the id's SHA-256. So the server can end a
session: sign-out deletes it (a copied cookie is refused afterwards, from anywhere), disabling an
account or resetting its password deletes all of the account's, and a session past its idle or
absolute timeout is refused and deleted when it is presented.

A session that signs nobody in (before sign-in: the sign-in form's CSRF token, a notice to show)
is never stored: it stays in Flask's signed cookie, as before, so an anonymous visitor costs the
store nothing. Such a cookie can never sign anyone in: Flask-Login's keys are dropped from it. The
step from one to the other makes a new id (no fixation): a session gets its id only when it
first signs someone in, and signing in again starts another one.

Per request: no cookie, or a signed one, reads nothing; a session id is one read of the store by
its key (with the database store the same statement loads the signed-in account). Writes happen
only when the session's keys changed or its last-seen time moves (at most once a minute), and
only then is the cookie sent again. Static files never touch the store.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from flask import Flask, Request, Response, current_app, g, request
from flask import session as flask_session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionInterface, session_json_serializer
from itsdangerous import BadSignature
from sqlalchemy.orm import Session

from . import clock
from .extensions import db
from .services import sessions as store_svc
from .services.sessions import Record

# What Flask-Login keeps in the session: never believed from a signed cookie (only the store signs in).
LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32); a signed cookie always has dots


class ServerSession(SecureCookieSession):
    """The session's keys (a dict, changes tracked as Flask's own session does) and, when it signs
    someone in, its record in the store."""

    def __init__(self, initial=None, *, record: Record | None = None, raw_id: str | None = None):
        super().__init__(initial)
        self.record = record  # None: not stored (signs nobody in)
        self.raw_id = raw_id  # the cookie's id, only to send the cookie again
        self.seen_at: datetime | None = None  # a last-seen time to write
        self.expired = False  # the cookie named a session past its timeout (refused, deleted)
        self.drop_cookie = False  # the cookie names nothing valid: replace it or delete it
        self.doomed: Record | None = None  # a record to delete when the response is saved
        self.skipped = False  # a static file: the store was not read, nothing is written
        self.unavailable: BaseException | None = None  # the store failed (UnavailableSession)

    @property
    def digest(self) -> str | None:
        return self.record.digest if self.record is not None else None

    def touch(self, now: datetime, resolution: timedelta) -> None:
        """Move last-seen (keeps the idle timeout going), at most once per `resolution`."""
        if self.record is not None and now - self.record.last_seen_at >= resolution:
            self.seen_at = now


class UnavailableSession(ServerSession):
    """The store failed when the request came in (Redis or the database unreachable). The first use
    of the session raises that error, inside the request, where the error pages answer (503); a
    request whose view never used it (/healthz) is not affected (`_settled`: once the response
    exists, Flask-Login's after-request look at it finds it empty). Nothing is written."""

    def __init__(self, error: BaseException):
        super().__init__()
        self.unavailable = error
        self._pending: BaseException | None = error

    def _raise_once(self) -> None:
        error, self._pending = self._pending, None
        if error is not None:
            raise error


def _guarded(name: str):
    plain = getattr(ServerSession, name)

    def method(self, *args, **kwargs):
        self._raise_once()
        return plain(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("__getitem__", "__setitem__", "__delitem__", "__contains__", "__iter__", "__len__", "get", "keys",
              "items", "values", "setdefault", "pop", "popitem", "update", "clear", "copy"):
    setattr(UnavailableSession, _name, _guarded(_name))


def this_session() -> ServerSession:
    current = flask_session._get_current_object()  # type: ignore[attr-defined]
    assert isinstance(current, ServerSession), "the server-side session interface is not installed"
    return current


def end() -> None:
    """Sign-out, and the start of a sign-in: this session's record is deleted now (its cookie is
    refused from here on, whoever holds a copy) and none of its keys survive. A sign-in that
    follows gets a new id when the response is saved."""
    current = this_session()
    if current.record is not None:
        store_svc.end_current(db.session, current.record)
        current.record = None
    current.seen_at = None
    current.clear()
    current.drop_cookie = True
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)  # Flask-WTF's cached token of it, too


def current_digest() -> str | None:
    return this_session().digest


def _quietly(app: Flask, write, *args):
    """A write the response does not depend on (last-seen, a notice, deleting a session already
    refused): if the store fails, the page the person asked for is still answered; logged."""
    try:
        return write(*args)
    except Exception as exc:  # noqa: BLE001 - see above; a sign-in's write is not made this way and does fail
        app.logger.warning("session store write failed: %s", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        return None


def _account_of(data) -> tuple[str, int] | None:
    """("m", 5) for Flask-Login's "m:5:<epoch>"; None when nobody is signed in."""
    user_id = data.get("_user_id")
    if not isinstance(user_id, str):
        return None
    kind, _, rest = user_id.partition(":")
    raw_id = rest.partition(":")[0]
    if kind not in store_svc.ACCOUNT_KINDS or not raw_id.isdigit():
        return None
    return kind, int(raw_id)


class ServerSessionInterface(SessionInterface):
    serializer = session_json_serializer  # Flask's tagged JSON, as in its cookies

    def __init__(self) -> None:
        self._cookies = SecureCookieSessionInterface()  # the signed cookie of a session that signs nobody in

    # -- opening ---------------------------------------------------------------------------------
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return ServerSession()
        if _SESSION_ID.fullmatch(value):
            if request.path.startswith(f"{app.static_url_path}/"):
                skipped = ServerSession()
                skipped.skipped = True
                return skipped
            return self._open_stored(app, value)
        return self._open_signed(app, value)

    def _open_stored(self, app: Flask, raw_id: str) -> ServerSession:
        try:
            record = store_svc.current_store().load(db.session, store_svc.digest(raw_id))
        except Exception as exc:  # noqa: BLE001 - raised again inside the request, where the error pages answer
            return UnavailableSession(exc)
        if record is None:  # signed out, ended, or never issued (a forged or garbage id)
            fresh = ServerSession()
            fresh.drop_cookie = True
            return fresh
        cfg = app.config
        if clock.now() > record.ends_at(cfg["SESSION_IDLE_TIMEOUT"], cfg["SESSION_ABSOLUTE_TIMEOUT"]):
            fresh = ServerSession()
            fresh.expired = fresh.drop_cookie = True
            fresh.doomed = record
            return fresh
        try:
            data = self.serializer.loads(record.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            fresh = ServerSession()
            fresh.drop_cookie, fresh.doomed = True, record
            return fresh
        return ServerSession(data, record=record, raw_id=raw_id)

    def _open_signed(self, app: Flask, value: str) -> ServerSession:
        signer = self._cookies.get_signing_serializer(app)
        if signer is None:
            raise RuntimeError("SECRET_KEY is required for sessions")
        try:
            data = signer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            data = None
        if not isinstance(data, dict):
            fresh = ServerSession()
            fresh.drop_cookie = True
            return fresh
        forged = [key for key in LOGIN_KEYS if data.pop(key, None) is not None]
        opened = ServerSession(data)
        opened.drop_cookie = bool(forged)  # an old-style or forged sign-in in a cookie: signs nobody in
        return opened

    # -- saving ----------------------------------------------------------------------------------
    def save_session(self, app: Flask, session, response: Response) -> None:
        if not isinstance(session, ServerSession) or session.skipped or session.unavailable is not None:
            return
        if session.accessed:
            response.vary.add("Cookie")
        now = clock.now()
        account = _account_of(session)
        record = session.record
        with Session(db.engine) as writer:  # the store's writes, apart from the request's own transaction
            if session.doomed is not None:  # past its timeout, or unreadable
                _quietly(app, store_svc.end_current, writer, session.doomed)
                session.doomed = None
            if record is not None and (account is None or account != (record.account_kind, record.account_id)):
                # Refused (its account disabled or its password reset: the store deleted it already, this
                # is the rest), or it no longer signs in anyone.
                _quietly(app, store_svc.end_current, writer, record)
                session.record = record = None
                session.drop_cookie = True
            if account is not None:
                self._save_stored(app, session, response, writer, account, now)
                return
        self._save_signed(app, session, response)

    def _save_stored(self, app: Flask, session: ServerSession, response: Response, writer: Session,
                     account: tuple[str, int], now: datetime) -> None:
        address, agent = request.remote_addr, request.headers.get("User-Agent")
        record = session.record
        if record is None:  # a sign-in: a new id, never one the browser had before
            raw_id = store_svc.new_id()
            record = store_svc.started(raw_id, account[0], account[1], self.serializer.dumps(dict(session)), now,
                                       address, agent)
            store_svc.save_new(writer, record, now)
            session.record, session.raw_id = record, raw_id
            self._set_id_cookie(app, response, raw_id, record, now)
            return
        if not (session.modified or session.seen_at):
            return
        data = self.serializer.dumps(dict(session)) if session.modified else None
        record = store_svc.touched(record, data=data, seen_at=session.seen_at, ip=address, user_agent=agent)
        saved = _quietly(app, store_svc.save_changes, writer, record, now)
        if saved is None:  # the store failed: the response stands; last-seen moves on the next request
            return
        if saved:
            session.record = record
            assert session.raw_id is not None
            self._set_id_cookie(app, response, session.raw_id, record, now)
        else:  # ended while this request ran (signed out elsewhere): it stays ended
            self._delete_cookie(app, response)

    def _save_signed(self, app: Flask, session: ServerSession, response: Response) -> None:
        if not session:
            if session.modified or session.drop_cookie:
                self._delete_cookie(app, response)
            return
        if not (session.modified or session.drop_cookie):
            return
        signer = self._cookies.get_signing_serializer(app)
        assert signer is not None
        response.set_cookie(
            self.get_cookie_name(app), signer.dumps(dict(session)), expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app), domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app))
        response.vary.add("Cookie")

    def _set_id_cookie(self, app: Flask, response: Response, raw_id: str, record: Record, now: datetime) -> None:
        # The browser keeps it until the session's absolute end at the latest; the store decides before that.
        left = record.created_at + app.config["SESSION_ABSOLUTE_TIMEOUT"] - now
        left = max(timedelta(0), min(left, app.permanent_session_lifetime))
        response.set_cookie(
            self.get_cookie_name(app), raw_id, expires=datetime.now(timezone.utc) + left,
            httponly=self.get_cookie_httponly(app), domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app))
        response.vary.add("Cookie")

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app), domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app), partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app), httponly=self.get_cookie_httponly(app))
        response.vary.add("Cookie")


def _settled(response: Response) -> Response:
    current = flask_session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, UnavailableSession):
        current._pending = None
    return response


def install(app: Flask) -> None:
    """After Flask-Login's init_app: after-request functions run last-registered first, so `_settled`
    runs before Flask-Login's."""
    app.extensions["afterdesk.sessions"] = store_svc.store_from_config(app.config)
    app.session_interface = ServerSessionInterface()
    app.after_request(_settled)
