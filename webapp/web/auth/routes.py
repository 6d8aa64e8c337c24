"""Sign-in for merchants (main/staff) and buyers on separate pages; sign-out; language."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import after_this_request
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import TooManyRequests

from ... import clock
from ... import sessions as server_sessions
from ...domain.permissions import Role
from ...extensions import db, limiter
from ...services import signin_throttle
from ...services.auth import authenticate
from ..access import public, safe_next
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
        account = authenticate(db.session, kind, form.login.data, form.password.data, clock.now())
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
