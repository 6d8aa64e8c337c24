"""My sessions (R27): every signed-in account sees its own sessions (device, address, signed in
at, last seen, this one marked) and signs out one of the others, or all of them at once. The
actions of merchant accounts are in the shop's activity log (R19)."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block

from ... import clock
from ... import sessions as server_sessions
from ...extensions import db
from ...services import sessions as svc
from ..access import requires
from ..htmx import is_htmx

bp = Blueprint("account", __name__)

TEMPLATE = "account/sessions.html"
_HANDLE = re.compile(rf"[0-9a-f]{{{svc.HANDLE_CHARS}}}")


def _context(notice: str | None = None) -> dict:
    from flask import current_app

    cfg = current_app.config
    rows = svc.account_sessions(db.session, current_user, server_sessions.current_digest(), clock.now())
    return {"rows": rows, "notice": notice,
            "idle_minutes": int(cfg["SESSION_IDLE_TIMEOUT"].total_seconds() // 60),
            "absolute_hours": int(cfg["SESSION_ABSOLUTE_TIMEOUT"].total_seconds() // 3600)}


def _done(notice: str):
    """htmx gets the list again with the notice in it; everyone else a 303 back to the page."""
    if is_htmx():
        return render_block(TEMPLATE, "sessions", **_context(notice))
    flash(notice, "success")
    return redirect(url_for("account.sessions"), code=303)


@bp.route("/account/sessions")
@requires("account.sessions")
def sessions():
    return render_template(TEMPLATE, **_context())


@bp.route("/account/sessions/<handle>/end", methods=["POST"])
@requires("account.sessions")
def end_session(handle: str):
    """Sign out one other session (this one signs out with the top bar's button). Another
    account's session, or one already ended, is not found."""
    if not _HANDLE.fullmatch(handle) or not svc.end_session(
            db.session, current_user, handle, server_sessions.current_digest(), clock.now(), ip=request.remote_addr):
        abort(404)
    return _done(_("That session is signed out. Whoever used it must sign in again."))


@bp.route("/account/sessions/end-others", methods=["POST"])
@requires("account.sessions")
def end_others():
    """Sign out everywhere else: every session of this account but this one."""
    ended = svc.end_other_sessions(db.session, current_user, server_sessions.current_digest(), clock.now(),
                                   ip=request.remote_addr)
    if not ended:
        return _done(_("No other session was signed in."))
    return _done(ngettext("Signed out of %(num)d other session.", "Signed out of %(num)d other sessions.", ended))
