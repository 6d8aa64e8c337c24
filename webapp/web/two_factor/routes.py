"""Two-step verification (两步验证) of a merchant's own account (issue 12 point 3; rules in
domain/two_factor.py, storage in services/two_factor.py): set it up, see it, get new recovery
codes, turn it off. The sign-in's code step is web/auth; the code at the step-up is web/step_up.py;
what the main account decides for its sub-accounts is on the staff page (web/staff).

Setting up: the page shows a new secret as a QR code (segno, an inline SVG: no request anywhere)
and in groups of four for typing, with the otpauth URI naming the issuer "AfterDesk" and the
account's login. The secret lives in the server-side session until a current code of it is typed
(the database only ever holds a confirmed one); then two-factor is on and the 10 recovery codes are
shown, once, in that response (nothing keeps them in clear: the database has their hashes, and
reloading cannot show them again). Every change needs the password within the last 5 minutes
(`@recent_password`, the step-up), and turning it off also a current code (or a recovery code), whose
wrong guesses spend the sign-in budgets. A sub-account of a shop that requires it cannot turn it off.

`gate` (a before_request of the app, after the access guard) keeps a sub-account that must set it up
on this page: any other page redirects here (htmx: HX-Redirect), sign-out and the language switch
excepted. It reads only the signed-in account and its shop, both loaded with the session: no query.
"""
from __future__ import annotations

import binascii

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ... import clock
from ...domain import two_factor as rules
from ...domain.permissions import Role
from ...domain.two_factor import Outcome
from ...extensions import db, limiter
from ...services import signin_throttle
from ...services import two_factor as svc
from ..access import declared, is_background, requires
from ..htmx import fragment, htmx_request
from ..messages import signin_wait_text
from ..step_up import recent_password
from .forms import CodeForm

bp = Blueprint("two_factor", __name__)

SETUP_SECRET = "two_factor_setup"  # the session key of the secret being set up
# Reachable while a sub-account must still set two-factor up, besides this blueprint and the public
# endpoints (sign-out and the language switch among them): the step-up its changes may ask for.
OPEN_WHILE_SETTING_UP = frozenset({"step_up.confirm"})

TEMPLATE_ON = "account/two_factor.html"
TEMPLATE_SETUP = "account/two_factor_setup.html"
TEMPLATE_CODES = "account/two_factor_codes.html"

def _message(code: str) -> str:
    return {
        "already_on": _("Two-step verification is already on."),
        "not_on": _("Two-step verification is not on for this account."),
        "required_by_shop": _("Your shop requires two-step verification for sub-accounts, so it cannot be turned "
                              "off. If you lost your phone, ask the main account to reset it."),
    }[code]


# -- who must set it up --------------------------------------------------------------------------

def setup_required() -> bool:
    """Must the signed-in account set two-factor up before anything else? (No query: the account and
    its shop were loaded with the session.)"""
    user = current_user
    if not user.is_authenticated or user.role_enum == Role.BUYER:
        return False
    return rules.must_set_up(user.role, user.shop.staff_two_factor_required, user.two_factor_enabled)


def gate() -> ResponseReturnValue | None:
    """before_request: a sub-account that must set two-factor up reaches only its set-up page."""
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static" or endpoint.startswith(f"{bp.name}.") or endpoint in OPEN_WHILE_SETTING_UP:
        return None
    if declared(current_app.view_functions.get(endpoint)) == "public" or not setup_required():
        return None
    target = url_for("two_factor.settings")
    if htmx_request():
        if is_background(endpoint):
            return fragment("", 204)  # a poll of the page (the bell): nothing to show, no page to reload
        return fragment("", 204, redirect=target)
    return redirect(target, code=303)


@bp.app_context_processor
def _templates() -> dict:
    return {"two_factor_setup_required": setup_required}


# -- the pages -------------------------------------------------------------------------------------

def _setup_secret(create: bool) -> str | None:
    """The secret being set up, kept in this (server-side) session until it is confirmed."""
    secret = session.get(SETUP_SECRET)
    if isinstance(secret, str):
        try:
            rules.code_at(secret, 0)
            return secret
        except (binascii.Error, ValueError):
            pass
    if not create:
        return None
    secret = svc.new_secret()
    session[SETUP_SECRET] = secret
    return secret


def _qr_svg(uri: str) -> Markup:
    """The otpauth URI as a QR code, an inline SVG drawn here (the CSP allows no other origin, and
    none is needed). segno writes only the modules and its title, which it escapes."""
    qr = segno.make(uri, error="m")
    return Markup(qr.svg_inline(scale=4, border=4, light="#fff", svgclass="qr", omitsize=True,  # a viewBox: CSS sizes it
                                title=_("QR code for your authenticator app")))


def _cleared(form: CodeForm) -> CodeForm:
    """A refused form is shown again without the codes typed (a code is never shown back)."""
    form.code.data = ""
    form.recovery_code.data = ""
    return form


