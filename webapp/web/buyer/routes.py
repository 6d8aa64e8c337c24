"""Buyer pages: only the signed-in buyer's own orders (R18)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user

from ...services import queries
from ..access import requires
from ..htmx import page_or_fragment

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
    return render_template("buyer/order_detail.html", order=order)
