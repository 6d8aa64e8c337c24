from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from ...extensions import db
from ..access import public

bp = Blueprint("core", __name__)


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.merchant_login"))
    if current_user.role_enum == "buyer":
        return redirect(url_for("buyer.orders"))
    return redirect(url_for("merchant.orders"))


@bp.route("/healthz")
@public
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
