from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    login = StringField(_l("Login name"), validators=[DataRequired(_l("Enter your login name.")), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=256)])
    next = HiddenField()


class LanguageForm(FlaskForm):
    lang = HiddenField()
    next = HiddenField()
