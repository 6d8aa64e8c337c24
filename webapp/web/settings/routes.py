"""Wallet and settlement (钱包和结算): settlement settings for fast refund (R10, R11) and the payout
controls (R20, R21). The funds account page, its top-up and exports are in funds.py."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ... import clock
from ...domain import N_, money, refund_rules, text
from ...domain.payout_controls import MAX_UNDO_WINDOW_SECONDS, undo_window_ok
from ...extensions import db
from ...services import queries
from ...services import refunds as svc
from ...services import shop_settings as svc_settings
from ..params import parse_count
from ..steps import SettlementStep
from ..access import current_shop_id, requires
from ..step_up import recent_password

bp = Blueprint("settings", __name__)

SETTINGS_MESSAGES = {
    "note_empty": N_("Write the refund note buyers will see."),
    "note_long": N_("The refund note can be at most 500 characters."),
    "note_control": text.CONTROL_MESSAGE_MULTILINE,
    "already_confirmed": N_("Fast refund was already confirmed; the refund note cannot be changed."),
    "not_confirmed": N_("Confirm fast refund with a refund note first."),
    "certification": refund_rules.MISSING_MESSAGES[refund_rules.Missing.CERTIFICATION],
    "setup": refund_rules.MISSING_MESSAGES[refund_rules.Missing.SETUP],
}


def _page(step: SettlementStep = SettlementStep.FILL, note: str = "", errors: list[str] | None = None, status: int = 200,
          fast_refund: bool = False, tick_error: str | None = None):
    shop = queries.shop(db.session, current_shop_id())
    settings = svc.settings_of(db.session, shop.id)
    confirmed_by = queries.shop_account(db.session, shop.id, settings.confirmed_by_id if settings else None)
    return render_template(
        "settings/settlement.html", shop=shop, settings=settings, confirmed_by=confirmed_by,
        missing=svc.missing_preconditions(shop), step=step, note=note, errors=errors or [],
        note_max=refund_rules.NOTE_MAX_CHARS, fast_refund=fast_refund, tick_error=tick_error,
    ), status


def _messages(codes: list[str]) -> list[str]:
    return [_(SETTINGS_MESSAGES[c]) for c in codes]


@bp.route("/settings/settlement")
@requires("settings.manage")
def settlement():
    return _page()


@bp.route("/settings/settlement/review", methods=["POST"])
@requires("settings.manage")
def review():
    """Fill -> review: the note rendered as the buyer will see it, before anything is saved. Turning
    fast refund on is the merchant's choice (R11: it ticks "support fast refund"): unticked, nothing
    goes on, and the page says what ticking it does."""
    note = (request.form.get("note") or "").strip()
    ticked = request.form.get("fast_refund") == "1"
    problems = svc.note_problems(note)
    tick_error = None if ticked else _("Tick “Support fast refund” to turn it on. Without it nothing changes: "
                                       "refund applications wait for your review.")
    if problems or tick_error:
        return _page(SettlementStep.FILL, note, _messages(problems), 422, fast_refund=ticked, tick_error=tick_error)
    return _page(SettlementStep.REVIEW, note, fast_refund=True)


@bp.route("/settings/settlement/confirm", methods=["POST"])
@requires("settings.manage")
@recent_password
def confirm():
    note = request.form.get("note") or ""
    if request.form.get("back"):
        return _page(SettlementStep.FILL, note, fast_refund=request.form.get("fast_refund") == "1")
    try:
        svc.confirm_settings(db.session, current_user, note, clock.now(), ip=request.remote_addr)
    except svc.SettingsRefused as exc:
        return _page(SettlementStep.FILL, note, _messages(exc.codes), 422, fast_refund=True)
    flash(_("Fast refund is on. The refund note is now fixed."), "success")
    return redirect(url_for("settings.settlement"), code=303)


@bp.route("/settings/settlement/enabled", methods=["POST"])
@requires("settings.manage")
@recent_password
def set_enabled():
    enabled = request.form.get("enabled") == "1"
    try:
        svc.set_fast_refund_enabled(db.session, current_user, enabled, clock.now(), ip=request.remote_addr)
    except svc.SettingsRefused as exc:
        return _page(SettlementStep.FILL, "", _messages(exc.codes), 422)
    flash(_("Fast refund is on.") if enabled else _("Fast refund is off. New applications go to your review queue."), "success")
    return redirect(url_for("settings.settlement"), code=303)


# --- payout controls (R20, R21) ---------------------------------------------------------------

def _controls_page(values: dict, errors: dict[str, str] | None = None, status: int = 200):
    return render_template("settings/payouts.html", values=values, errors=errors or {},
                           max_window=MAX_UNDO_WINDOW_SECONDS), status


@bp.route("/settings/payouts", methods=["GET", "POST"])
@requires("settings.manage")
@recent_password
def payout_controls() -> ResponseReturnValue:
    """The undo window (R21) and the approval thresholds (R20). A rejected form keeps what was typed."""
    shop = queries.shop(db.session, current_shop_id())
    if request.method == "GET":
        return _controls_page({
            "undo_window_seconds": str(shop.undo_window_seconds),
            "payout_approval": money.fen_to_input(shop.payout_approval_fen) if shop.payout_approval_fen else "",
            "refund_approval": money.fen_to_input(shop.refund_approval_fen) if shop.refund_approval_fen else "",
        })
    values = {k: (request.form.get(k) or "").strip() for k in ("undo_window_seconds", "payout_approval", "refund_approval")}
    errors: dict[str, str] = {}
    window = parse_count(values["undo_window_seconds"])
    if window is None or not undo_window_ok(window):
        errors["undo_window_seconds"] = _("Enter whole seconds from 0 to %(max)s.", max=MAX_UNDO_WINDOW_SECONDS)
    thresholds: dict[str, int | None] = {}
    for key in ("payout_approval", "refund_approval"):
        try:
            thresholds[key] = money.parse_yuan(values[key]) if values[key] else None
        except money.MoneyError as exc:
            errors[key] = _(exc.message)
    if errors or window is None:
        return _controls_page(values, errors, 422)
    svc_settings.update_payout_controls(
        db.session, current_user, undo_window_seconds=window, payout_approval_fen=thresholds["payout_approval"],
        refund_approval_fen=thresholds["refund_approval"], now=clock.now(), ip=request.remote_addr)
    flash(_("Payout controls saved."), "success")
    return redirect(url_for("settings.payout_controls"), code=303)
