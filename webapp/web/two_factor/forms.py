from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

CODE_MAX = 64  # far above a code or a recovery code written any way; longer is refused, never checked


class CodeForm(FlaskForm):
    """A code from the authenticator app, or (where offered) one of the recovery codes instead. Both
    are optional here: which one is needed, and what is wrong with it, is the view's to say."""

    code = StringField(_l("Verification code"), validators=[Length(max=CODE_MAX, message=_l("The code has 6 digits."))])
    recovery_code = StringField(_l("Recovery code"), validators=[
        Length(max=CODE_MAX, message=_l("A recovery code has 16 letters and digits."))])
