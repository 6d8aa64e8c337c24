from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user

from ... import clock, metrics
from ...domain.permissions import Role
from ...extensions import db
from ...services.ops import readiness
from ..access import public

bp = Blueprint("core", __name__)

LOOPBACK = {"127.0.0.1", "::1"}
FORWARDED = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@bp.route("/")
@public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.merchant_login"))
    if current_user.role_enum == Role.BUYER:
        return redirect(url_for("buyer.orders"))
    return redirect(url_for("workday.home"))  # 工作台: what needs the merchant now


@bp.route("/healthz")
@public
def healthz():
    """Liveness: the process answers. Touches nothing else (the database is /readyz's business)."""
    return {"status": "ok"}


@bp.route("/readyz")
@public
def readyz():
    """Readiness: the database answers and a payout worker beat recently; 503 otherwise."""
    report = readiness(db.session, clock.now(), float(current_app.config["READYZ_HEARTBEAT_MAX_AGE_SECONDS"]))
    return report, 200 if report["ready"] else 503


@bp.route("/metrics", endpoint="metrics")
@public
def metrics_text():
    """Prometheus text, for loopback clients (not a request a proxy forwarded) or the bearer of
    METRICS_TOKEN; everyone else gets 404."""
    if not _may_scrape():
        abort(404)
    body, content_type = metrics.render()
    return current_app.response_class(body, content_type=content_type)


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    return request.remote_addr in LOOPBACK and not any(h in request.headers for h in FORWARDED)
