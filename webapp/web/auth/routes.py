"""Sign-in for merchants (main/staff) and buyers on separate pages; sign-out; language."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask import after_this_request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import TooManyRequests

from ... import clock
from ... import sessions as server_sessions
from ...domain import two_factor as two_factor_rules
from ...domain.permissions import Role
from ...domain.two_factor import Outcome
from ...extensions import db, limiter
from ...services import signin_throttle
from ...services import two_factor as two_factor_svc
from ...services.auth import AccountDisabled, authenticate
from ..access import public, safe_next
from ..two_factor.forms import CodeForm
from .forms import LanguageForm, LoginForm
from ..messages import signin_wait_text

bp = Blueprint("auth", __name__)


def _login_limits(view):
    """Flask-Limiter as a flood guard only: every sign-in POST per address, whatever its outcome
    (LOGIN_REQUEST_LIMIT), so no address keeps the server hashing passwords, successes included.
    Guessing is limited by the sign-in throttle (`_reserve_attempt`), counted before the password check."""
    limit = lambda: current_app.config["LOGIN_REQUEST_LIMIT"]  # noqa: E731
    return limiter.limit(limit, methods=["POST"], scope="signin-flood")(view)


def _reserve_attempt(kind: str, login: str) -> signin_throttle.Attempt:
    """Reserve this attempt's sign-in budgets before the password check: a known browser's own, else
    the login name's and the address's for unknown browsers. 429 (the wait on the form) when one is used up."""
    cfg = current_app.config
    try:
        return signin_throttle.reserve(db.session, cfg, kind=kind, login=login, address=request.remote_addr,
                                       device_cookie=request.cookies.get(signin_throttle.cookie_name(cfg)),
                                       now=clock.now())
    except signin_throttle.Throttled as refused:
        raise TooManyRequests(retry_after=refused.retry_after) from None


def _trust_this_browser(attempt: signin_throttle.Attempt) -> None:
    """A successful sign-in: its reservations are given back, and this browser gets (or renews) its
    device cookie for the login, so failures from elsewhere never lock it out."""
    cookie = attempt.succeeded(current_app.config, clock.now())

    @after_this_request
    def _set_device_cookie(response):
        response.set_cookie(**cookie)
        return response


def throttled_page(error):
    """The 429 of the sign-in pages (app.py's handler): the form again, with what was typed in the
    login field (never the password) and how long to wait. The same page whether the account exists or not."""
    wait = getattr(error, "retry_after", None)
    if not isinstance(wait, int):  # Flask-Limiter's flood guard: until its window ends
        current = limiter.current_limit
        wait = max(1, int(current.reset_at - time.time())) if current else 60
    if request.endpoint == "auth.two_factor":
        pending = _pending_sign_in()
        code_form = CodeForm()
        code_form.code.errors = [signin_wait_text(wait)]
        return _second_step_page(code_form, pending.login if pending else "", 429, {"Retry-After": str(wait)})
    form = LoginForm()
    form.password.errors = [signin_wait_text(wait)]
    template = "auth/buyer_login.html" if request.endpoint == "auth.buyer_login" else "auth/merchant_login.html"
    return render_template(template, form=form), 429, {"Retry-After": str(wait)}


def _home_for(account) -> str:
    return url_for("buyer.orders") if account.role_enum == Role.BUYER else url_for("merchant.orders")


def _sign_in(kind: str, template: str):
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        attempt = _reserve_attempt(kind, form.login.data)  # counted before the password check (atomic)
        try:
            account = authenticate(db.session, kind, form.login.data, form.password.data, clock.now())
        except AccountDisabled:  # the right password: it may know why it cannot sign in (counted as a failure)
            form.password.errors.append(_("This account is disabled. Ask your shop's main account to enable it again.")
                                        if kind == "merchant" else _("This account is disabled."))
            return render_template(template, form=form)
        if account is not None and kind == "merchant" and account.two_factor_enabled:
            # Step one of two: the password was right (its reservations back, but this browser is not
            # trusted yet); the code step follows within 5 minutes, and only it signs in.
            attempt.release()
            _start_second_step(account, safe_next(form.next.data) or "")
            return redirect(url_for("auth.two_factor"), code=303)
        if account is not None:
            _trust_this_browser(attempt)
            # A new session at sign-in (no fixation): the one before ends and nothing of it survives; the
            # response stores the new one under a new id (webapp/sessions.py, R27).
            server_sessions.end()
            login_user(account)
            generate_csrf()  # its own CSRF token, stored with it (the first page then writes nothing)
            return redirect(safe_next(form.next.data) or _home_for(account), code=303)
        form.password.errors.append(_("Wrong login name or password, or the account is disabled."))
    return render_template(template, form=form)


# -- the second step: a code from the authenticator app (two-factor accounts) --------------------------

PENDING_SIGN_IN = "signin_pending"  # the session key of a sign-in waiting for its code


@dataclass(frozen=True)
class PendingSignIn:
    account_id: int
    epoch: int  # the account's session epoch then: a password reset since ends the pending sign-in
    login: str
    started_at: datetime
    next: str


def _start_second_step(account, next_url: str) -> None:
    """Remember, in this browser's session, whose password was right and when. Before sign-in the
    session is the signed cookie of webapp/sessions.py: it cannot be forged, holds no secret, and
    signs nobody in; the time is checked here against the app's clock."""
    session[PENDING_SIGN_IN] = {"account": account.id, "epoch": account.session_epoch, "login": account.login,
                                "at": clock.now().isoformat(), "next": next_url}


def _pending_sign_in() -> PendingSignIn | None:
    raw = session.get(PENDING_SIGN_IN)
    if not isinstance(raw, dict):
        return None
    try:
        started_at = datetime.fromisoformat(str(raw["at"]))
        pending = PendingSignIn(int(raw["account"]), int(raw["epoch"]), str(raw["login"]), started_at,
                                str(raw.get("next") or ""))
    except (KeyError, TypeError, ValueError):
        return None
    return pending if started_at.tzinfo is not None else None


def _second_step_page(form: CodeForm, login: str, status: int = 200, headers: dict | None = None):
    form.code.data = form.recovery_code.data = ""  # a code is never shown back
    return (render_template("auth/two_factor.html", form=form, login=login, recovery_open=bool(form.recovery_code.errors)),
            status, headers or {})


def _restart(pending: PendingSignIn | None, notice: str):
    session.pop(PENDING_SIGN_IN, None)
    flash(notice, "info")
    return redirect(url_for("auth.merchant_login", next=safe_next(pending.next) if pending else None),
                    code=303 if request.method == "POST" else 302)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
@_login_limits
def two_factor():
    """The code (or a recovery code, which works once) after the right password. Wrong codes spend the
    same sign-in budgets as wrong passwords, reserved before the check; a right one signs in exactly
    as the password alone does for an account without two-factor."""
    pending = _pending_sign_in()
    now = clock.now()
    if pending is None:
        return redirect(url_for("auth.merchant_login"), code=303 if request.method == "POST" else 302)
    minutes = int(two_factor_rules.PENDING_SIGN_IN_MAX_AGE.total_seconds() // 60)
    if not two_factor_rules.pending_sign_in_is_fresh(pending.started_at, now):
        return _restart(pending, _("The code was not entered within %(minutes)s minutes of the password. Sign in "
                                   "again.", minutes=minutes))
    account = two_factor_svc.pending_account(db.session, pending.account_id, pending.epoch)
    if account is None:  # disabled, password reset, or two-factor reset meanwhile
        return _restart(pending, _("This sign-in can no longer be finished. Sign in again."))
    form = CodeForm()
    if form.validate_on_submit():
        if not (form.code.data or "").strip() and not (form.recovery_code.data or "").strip():
            form.code.errors = [_(two_factor_rules.MESSAGES[Outcome.MISSING])]
            return _second_step_page(form, pending.login, 422)
        try:
            attempt = _reserve_attempt("merchant", pending.login)  # counted before the code is checked
        except TooManyRequests as refused:
            wait = int(refused.retry_after or 60)  # type: ignore[attr-defined]
            form.code.errors = [signin_wait_text(wait)]
            return _second_step_page(form, pending.login, 429, {"Retry-After": str(wait)})
        verified = two_factor_svc.second_step(db.session, account.id, form.code.data, form.recovery_code.data, now,
                                              ip=request.remote_addr)
        if verified.accepted:
            _trust_this_browser(attempt)
            server_sessions.end()  # the pending sign-in goes with the rest: a new session, new id (R27)
            login_user(account)
            generate_csrf()
            if verified.by_recovery_code:
                left = verified.recovery_codes_left or 0
                flash(ngettext("You signed in with a recovery code; it cannot be used again. %(num)d recovery code "
                               "is left: generate new ones on the two-step verification page.",
                               "You signed in with a recovery code; it cannot be used again. %(num)d recovery codes "
                               "are left: generate new ones on the two-step verification page.", left), "info")
            return redirect(safe_next(pending.next) or _home_for(account), code=303)
        getattr(form, verified.field).errors = [_(two_factor_rules.MESSAGES[verified.outcome])]
    return _second_step_page(form, pending.login, 422 if form.is_submitted() else 200)


@bp.route("/login", methods=["GET", "POST"])
@public
@_login_limits
def merchant_login():
    return _sign_in("merchant", "auth/merchant_login.html")


@bp.route("/buyer/login", methods=["GET", "POST"])
@public
@_login_limits
def buyer_login():
    return _sign_in("buyer", "auth/buyer_login.html")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    was_buyer = current_user.is_authenticated and current_user.role_enum == Role.BUYER
    server_sessions.end()  # deleted on the server now: a copy of this cookie is refused from here on (R27)
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.buyer_login" if was_buyer else "auth.merchant_login"), code=303)


@bp.route("/lang", methods=["POST"])
@public
def set_language():
    """The language is the browser's, in its own cookie: it stays through sign-in and sign-out."""
    form = LanguageForm()
    response = redirect(safe_next(form.next.data) or url_for("core.index"), code=303)
    cfg = current_app.config
    if form.validate_on_submit() and form.lang.data in cfg["LANGUAGES"]:
        response.set_cookie(cfg["LANGUAGE_COOKIE_NAME"], form.lang.data, max_age=cfg["LANGUAGE_COOKIE_LIFETIME"],
                            secure=cfg["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    return response
