from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField


class StaffCreateForm(FlaskForm):
    login = StringField(_l("Login name"))
    display_name = StringField(_l("Display name"))
    password = PasswordField(_l("Initial password"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"))


class QuotaForm(FlaskForm):
    enabled = BooleanField(_l("Payouts allowed"))
    per_payout = StringField(_l("Per-payout limit (yuan)"))
    daily = StringField(_l("Daily limit (yuan)"))
    refund_enabled = BooleanField(_l("May decide refunds"))  # R22
    per_refund = StringField(_l("Per-refund limit (yuan)"))
    refund_daily = StringField(_l("Daily refund limit (yuan)"))
