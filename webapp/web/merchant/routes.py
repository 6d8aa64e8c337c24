"""Merchant pages: orders and after-sales of the signed-in account's shop only (R18)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from ...domain.states import CASE_STATUS_LABELS, ORDER_STATUS_LABELS
from ...services import queries
from ..access import current_shop_id, requires
from ..htmx import page_or_fragment

bp = Blueprint("merchant", __name__)


@bp.route("/orders")
@requires("orders.view")
def orders():
    q = queries.normalize_order_no(request.args.get("q"))
    status = request.args.get("status", "")
    if status not in ORDER_STATUS_LABELS:
        status = ""
    page = queries.shop_orders(
        current_shop_id(), q=q, status=status, cursor=request.args.get("cursor"),
        limit=current_app.config["ORDERS_PAGE_SIZE"],
    )
    return page_or_fragment("merchant/orders.html", "results", page=page, q=q, status=status)


@bp.route("/orders/<order_no>")
@requires("orders.view")
def order_detail(order_no: str):
    order = queries.shop_order(current_shop_id(), order_no)
    if order is None:
        abort(404)
    from ..payouts.routes import flow_context

    return render_template("merchant/order_detail.html", **flow_context(order))


@bp.route("/after-sales")
@requires("aftersales.view")
def cases():
    status = request.args.get("status", "")
    if status not in CASE_STATUS_LABELS:
        status = ""
    page = queries.shop_cases(
        current_shop_id(), status=status, cursor=request.args.get("cursor"),
        limit=current_app.config["ORDERS_PAGE_SIZE"],
    )
    return page_or_fragment("merchant/cases.html", "results", page=page, status=status)


@bp.route("/after-sales/<int:case_id>")
@requires("aftersales.view")
def case_detail(case_id: int):
    case = queries.shop_case(current_shop_id(), case_id)
    if case is None:
        abort(404)
    from ..payouts.routes import flow_context

    return render_template("merchant/case_detail.html", case=case, **flow_context(case.order))
