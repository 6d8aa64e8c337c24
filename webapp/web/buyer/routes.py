"""Buyer pages: only the signed-in buyer's own orders (R18)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from ... import clock
from ...domain import refund_rules
from ...domain.states import PAYOUT_FINAL, CaseStatus
from ...extensions import db
from ...models import AfterSalesCase
from ...services import queries, refunds
from ..access import background, requires
from ..htmx import live, page_or_fragment, unchanged
from ..messages import apply_refusal_text
from .forms import RefundForm

bp = Blueprint("buyer", __name__, url_prefix="/my")


@bp.route("/orders")
@requires("buyer.orders.view")
def orders():
    page = queries.buyer_orders(db.session, 
        current_user.id, cursor=request.args.get("cursor"), limit=current_app.config["ORDERS_PAGE_SIZE"]
    )
    return page_or_fragment("buyer/orders.html", "results", page=page,
                            shop_names=queries.shop_names(db.session, {o.shop_id for o in page.rows}))


@bp.route("/orders/<order_no>")
@requires("buyer.orders.view")
def order_detail(order_no: str):
    order = _own_order(order_no)
    return render_template("buyer/order_detail.html", order=order, payouts=_payouts(order),
                           shop_name=queries.shop(db.session, order.shop_id).name, **_refund_offer(order))


def _payouts(order):
    return queries.order_payouts(db.session, order.id, buyer_id=current_user.id)


def _refund_offer(order) -> dict:
    """R12/R23: every buyer can ask for a refund; the page says whether it is a fast refund or
    goes to the shop's review, and why. The service decides again on submit."""
    offer = refunds.buyer_offer(db.session, order, clock.now())
    return {"offer": offer.offer.value, "offer_why": offer.why.value if offer.why else None,
            "offer_refusal": apply_refusal_text(offer.refusal, {}) if offer.refusal else None,
            "can_apply": offer.can_apply, "window_closes": refund_rules.window_closes_at(order.paid_at),
            "latest_case": queries.latest_buyer_case(db.session, current_user.id, order.id),
            "refundable_fen": refunds.order_refundable_fen(order)}


def _own_order(order_no: str):
    """The signed-in buyer's order; anyone else's is not found (404 through web/errors.py, R18)."""
    return queries.get_buyer_order(db.session, current_user.id, order_no)


@bp.route("/orders/<order_no>/refund", methods=["GET", "POST"])
@requires("buyer.refunds")
def apply_refund(order_no: str):
    """Apply for a refund (R12): refund only, or return and refund with the goods' condition."""
    order = _own_order(order_no)
    form = RefundForm()
    errors: list[str] = []
    if form.validate_on_submit():
        intact = {"yes": True, "no": False}.get(form.goods_intact.data)
        try:
            applied = refunds.apply(db.session, current_user, order.order_no, kind=form.kind.data, goods_intact=intact,
                                    now=clock.now(), ip=request.remote_addr)
        except refunds.ApplicationRefused as exc:
            errors = [apply_refusal_text(r, exc.params) for r in exc.refusals]
        else:
            return redirect(url_for("buyer.refund", case_id=applied.case.id), code=303)
    elif form.is_submitted():
        errors = [e for field in form for e in field.errors]
    settings = refunds.settings_of(db.session, order.shop_id)
    status = 422 if form.is_submitted() else 200
    return render_template("buyer/refund_new.html", order=order, form=form, errors=errors, settings=settings,
                           **_refund_offer(order)), status


def _own_case(case_id: int) -> AfterSalesCase:
    return queries.get_buyer_case(db.session, current_user.id, case_id)


def _refund_context(case: AfterSalesCase) -> dict:
    return {"case": case, "order": case.order, "events": refunds.timeline(db.session, case.id),
            "settings": refunds.settings_of(db.session, case.shop_id), "payouts": _payouts(case.order)}


@bp.route("/refunds/<id:case_id>")
@requires("buyer.refunds")
def refund(case_id: int):
    """R15: the application's status and history, the shop's refund note, payouts received."""
    return render_template("buyer/refund.html", **_refund_context(_own_case(case_id)))


@bp.route("/refunds/<id:case_id>/status")
@background
@requires("buyer.refunds")
def refund_status(case_id: int):
    """The live part of the status page; stops polling (286) once the case is final."""
    case = _own_case(case_id)
    return live(render_template("buyer/_refund_status.html", **_refund_context(case)),
                case.status != CaseStatus.AWAITING_MERCHANT)


@bp.route("/payouts/<id:payout_id>/status")
@background
@requires("buyer.orders.view")
def payout_status(payout_id: int):
    """R9: whether a payout has arrived, live; polls until final (286)."""
    seen = request.args.get("v")
    if seen:  # the version the row shows: one narrow read answers "unchanged" (204)
        same = unchanged(seen, queries.payout_version(db.session, payout_id, buyer_id=current_user.id))
        if same is not None:
            return same
    payout = queries.get_buyer_payout(db.session, current_user.id, payout_id)
    return live(render_template("buyer/_payout.html", p=payout), payout.status in PAYOUT_FINAL)
