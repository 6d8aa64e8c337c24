"""Small payout screens (R1-R6): one flow for an order, used from the order detail."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ... import clock
from ...extensions import db
from ...models import Payout
from ...services import payouts as svc
from ...services import queries
from ..access import current_shop_id, requires
from ..htmx import is_htmx
from ..messages import refusal_text
from .forms import PayoutForm

bp = Blueprint("payouts", __name__)


def _order_or_404(order_no: str):
    order = queries.shop_order(current_shop_id(), order_no)
    if order is None:
        abort(404)
    return order


def _payout_or_404(payout_id: int) -> Payout:
    payout = db.session.scalar(select(Payout).where(Payout.id == payout_id, Payout.shop_id == current_shop_id()))
    if payout is None:
        abort(404)
    return payout


def order_payouts(order_id: int) -> list[Payout]:
    return db.session.scalars(select(Payout).where(Payout.order_id == order_id).order_by(Payout.created_at.desc(), Payout.id.desc())).all()


def section_context(order, form: PayoutForm | None = None, review: bool = False, errors: list[str] | None = None):
    """Everything the order's payout section shows: history, and the start form or the reasons."""
    elig = svc.eligibility(db.session, current_user, order.order_no, clock.now())
    if form is None:
        form = PayoutForm(formdata=None)
        form.request_key.data = uuid.uuid4().hex
    return {
        "order": order, "payouts": order_payouts(order.id), "elig": elig, "form": form, "review": review,
        "errors": errors or [],
    }


def _render_section(order, status: int = 200, **kw):
    ctx = section_context(order, **kw)
    if is_htmx():
        return render_template("payouts/_section.html", **ctx), status
    return render_template("merchant/order_detail.html", **ctx), status


@bp.route("/orders/<order_no>/payouts/review", methods=["POST"])
@requires("payouts.create")
def review(order_no: str):
    """Step 3 (R4): check the amount against every rule, then show what will happen."""
    order = _order_or_404(order_no)
    form = PayoutForm()
    if not form.validate_on_submit():
        return _render_section(order, 422, form=form)
    refusals = svc.check_amount(db.session, current_user, order_no, form.fen, clock.now())
    if refusals:
        form.amount.errors = [refusal_text(refusals[0])]
        return _render_section(order, 422, form=form)
    return _render_section(order, form=form, review=True)


@bp.route("/orders/<order_no>/payouts", methods=["POST"])
@requires("payouts.create")
def create(order_no: str):
    """Confirm (R4): creates the payout once per request key; a replay shows the same payout."""
    order = _order_or_404(order_no)
    form = PayoutForm()
    if not form.validate_on_submit() or not form.request_key.data:
        return _render_section(order, 422, form=form)
    intent = svc.PayoutIntent(order_no, form.fen, form.reason.data, (form.note.data or "").strip(), form.request_key.data)
    try:
        created = svc.create_payout(db.session, current_user, intent, clock.now(), ip=request.remote_addr)
    except svc.PayoutRefused as exc:
        form.amount.errors = [refusal_text(r) for r in exc.refusals[:1]]
        return _render_section(order, 422, form=form)
    except svc.RequestKeyConflict:
        form.request_key.data = uuid.uuid4().hex
        return _render_section(order, 409, form=form, errors=[_("This form was already used for a different payout. Check the details and confirm again.")])
    if is_htmx():
        return _render_section(order)  # the new row, polling its own status, is the feedback
    if not created.replayed:
        flash(_("Payout of %(amount)s started.", amount=_fmt(created.payout.amount_fen)), "success")
    return redirect(url_for("merchant.order_detail", order_no=order_no, _anchor="payouts"), code=303)


@bp.route("/payouts/<int:payout_id>/status")
@requires("payouts.view")
def status(payout_id: int):
    """The live status row: polls itself every 2 s while not final, stops (286) once final."""
    payout = _payout_or_404(payout_id)
    resp = render_template("payouts/_row.html", p=payout)
    return resp, (286 if payout.status in ("succeeded", "failed") and is_htmx() else 200)


@bp.route("/payouts/<int:payout_id>/continue", methods=["POST"])
@requires("payouts.create")
def continue_(payout_id: int):
    """继续打款 (R6): a pending payout goes to the front of the queue; never pays twice."""
    payout = _payout_or_404(payout_id)
    svc.continue_payout(db.session, current_user, payout.id, clock.now(), ip=request.remote_addr)
    payout = _payout_or_404(payout_id)
    if is_htmx():
        return render_template("payouts/_row.html", p=payout)
    flash(_("The payout was sent again. It is never paid twice."), "info")
    order_no = payout.order.order_no
    return redirect(url_for("merchant.order_detail", order_no=order_no, _anchor=f"payout-{payout.id}"), code=303)


def _fmt(fen: int) -> str:
    from ...domain.money import format_fen

    return format_fen(fen)
