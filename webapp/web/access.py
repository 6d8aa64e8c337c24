"""Deny by default: every endpoint declares either @public or @requires(action); the global
guard refuses anything else. Role checks read domain.permissions; tenancy is in the queries."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from ..domain.permissions import can
from .htmx import fragment, htmx_request

ATTR_PUBLIC = "_afterdesk_public"
ATTR_ACTION = "_afterdesk_action"
ATTR_BACKGROUND = "_afterdesk_background"


def public(view):
    setattr(view, ATTR_PUBLIC, True)
    return view


def requires(action: str):
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            return view(*args, **kwargs)

        setattr(wrapped, ATTR_ACTION, action)
        return wrapped

    return decorate


def background(view):
    """A poll the page makes by itself (live status, the bell): not a sign of the user's activity,
    so it does not keep the session's idle timer alive."""
    setattr(view, ATTR_BACKGROUND, True)
    return view


def is_background(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(getattr(view, ATTR_BACKGROUND, False))


def declared(view) -> str | None:
    """'public', the action, or None for an undeclared endpoint."""
    if getattr(view, ATTR_PUBLIC, False):
        return "public"
    return getattr(view, ATTR_ACTION, None)


def login_endpoint_for(action: str, ended_kind: str | None = None) -> str:
    """The sign-in page for an action: the buyers' for buyer pages; for a page both kinds of account
    use (My sessions), the buyers' too when the session that just ended was a buyer's."""
    if action.startswith("buyer.") or ended_kind == "b":
        return "auth.buyer_login"
    return "auth.merchant_login"


def _ended_kind() -> str | None:
    """"b" or "m": whose session the request's cookie named, when it was refused as past its timeout
    (webapp/sessions.py keeps the record it deletes until the response); None otherwise."""
    from ..sessions import this_session

    ended = this_session().doomed
    return ended.account_kind if ended is not None else None


def guard():
    """before_request: authenticate and authorize every request up front."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    decl = declared(view)
    if decl == "public":
        return None
    if decl is None:
        current_app.logger.error("endpoint %s has no declared permission: refused", request.endpoint)
        abort(403)
    if not current_user.is_authenticated:
        sign_in = login_endpoint_for(decl, _ended_kind())
        if htmx_request():
            # htmx would swap a login page into a table row: send the whole page there instead.
            return fragment("", 204, redirect=url_for(sign_in))
        nxt = request.full_path if request.method == "GET" else None
        return redirect(url_for(sign_in, next=safe_next(nxt)))
    if not can(current_user.role_enum, decl):
        abort(403)
    return None


MAX_NEXT = 2_048


def safe_next(target: str | None) -> str | None:
    """Only local paths are accepted as a post-login destination (ASVS 5.1.5): no scheme or host,
    no "//" or backslash (browsers read both as another host), and no control character at all:
    CR/LF would split the Location header, and browsers drop tabs and line breaks from a URL, so
    "/<tab>/evil.example" would become "//evil.example". Anything else: None (go home)."""
    if not target or len(target) > MAX_NEXT:
        return None
    target = target.rstrip("?")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def current_shop_id() -> int:
    shop_id = getattr(current_user, "shop_id", None)
    if shop_id is None:
        abort(403)
    return shop_id
