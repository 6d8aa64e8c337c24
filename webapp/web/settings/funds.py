"""The funds account page (货款账户): balances and arrears (欠款), the top-up (main account), and the
movements with their signed change to the available balance and the running balance, filtered by
kind and shop-local days, paged by keyset, exported as CSV or XLSX."""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Regexp, ValidationError

from ... import clock
from ...domain import money
from ...domain.funds_rules import TOPUP_MAX_FEN, TOPUP_MESSAGES, TOPUP_MIN_FEN
from ...domain.permissions import can
from ...extensions import db
from ...models import Movement
from ...models.funds import TopupStatus, available_delta
from ...services import funds as svc
from ...services import ledger
from ..access import current_shop_id, requires
from ..exports import Column, Kind, csv_response, local_stamp, xlsx_response
from ..htmx import page_or_fragment
from ..messages import MOVEMENT_LABELS, memo_text, topup_failure_text
from ..params import date_arg
from .routes import bp


class TopupForm(FlaskForm):
    """How much to top up, in yuan (parsed here, at the edge), and the form's one-time key."""

    amount = StringField(_l("Amount to top up (yuan)"))
    # One per form, made by the server (uuid4 hex): a double submit finds the same top-up.
    request_key = HiddenField(validators=[Regexp(r"^[0-9a-f]{32}$", message=_l(
        "This form has expired. Check the amount and top up again."))])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fen: int | None = None

    def validate_amount(self, field):
        try:
            self.fen = money.parse_yuan(field.data)
        except money.MoneyError as exc:
            raise ValidationError(_(exc.message)) from None


def _filter() -> ledger.MovementFilter:
    kind = request.args.get("kind", "")
    return ledger.MovementFilter(kind=kind if kind in MOVEMENT_LABELS else "", date_from=date_arg("from"),
                                 date_to=date_arg("to"))


def _fresh_form() -> TopupForm:
    form = TopupForm(formdata=None)
    form.request_key.data = uuid.uuid4().hex
    return form


def _page(form: TopupForm | None = None, status: int = 200) -> ResponseReturnValue:
    shop_id = current_shop_id()
    f = _filter()
    may_topup = can(current_user.role_enum, "funds.topup")
    ctx = {
        "account": ledger.funds_of(db.session, shop_id),
        "page": ledger.movements(db.session, shop_id, f, request.args.get("cursor"), current_app.config["ORDERS_PAGE_SIZE"]),
        "f": f, "kinds": list(Movement),
        "pending": svc.pending_topups(db.session, shop_id),
        "form": (form or _fresh_form()) if may_topup else None,
        "topup_min": TOPUP_MIN_FEN, "topup_max": TOPUP_MAX_FEN,
    }
    return page_or_fragment("funds/index.html", "results", **ctx), status


@bp.route("/funds")
@requires("funds.view")
def funds():
    """The funds account (货款账户): balances, arrears (欠款), the top-up and the movements."""
    return _page()


