"""Buyer pages: only the signed-in buyer's own orders (R18)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user

from sqlalchemy import select

from ...domain.states import PAYOUT_FINAL
from ...extensions import db
from ...models import Payout
from ...services import queries
from ..access import requires
from ..htmx import is_htmx, page_or_fragment

bp = Blueprint("buyer", __name__, url_prefix="/my")


@bp.route("/orders")
@requires("buyer.orders.view")
def orders():
    page = queries.buyer_orders(
        current_user.id, cursor=request.args.get("cursor"), limit=current_app.config["ORDERS_PAGE_SIZE"]
    )
    return page_or_fragment("buyer/orders.html", "results", page=page)


@bp.route("/orders/<order_no>")
@requires("buyer.orders.view")
def order_detail(order_no: str):
    order = queries.buyer_order(current_user.id, order_no)
    if order is None:
        abort(404)
    payouts = db.session.scalars(
        select(Payout).where(Payout.order_id == order.id, Payout.buyer_id == current_user.id)
        .order_by(Payout.created_at.desc(), Payout.id.desc())
    ).all()
    return render_template("buyer/order_detail.html", order=order, payouts=payouts)


@bp.route("/payouts/<int:payout_id>/status")
@requires("buyer.orders.view")
def payout_status(payout_id: int):
    """R9: whether a payout has arrived, live; polls until final (286)."""
    payout = db.session.scalar(select(Payout).where(Payout.id == payout_id, Payout.buyer_id == current_user.id))
    if payout is None:
        abort(404)
    final = payout.status in PAYOUT_FINAL
    return render_template("buyer/_payout.html", p=payout), (286 if final and is_htmx() else 200)
