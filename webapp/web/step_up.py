"""Step-up re-authentication (OWASP ASVS 4.0.3 level 2, V4.3.3; issue 12 point 3): before a change
to money settings the merchant must have entered its password within STEP_UP_MAX_AGE (5 minutes).

One decorator, `@recent_password`, next to `@requires` on the POST routes that change them: staff
quotas, creating a sub-account and setting its password (web/staff), payout controls (approval
thresholds, the undo window) and turning fast refund on or confirming it (web/settings). Without a
recent password entry the change is NOT made: the browser goes (htmx: HX-Redirect, since htmx cannot
follow a redirect into a table row) to the "confirm your password" page, which says why and then
returns to the page the form was on (a safe local `next`). What was typed in that form is not
carried across the detour; so the GET pages hosting these forms ask for the password first
(`step_up_notice`, templates/auth/_step_up_notice.html), before anything is typed.

The time of the last password entry is `session["reauth_at"]` (ISO 8601, the app clock), in the
server-side session: a sign-in sets it (Flask-Login's user_logged_in signal, sent only by the
password sign-in), and so does this page. A new session (sign-in again, sign-out) starts without it.
Wrong passwords spend the same sign-in budgets as the sign-in form (services/signin_throttle.py: per
known browser, else per login name and address) and every attempt is in the activity log (R19).
An account with two-factor sign-in (web/two_factor) gives a current code (or a recovery code) with the
password, here and in the notice; the code is checked only after the right password, and never twice.
"""
from __future__ import annotations

from datetime import datetime
from functools import wraps
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, after_this_request, current_app, redirect, render_template, request, session,
                   url_for)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, user_logged_in
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import clock
from ..domain import two_factor as two_factor_rules
from ..domain.permissions import MERCHANT_ROLES
from ..domain.reauth import password_is_recent
from ..domain.two_factor import Outcome
from ..extensions import db, limiter
from ..services import reauth as svc
from ..services import signin_throttle
from .access import requires, safe_next
from .htmx import fragment, htmx_request
from .messages import signin_wait_text

SESSION_KEY = "reauth_at"
ATTR_STEP_UP = "_afterdesk_step_up"  # marks the views that need a recent password (tests list them)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bp = Blueprint("step_up", __name__)


class StepUpForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=256)])
    # An account with two-factor sign-in also gives a current code, or one of its recovery codes.
    code = StringField(_l("Verification code"), validators=[Length(max=64, message=_l("The code has 6 digits."))])
    recovery_code = StringField(_l("Recovery code"), validators=[
        Length(max=64, message=_l("A recovery code has 16 letters and digits."))])
    next = HiddenField()


# -- the rule, on this session ---------------------------------------------------------------------

def last_password_entry() -> datetime | None:
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, str):
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def password_entered(now: datetime) -> None:
    session[SESSION_KEY] = now.isoformat()


def has_recent_password() -> bool:
    return password_is_recent(last_password_entry(), clock.now(), current_app.config["STEP_UP_MAX_AGE"])


def _on_sign_in(sender, user, **extra) -> None:
    """A successful sign-in is a fresh password entry (its new session gets the time)."""
    password_entered(clock.now())


@bp.record_once
def _connect(state) -> None:
    app: Flask = state.app
    user_logged_in.connect(_on_sign_in, app)  # only this app's sign-ins (tests make many apps)


# -- the decorator ---------------------------------------------------------------------------------

def _same_site_path(url: str | None) -> str | None:
    """The local path (and query) of a URL on this site, e.g. the Referer; None for another site's."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if parts.scheme != request.scheme or parts.netloc != request.host:
            return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def _back() -> str | None:
    """The page the refused change came from: htmx names it (HX-Current-URL), browsers send the Referer
    (Referrer-Policy: same-origin); else the route's own page when it has one (GET: the form)."""
    for url in (request.headers.get("HX-Current-URL") if htmx_request() else None, request.referrer):
        back = _same_site_path(url)
        if back:
            return back
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()):
        return safe_next(request.full_path)
    return None


def recent_password(view):
    """The change runs only if the password was entered within STEP_UP_MAX_AGE; otherwise nothing is
    done and the user is sent to confirm it first. Reading (GET) is never held up."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method in SAFE_METHODS or has_recent_password():
            return view(*args, **kwargs)
        target = url_for("step_up.confirm", next=_back())
        if htmx_request():
            return fragment("", 204, redirect=target)  # the whole page goes there, not a table row
        return redirect(target, code=303)

    setattr(wrapped, ATTR_STEP_UP, True)
    return wrapped


def needs_step_up(view) -> bool:
    return bool(getattr(view, ATTR_STEP_UP, False))


@bp.app_context_processor
def _templates():
    def step_up_notice() -> bool:
        """Should a page hosting a protected form ask for the password first?"""
        return bool(current_user.is_authenticated and current_user.role_enum in MERCHANT_ROLES
                    and not has_recent_password())

    def step_up_minutes() -> int:
        return max(1, int(current_app.config["STEP_UP_MAX_AGE"].total_seconds() // 60))

    return {"step_up_notice": step_up_notice, "step_up_minutes": step_up_minutes}


# -- the "confirm your password" page --------------------------------------------------------------

def _flood_limit() -> str:
    return current_app.config["LOGIN_REQUEST_LIMIT"]


@bp.route("/account/confirm-password", methods=["GET", "POST"])
@requires("account.reauth")
@limiter.limit(_flood_limit, methods=["POST"], scope="signin-flood")
def confirm() -> ResponseReturnValue:
    """Enter the password again (and, with two-factor on, a current code); then back to `next` (a local
    path only), else home."""
    form = StepUpForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    two_factor = current_user.two_factor_enabled
    valid = form.validate_on_submit()
    if valid and two_factor and not (form.code.data or "").strip() and not (form.recovery_code.data or "").strip():
        form.code.errors = [_(two_factor_rules.MESSAGES[Outcome.MISSING])]  # asked before anything is checked
    elif valid:
        cfg, now = current_app.config, clock.now()
        try:  # the same budgets as the sign-in form, reserved before the password check
            attempt = signin_throttle.reserve(
                db.session, cfg, kind="merchant", login=current_user.login, address=request.remote_addr,
                device_cookie=request.cookies.get(signin_throttle.cookie_name(cfg)), now=now)
        except signin_throttle.Throttled as refused:
            form.password.errors = [signin_wait_text(refused.retry_after)]
            return (render_template("auth/confirm_password.html", form=_without_codes(form), two_factor=two_factor),
                    429, {"Retry-After": str(refused.retry_after)})
        confirmed = svc.confirm_password(db.session, current_user, form.password.data, now, ip=request.remote_addr,
                                         code=form.code.data, recovery_code=form.recovery_code.data)
        if confirmed:
            cookie = attempt.succeeded(cfg, now)  # reservations back; this browser is a known one

            @after_this_request
            def _device_cookie(response):
                response.set_cookie(**cookie)
                return response

            password_entered(now)
            return redirect(safe_next(form.next.data) or url_for("core.index"), code=303)
        if not confirmed.password_ok:
            form.password.errors = [_("That is not your password. Enter the password you sign in with.")]
        elif confirmed.second is not None:
            getattr(form, confirmed.second.field).errors = [_(two_factor_rules.MESSAGES[confirmed.second.outcome])]
    status = 422 if form.is_submitted() else 200
    return render_template("auth/confirm_password.html", form=_without_codes(form), two_factor=two_factor), status


def _without_codes(form: StepUpForm) -> StepUpForm:
    """A code is never shown back (nor the password: a PasswordField never renders its value)."""
    form.code.data = form.recovery_code.data = ""
    return form
