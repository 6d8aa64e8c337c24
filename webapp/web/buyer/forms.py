from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice
from wtforms.validators import InputRequired


class RefundForm(FlaskForm):
    kind = RadioField(_l("What do you want?"), choices=[
        SelectChoice("refund_only", _l("Refund only (仅退款)")),
        SelectChoice("return_and_refund", _l("Return and refund (退货退款)"))],
        validators=[InputRequired(_l("Choose refund only or return and refund."))], default="refund_only")
    goods_intact = RadioField(_l("Are the goods intact?"), choices=[
        SelectChoice("yes", _l("Yes, intact and unused")), SelectChoice("no", _l("No, damaged or used"))],
        validate_choice=False)
