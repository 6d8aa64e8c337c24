"""Sign-in for merchants (main/staff) and buyers on separate pages; sign-out; language."""
from __future__ import annotations

import secrets

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ... import clock
from ...domain.permissions import Role
from ...extensions import db, limiter
from ...services.auth import authenticate
from ..access import public, safe_next
from .forms import LanguageForm, LoginForm

bp = Blueprint("auth", __name__)


def _failed(response) -> bool:
    """Only failed sign-ins count against the throttle (a success redirects with 303)."""
    return response.status_code != 303


def _login_name_key() -> str:
    return "login-name:" + (request.form.get("login") or "").strip().lower()


def _login_limits(view):
    limit = lambda: current_app.config["LOGIN_FAILURE_LIMIT"]  # noqa: E731
    view = limiter.limit(limit, methods=["POST"], deduct_when=_failed, scope="login-ip")(view)
    view = limiter.limit(limit, key_func=_login_name_key, methods=["POST"], deduct_when=_failed, scope="login-name")(view)
    return view


def _home_for(account) -> str:
    return url_for("buyer.orders") if account.role_enum == Role.BUYER else url_for("merchant.orders")


def _sign_in(kind: str, template: str):
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        account = authenticate(db.session, kind, form.login.data, form.password.data, clock.now())
        if account is not None:
            # A new session at sign-in: nothing from before survives (no fixation).
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(account)
            started = clock.now().timestamp()
            session["sid"] = secrets.token_urlsafe(16)
            session["iat"] = started
            session["seen"] = started
            session.permanent = True
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
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.buyer_login" if was_buyer else "auth.merchant_login"), code=303)


@bp.route("/lang", methods=["POST"])
@public
def set_language():
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in current_app.config["LANGUAGES"]:
        session["lang"] = form.lang.data
    return redirect(safe_next(form.next.data) or url_for("core.index"), code=303)