def _setup_page(form: CodeForm, status: int = 200) -> ResponseReturnValue:
    secret = _setup_secret(create=True)
    assert secret is not None
    uri = rules.provisioning_uri(secret, current_user.login)
    required = rules.must_use_two_factor(current_user.role, current_user.shop.staff_two_factor_required)
    return render_template(TEMPLATE_SETUP, form=_cleared(form), qr=_qr_svg(uri), secret=rules.grouped(secret),
                           issuer=rules.ISSUER, required=required), status


def _on_page(form: CodeForm, status: int = 200, headers: dict | None = None) -> ResponseReturnValue:
    left = svc.recovery_codes_left(db.session, current_user.id)
    may_turn_off = not rules.must_use_two_factor(current_user.role, current_user.shop.staff_two_factor_required)
    return render_template(TEMPLATE_ON, form=_cleared(form), left=left, low=left <= rules.RECOVERY_CODES_LOW,
                           may_turn_off=may_turn_off, recovery_open=bool(form.recovery_code.errors)), status, headers or {}


def _codes_page(codes: list[str], first: bool) -> ResponseReturnValue:
    """The recovery codes, this once (the response is never stored: Cache-Control no-store)."""
    return render_template(TEMPLATE_CODES, codes=codes, first=first)


def _back(notice: str, category: str = "info") -> ResponseReturnValue:
    flash(notice, category)
    return redirect(url_for("two_factor.settings"), code=303)


@bp.route("/account/two-factor")
@requires("account.two_factor")
def settings() -> ResponseReturnValue:
    """Two-factor is on: its state and what can be done. Off: the set-up (a new secret, kept until confirmed)."""
    if current_user.two_factor_enabled:
        return _on_page(CodeForm(formdata=None))
    return _setup_page(CodeForm(formdata=None))


@bp.route("/account/two-factor/enable", methods=["POST"])
@requires("account.two_factor")
@recent_password
def enable() -> ResponseReturnValue:
    """The code typed is a current code of the secret shown: two-factor is on; the recovery codes, once."""
    if current_user.two_factor_enabled:
        return _back(_message("already_on"))
    secret = _setup_secret(create=False)
    if secret is None:  # a new session since the page was shown (signed in again): a new secret to scan
        return _back(_("The set-up started again with a new key: scan the new QR code, then enter its code."))
    form = CodeForm()
    if not form.validate_on_submit():
        return _setup_page(form, 422)
    try:
        codes = svc.enable(db.session, current_user, secret, form.code.data, clock.now(), ip=request.remote_addr)
    except svc.CodeRefused as refused:
        form.code.errors = [_(rules.MESSAGES[refused.outcome])]
        return _setup_page(form, 422)
    except svc.TwoFactorError as exc:
        return _back(_message(exc.code))
    session.pop(SETUP_SECRET, None)
    return _codes_page(codes, first=True)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@requires("account.two_factor")
@recent_password
def regenerate() -> ResponseReturnValue:
    """New recovery codes replace every old one; shown this once."""
    try:
        codes = svc.regenerate_recovery_codes(db.session, current_user, clock.now(), ip=request.remote_addr)
    except svc.TwoFactorError as exc:
        return _back(_message(exc.code))
    return _codes_page(codes, first=False)


def _flood_limit() -> str:
    return current_app.config["LOGIN_REQUEST_LIMIT"]


@bp.route("/account/two-factor/disable", methods=["POST"])
@requires("account.two_factor")
@recent_password
@limiter.limit(_flood_limit, methods=["POST"], scope="signin-flood")
def disable() -> ResponseReturnValue:
    """Off, with a current code or a recovery code. Wrong codes spend the sign-in budgets (reserved
    before the check, as at sign-in), so a session with a recent password cannot guess its way through."""
    if not current_user.two_factor_enabled:
        return _back(_message("not_on"))
    form = CodeForm()
    if not form.validate_on_submit():
        return _on_page(form, 422)
    if not (form.code.data or "").strip() and not (form.recovery_code.data or "").strip():
        form.code.errors = [_(rules.MESSAGES[Outcome.MISSING])]
        return _on_page(form, 422)
    cfg, now = current_app.config, clock.now()
    try:
        attempt = signin_throttle.reserve(
            db.session, cfg, kind="merchant", login=current_user.login, address=request.remote_addr,
            device_cookie=request.cookies.get(signin_throttle.cookie_name(cfg)), now=now)
    except signin_throttle.Throttled as refused:
        form.code.errors = [signin_wait_text(refused.retry_after)]
        return _on_page(form, 429, {"Retry-After": str(refused.retry_after)})
    try:
        verified = svc.disable(db.session, current_user, form.code.data, form.recovery_code.data, now,
                               ip=request.remote_addr)
    except svc.TwoFactorError as exc:
        attempt.release()
        if exc.code == "required_by_shop":
            form.code.errors = [_message(exc.code)]
            return _on_page(form, 422)
        return _back(_message(exc.code))
    if not verified.accepted:
        getattr(form, verified.field).errors = [_(rules.MESSAGES[verified.outcome])]
        return _on_page(form, 422)
    attempt.release()  # a right code: the reservation back
    return _back(_("Two-step verification is off. You sign in with your password alone."), "success")
