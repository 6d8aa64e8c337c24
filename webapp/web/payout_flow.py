"""The small-payout flow shared by every page that shows it: the order and after-sales pages
(merchant blueprint) and the payout workspace and embed (payouts blueprint): its form and its
context. A neutral module, so no blueprint imports another's views."""
from __future__ import annotations

import uuid

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Regexp, ValidationError

from .. import clock
from ..domain import money, text
from ..domain.payout_rules import NOTE_MAX_CHARS, REASON_LABELS, Refusal
from ..extensions import db
from ..models import Order, Payout
from ..services import payouts as svc
from ..services import queries
from .steps import FlowMode, FlowStep


class PayoutForm(FlaskForm):
    """Amount, reason and note (R3). `fen` holds the parsed amount once validated."""

    amount = StringField(_l("Amount (yuan)"))
    reason = SelectField(_l("Reason"), choices=[])
    note = TextAreaField(_l("Note to the buyer"), validators=[Length(max=NOTE_MAX_CHARS, message=_l("At most %(max)d characters."))])
    # One per form, made by the server (uuid4 hex); a forged or mangled one is refused, never stored.
    request_key = HiddenField(validators=[Regexp(r"^[0-9a-f]{32}$", message=_l("This form has expired. Check the details and confirm again."))])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reason.choices = [SelectChoice(key, _(label)) for key, label in REASON_LABELS.items()]
        self.fen: int | None = None

    def validate_note(self, field):
        if text.unsafe(field.data, multiline=True):  # kept as typed, the error beside it
            raise ValidationError(_(text.message(multiline=True)))

    def validate_amount(self, field):
        try:
            self.fen = money.parse_yuan(field.data)
        except money.MoneyError as exc:
            raise ValidationError(_(exc.message)) from None


def flow_context(order: Order, *, mode: FlowMode = FlowMode.SECTION, form: PayoutForm | None = None,
                 step: FlowStep = FlowStep.AMOUNT,
                 errors: list[str] | None = None, done: Payout | None = None, elig: svc.Eligibility | None = None,
                 refusal: Refusal | None = None) -> dict:
    """What the flow shows for this order now: summary, reasons or the step's form, the result.
    `elig`: already known (a payout just created reports the order as it left it); else read now.
    The order's payout history is read for the order-page section only (the one that lists it).
    `refusal`: what refused the amount typed (shown beside it, with what to do about it)."""
    if elig is None:
        elig = svc.eligibility(db.session, current_user, order.order_no, clock.now())
    if form is None:
        form = PayoutForm(formdata=None)
        form.request_key.data = uuid.uuid4().hex
    return {
        "order": order, "payouts": queries.order_payouts(db.session, order.id) if mode == FlowMode.SECTION else [],
        "elig": elig, "form": form, "step": step,
        "errors": errors or [], "mode": mode, "done": done, "refusal": refusal,
    }
