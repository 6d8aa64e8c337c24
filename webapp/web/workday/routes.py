"""工作台, the merchant's home: what needs this account now (services/workday.py), each figure a
link to the list it counts. One live block: it refreshes on the events the page's own actions send
(HX-Trigger: payout-settled, approvals-changed, messages-changed) and polls once a minute for what
others did, answered with an empty 204 while nothing changed (the version it shows, `?v=`)."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import current_user
from jinja2_fragments.flask import render_block

from ... import clock
from ...domain.calendar import shop_day
from ...extensions import db
from ...services import workday
from ..access import background, requires
from ..htmx import is_htmx

bp = Blueprint("workday", __name__)

TEMPLATE = "workday/home.html"


@bp.route("/home")
@requires("orders.view")
def home():
    now = clock.now()
    return render_template(TEMPLATE, w=workday.needs_me(db.session, current_user, now), today=shop_day(now))


@bp.route("/home/live")
@background
@requires("orders.view")
def live():
    now = clock.now()
    w = workday.needs_me(db.session, current_user, now)
    if is_htmx() and request.args.get("v") == w.version:
        return Response(status=204)
    return render_block(TEMPLATE, "live", w=w, today=shop_day(now))
