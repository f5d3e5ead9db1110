"""Sign-up, sign-in and password forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from crm.workspace_settings.forms import PlacesForm


class SignupForm(PlacesForm):
    """The company, its first admin, and where it works (language, country, currency, time zone: guessed)."""

    company = StringField(_l("Company name"), validators=[DataRequired(), Length(max=120)])
    slug = StringField(_l("Workspace address"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Work email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(), Length(min=8, max=200, message=_l("Use 8 to 200 characters."))])

    def validate_slug(self, field) -> None:
        """Format, reserved words and availability, shown with the other fields' errors."""
        from crm.accounts.service import slug_message

        field.data = (field.data or "").strip().lower()
        if message := slug_message(field.data):
            raise ValidationError(message)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=8, max=200, message=_l("Use 8 to 200 characters."))])


class ChangePasswordForm(FlaskForm):
    # The autocomplete hints let password managers fill the old one and offer to save the new one.
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=8, max=200, message=_l("Use 8 to 200 characters."))],
        render_kw={"autocomplete": "new-password"})
