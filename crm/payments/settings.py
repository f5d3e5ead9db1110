"""The tenant's own Stripe account (Settings > Payments): a restricted API key and the webhook signing secret,
stored as AES-GCM tokens bound to the tenant and the field (as the SMS credentials are, crm/notify/channel_settings.py),
shown masked, kept when the form leaves them empty.

Settings row "payments": {"secrets": {"api_key": token, "webhook_secret": token}}."""
import re

import stripe
from cryptography.exceptions import InvalidTag
from flask_babel import gettext as _

from crm.audit.service import MASK, record
from crm.crypto import UnknownKey, decrypt, encrypt, mask
from crm.errors import Invalid
from crm.payments.stripe_api import client
from crm.settings import get_setting, put_setting
from tenants.binding import current_tenant

KEY = "payments"
# A restricted key (rk_live_/rk_test_): the CRM needs only the few permissions docs/operations.md lists, and a
# leaked restricted key can do no more than those. Secret keys (sk_) are refused for that reason.
API_KEY = re.compile(r"rk_(live|test)_[A-Za-z0-9]{10,240}")
WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{10,240}")
FIELDS = {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}


class NotSetUp(Exception):
    """The workspace has no Stripe account connected, or its saved key cannot be read."""


def _context(field: str) -> str:
    return f"{current_tenant().schema}:settings.{KEY}.{field}"


def _tokens() -> dict:
    value = get_setting(KEY)
    return (value or {}).get("secrets") or {} if isinstance(value, dict) else {}


def _secret(field: str) -> str | None:
    token = _tokens().get(field)
    if not token:
        return None
    try:
        return decrypt(token, _context(field))
    except (UnknownKey, InvalidTag, ValueError):
        return None


def is_set_up() -> bool:
    """Whether the workspace takes payments: both the key and the webhook secret are saved."""
    tokens = _tokens()
    return bool(tokens.get("api_key") and tokens.get("webhook_secret"))


def api_client() -> stripe.StripeClient:
    """A Stripe client with the workspace's key; NotSetUp without one."""
    key = _secret("api_key")
    if key is None:
        raise NotSetUp()
    return client(key)


def webhook_secret() -> str | None:
    return _secret("webhook_secret")


def masks() -> dict:
    """{field: masked value} for the saved secrets (never the secret itself)."""
    shown = {}
    for field in _tokens():
        value = _secret(field)
        shown[field] = _("saved, but unreadable: enter it again") if value is None else mask(value) or MASK
    return shown


def save(data: dict) -> None:
    """Save the key and the webhook secret; an empty field keeps the saved one; `remove` disconnects Stripe."""
    if data.get("remove"):
        if _tokens():
            record("update", "settings", summary="Payments", changes={"secrets": [MASK, None]})
        put_setting(KEY, None)
        return
    saved, errors, tokens = _tokens(), {}, {}
    for field, pattern in FIELDS.items():
        value = str(data.get(field) or "").strip()
        if value and not pattern.fullmatch(value):
            errors[field] = (_("Enter a restricted key: it starts with rk_live_ or rk_test_.") if field == "api_key"
                             else _("Enter the endpoint's signing secret: it starts with whsec_."))
        elif value:
            tokens[field] = encrypt(value, _context(field))
        elif saved.get(field):
            tokens[field] = saved[field]
        else:
            errors[field] = _("Enter this value.")
    if errors:
        raise Invalid(errors)
    if tokens != saved:
        record("update", "settings", summary="Payments", changes={"secrets": [MASK if saved else None, MASK]})
    put_setting(KEY, {"secrets": tokens})


def test_connection() -> tuple[bool, str]:
    """Ask Stripe with the saved key for what the CRM needs (its Checkout Sessions): (worked, what to tell)."""
    key = _secret("api_key")
    if key is None:
        return False, _("Save a restricted key first.")
    try:
        client(key).v1.checkout.sessions.list(params={"limit": 1})
    except stripe.AuthenticationError:
        return False, _("Stripe refused the key: check that it is whole and not rolled or deleted.")
    except stripe.PermissionError:
        return False, _("The key may not use Checkout Sessions: give it the permissions listed below.")
    except stripe.StripeError as error:
        return False, _("Stripe could not be reached: %(error)s", error=error.user_message or str(error))
    mode = _("test mode") if key.startswith("rk_test_") else _("live mode")
    return True, _("Connected: Stripe accepted the key (%(mode)s).", mode=mode)
