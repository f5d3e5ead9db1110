"""The Settings > Payments form: the secrets are never filled in (a saved one shows masked beside its field)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField

STATE_LABELS = {"unpaid": _l("Unpaid"), "partly_paid": _l("Partly paid"), "paid": _l("Paid")}
KIND_LABELS = {"payment": _l("Payment"), "refund": _l("Refund")}
METHOD_LABELS = {"card": _l("Card"), "alipay": _l("Alipay"), "wechat_pay": _l("WeChat Pay")}
SECRET = {"autocomplete": "new-password"}  # never let a browser fill in a sign-in password here


class StripeForm(FlaskForm):
    class Meta:
        csrf = False  # the app-wide CSRF check covers every POST

    api_key = PasswordField(_l("Restricted key"), render_kw=SECRET)
    webhook_secret = PasswordField(_l("Webhook signing secret"), render_kw=SECRET)
    remove = BooleanField(_l("Disconnect Stripe"))
