"""The code step at sign-in, and the forms that turn two-step sign-in on and off."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"})
    remember = BooleanField(_l("Remember this device for 30 days"))


class EnableForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class DisableForm(FlaskForm):
    proof = PasswordField(_l("Your password, or a code from your app"), validators=[DataRequired(), Length(max=200)])