@bp.route("/funds/topup", methods=["POST"])
@requires("funds.topup")
def funds_topup() -> ResponseReturnValue:
    """A simulated recharge through the payment channel (services/funds.py), once per form. A
    refused form comes back with what was typed and the reason beside the field."""
    form = TopupForm()
    if not form.validate_on_submit() or form.fen is None:
        if form.request_key.errors:  # a mangled key: a fresh one, nothing was asked of the channel
            form.request_key.data = uuid.uuid4().hex
            form.amount.errors = list(form.amount.errors) + list(form.request_key.errors)
        return _page(form, 422)
    cfg = current_app.config
    try:
        result = svc.request_topup(
            db.session, current_user, form.fen, form.request_key.data, clock.now(),
            channel=current_app.extensions["afterdesk.channel"],
            ttl=timedelta(seconds=float(cfg["CHANNEL_REQUEST_TTL_SECONDS"])),
            skew=timedelta(seconds=float(cfg["CHANNEL_CLOCK_SKEW_SECONDS"])), ip=request.remote_addr)
    except svc.TopupRefused as exc:
        form.amount.errors = [_(TOPUP_MESSAGES[exc.code], min=money.format_fen(TOPUP_MIN_FEN),
                                max=money.format_fen(TOPUP_MAX_FEN))]
        return _page(form, 422)
    except svc.TopupKeyConflict:
        form.request_key.data = uuid.uuid4().hex
        form.amount.errors = [_("This form was already used for a top-up of another amount. Check the amount and "
                                "top up again.")]
        return _page(form, 409)
    amount = money.format_fen(result.amount_fen)
    if result.status == TopupStatus.SUCCEEDED:
        text = _("Topped up %(amount)s.", amount=amount)
        if result.recovered_fen:
            text += " " + _("%(recovered)s of it paid back the arrears first.", recovered=money.format_fen(result.recovered_fen))
        if result.available_fen is not None:
            text += " " + _("Available now: %(available)s.", available=money.format_fen(result.available_fen))
        flash(text, "success")
        return redirect(url_for("settings.funds"), code=303)
    if result.status == TopupStatus.FAILED:
        form = _fresh_form()  # this form's top-up is settled: another try is a new top-up
        form.amount.data = money.fen_to_input(result.amount_fen)
        form.amount.errors = [topup_failure_text(result.failure_reason)]
        return _page(form, 422)
    if result.in_doubt:  # the channel may have it: never ask twice; the worker settles it
        flash(_("The payment channel has not confirmed the top-up of %(amount)s yet. It is credited as soon as "
                "it does; do not top up again.", amount=amount), "info")
        return redirect(url_for("settings.funds"), code=303)
    # The channel could not be reached and nothing reached it: the same form (same key) may be sent again.
    form.amount.errors = [_("The payment channel could not be reached. Nothing was taken; top up again in a moment.")]
    return _page(form, 422)


# --- exports ---------------------------------------------------------------------------------

def _export(fmt: str):
    shop_id, f = current_shop_id(), _filter()
    columns = [
        Column(_("Time"), Kind.TIME, 20), Column(_("Movement"), Kind.LABEL, 18),
        Column(_("Change to available (yuan)"), Kind.MONEY, 16), Column(_("Available after (yuan)"), Kind.MONEY, 16),
        Column(_("Amount moved (yuan)"), Kind.MONEY, 14), Column(_("Order number"), Kind.ORDER_NO, 22),
        Column(_("Payout"), Kind.NUMBER, 9), Column(_("After-sales case"), Kind.NUMBER, 9),
        Column(_("Memo"), Kind.LABEL, 30), Column(_("By"), Kind.TEXT, 12),
    ]
    labels = {m: _(MOVEMENT_LABELS[m]) for m in MOVEMENT_LABELS}

    def rows():
        for e in ledger.export_movements(db.session, shop_id, f):
            yield (e.created_at, labels.get(e.movement, e.movement), available_delta(e.movement, e.amount_fen),
                   e.available_after_fen, e.amount_fen, e.order_no, e.payout_id, e.case_id, memo_text(e.memo),
                   e.actor_name)

    name = f"funds-movements-{local_stamp(clock.now())}"
    if fmt == "xlsx":
        return xlsx_response(columns, rows(), name, _("Funds movements"), more_rows_note=lambda n: _(
            "Only the first %(n)s rows fit in one sheet. Export CSV for all of them.", n=n))
    return csv_response(columns, rows(), name)


@bp.route("/funds/export.csv")
@requires("funds.view")
def funds_export_csv():
    """The filtered movements as CSV."""
    return _export("csv")


@bp.route("/funds/export.xlsx")
@requires("funds.view")
def funds_export_xlsx():
    """The filtered movements as an Excel workbook."""
    return _export("xlsx")


@bp.app_template_filter("signed_fen")
def signed_fen(fen: int) -> str:
    """A change to a balance: "+¥12.50", "−¥12.50" (a real minus sign), "¥0.00" for none."""
    if fen > 0:
        return "+" + money.format_fen(fen)
    if fen < 0:
        return "\u2212" + money.format_fen(-fen)
    return money.format_fen(0)


bp.add_app_template_global(available_delta, "available_delta")
bp.add_app_template_global(memo_text, "memo_text")
