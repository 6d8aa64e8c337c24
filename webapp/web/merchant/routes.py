"""Merchant pages: orders and after-sales of the signed-in account's shop only (R18)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import clock
from ...domain import search, text
from ...domain.money import format_fen
from ...domain.refund_rules import DECIDE_REFUSAL_MESSAGES
from ...domain.states import CASE_STATUS_LABELS, ORDER_REFUND_FILTERS, ORDER_STATUS_LABELS
from ...extensions import db
from ...services import queries, refunds
from ..access import current_shop_id, requires
from ..htmx import page_or_fragment
from ..payout_flow import flow_context
from ..search_text import describe

bp = Blueprint("merchant", __name__)


@bp.route("/orders")
@requires("orders.view")
def orders():
    query = search.parse(request.args.get("q"))
    status = request.args.get("status", "")
    if status not in ORDER_STATUS_LABELS and status not in ORDER_REFUND_FILTERS:
        status = ""
    page = queries.shop_orders(db.session, current_shop_id(), q=query, status=status, cursor=request.args.get("cursor"),
                               limit=current_app.config["ORDERS_PAGE_SIZE"])
    return page_or_fragment("merchant/orders.html", "results", page=page, q=query.text, searched=describe(query), status=status)


@bp.route("/orders/<order_no>")
@requires("orders.view")
def order_detail(order_no: str):
    order = queries.get_shop_order(db.session, current_shop_id(), order_no)  # NotFound -> 404 (web/errors.py)
    return render_template("merchant/order_detail.html", **flow_context(order))


@bp.route("/after-sales")
@requires("aftersales.view")
def cases():
    status = request.args.get("status", "")
    if status not in CASE_STATUS_LABELS:
        status = ""
    fast = request.args.get("type") == "fast"
    query = search.parse(request.args.get("q"))
    page = queries.shop_cases(db.session, current_shop_id(), status=status, fast=fast, q=query,
                              cursor=request.args.get("cursor"), limit=current_app.config["ORDERS_PAGE_SIZE"])
    return page_or_fragment("merchant/cases.html", "results", page=page, status=status, fast=fast, q=query.text,
                            searched=describe(query))


@bp.route("/after-sales/<id:case_id>")
@requires("aftersales.view")
def case_detail(case_id: int):
    return _case_page(case_id)


def _case_page(case_id: int, errors: list[str] | None = None, reason: str = "", status: int = 200):
    case = queries.get_shop_case(db.session, current_shop_id(), case_id)  # NotFound -> 404 (web/errors.py)
    return render_template("merchant/case_detail.html", case=case, events=refunds.timeline(db.session, case.id),
                           refundable_fen=refunds.case_refund_fen(case),
                           decide_errors=errors or [], reject_reason=reason, **flow_context(case.order)), status


def _refused(case_id: int, exc, reason: str = ""):
    """R22: beyond this sub-account's refund limits: the case stays for the main account, and the
    page says so (the form keeps what was typed)."""
    params = {k: format_fen(v) for k, v in exc.params.items() if v is not None}
    return _case_page(case_id, [_(DECIDE_REFUSAL_MESSAGES[exc.code], **params)], reason, 403)


@bp.route("/after-sales/<id:case_id>/approve", methods=["POST"])
@requires("aftersales.decide")
def approve(case_id: int):
    """Approve a refund awaiting review: refunded through the funds ledger at once."""
    try:
        case = refunds.approve(db.session, current_user, case_id, clock.now(), ip=request.remote_addr)
    except refunds.CaseClosed:
        flash(_("This case was already decided."), "info")
        return redirect(url_for("merchant.case_detail", case_id=case_id), code=303)
    except refunds.ApplicationRefused:
        return _case_page(case_id, [_("This order has already been refunded in full.")], status=422)
    except refunds.DecisionRefused as exc:
        return _refused(case_id, exc)
    assert case.refund_fen is not None  # approved means refunded, with its amount (a CHECK constraint)
    flash(_("Refunded %(amount)s to the buyer.", amount=format_fen(case.refund_fen)), "success")
    return redirect(url_for("merchant.case_detail", case_id=case_id), code=303)


@bp.route("/after-sales/<id:case_id>/reject", methods=["POST"])
@requires("aftersales.decide")
def reject(case_id: int):
    reason = request.form.get("reason", "")
    if text.unsafe(reason):  # a one-line reason: the page again, the reason kept as typed
        return _case_page(case_id, [_(text.message())], reason, 422)
    try:
        refunds.reject(db.session, current_user, case_id, reason, clock.now(), ip=request.remote_addr)
    except refunds.CaseClosed:
        flash(_("This case was already decided."), "info")
        return redirect(url_for("merchant.case_detail", case_id=case_id), code=303)
    except refunds.SettingsRefused:
        return _case_page(case_id, [_("Write the reason the buyer will see (at most 200 characters).")], reason, 422)
    except refunds.DecisionRefused as exc:
        return _refused(case_id, exc, reason)
    flash(_("The application was rejected; the buyer sees your reason."), "success")
    return redirect(url_for("merchant.case_detail", case_id=case_id), code=303)
