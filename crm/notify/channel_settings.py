"""Per-tenant messaging settings: the email sender, the SMS provider, the chat bots and quiet hours.

Settings rows: "email" {"sender_name", "reply_to"} (channels.py reads it), "quiet_hours" {"start", "end"} or
null when off (rules.py reads it), "sms" {"provider", its plain fields, "templates", "secrets"} and
"bot_<channel>" {"secrets": {"url", "secret"}}. Secrets (API tokens, bot URLs, which carry the bot's token,
signing secrets) are AES-GCM tokens bound to the tenant and the field, shown masked and kept when a form
leaves them empty."""
import re
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import validation
from crm.audit.service import MASK, record
from crm.crypto import UnknownKey, decrypt, encrypt, mask, needs_rotation
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.members.models import Setting
from crm.notify import rules
from crm.notify.models import BOT_CHANNELS
from crm.notify.rules import DEFAULT_QUIET_HOURS
from crm.notify.transport import ChannelError
from crm.settings import get_setting, put_setting
from tenants.backup import rebinds_restored
from tenants.binding import current_tenant

SMS_PROVIDERS = ("http", "twilio", "aliyun")
SMS_SECRETS = {"http": ("auth_value",), "twilio": ("auth_token",), "aliyun": ("access_key_secret",)}
TEMPLATE_KINDS = ("reminder", "order_status", "campaign", "quiet_customers", "digest", "default")  # Aliyun codes
BOT_SECRETS = {"wecom": ("url",), "dingtalk": ("url", "secret"), "feishu": ("url", "secret"),
               "webhook": ("url", "secret")}

CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,60}")
TWILIO_SID = re.compile(r"AC[0-9a-fA-F]{32}")
TWILIO_SENDER = re.compile(r"\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
ALIYUN_KEY_ID = re.compile(r"[A-Za-z0-9]{8,64}")
ALIYUN_REGION = re.compile(r"[a-z0-9-]{2,40}")
TEMPLATE_CODE = re.compile(r"[A-Za-z0-9_]{1,40}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def bot_key(channel: str) -> str:
    return f"bot_{channel}"


def _context(key: str, field: str) -> str:
    return f"{current_tenant().schema}:settings.{key}.{field}"


def _stored(key: str) -> dict:
    value = get_setting(key)
    return value if isinstance(value, dict) else {}


def _decrypted(key: str, stored: dict) -> dict:
    """The stored settings with their secrets in clear; ChannelError when a secret cannot be read."""
    plain = {name: value for name, value in stored.items() if name != "secrets"}
    for name, token in (stored.get("secrets") or {}).items():
        try:
            plain[name] = decrypt(token, _context(key, name))
        except (UnknownKey, InvalidTag, ValueError) as error:
            raise ChannelError(f"the saved {name} of {key} cannot be decrypted: enter it again") from error
    return plain


# --- reading (the channels) ---------------------------------------------------------------------------------

def sms_config() -> dict | None:
    """The SMS provider settings with secrets in clear; None when no provider is set up."""
    stored = _stored("sms")
    return _decrypted("sms", stored) if stored.get("provider") in SMS_PROVIDERS else None


def bot_config(channel: str) -> dict | None:
    """A chat bot's {"url", "secret"} in clear; None when the bot is not set up."""
    stored = _stored(bot_key(channel))
    if channel not in BOT_CHANNELS or not (stored.get("secrets") or {}).get("url"):
        return None
    return {"secret": "", **_decrypted(bot_key(channel), stored)}


def email_settings() -> dict:
    return {"sender_name": "", "reply_to": "", **_stored("email")}


def quiet_hours() -> dict | None:
    return get_setting("quiet_hours", DEFAULT_QUIET_HOURS)


# --- reading (the settings page: never a secret) ----------------------------------------------------------

def sms_values() -> dict:
    """The SMS form's values: the plain fields and template codes; secrets are left out."""
    stored = _stored("sms")
    values = {name: value for name, value in stored.items() if name not in ("secrets", "templates")}
    values.setdefault("provider", "")
    values.setdefault("auth_header", "Authorization")
    for kind, code in (stored.get("templates") or {}).items():
        values[f"template_{kind}"] = code
    return values


def mask_url(url: str) -> str:
    """`https://host/…abcd`: the service it goes to, not the token in it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…{url[-4:]}" if parts.hostname else mask(url)


def secret_masks() -> dict:
    """{"sms" | channel: {field: masked value}} for the secrets that are saved."""
    keys = {"sms": "sms", **{channel: bot_key(channel) for channel in BOT_CHANNELS}}
    masks = {}
    for section, key in keys.items():
        masks[section] = {}
        for name, token in (_stored(key).get("secrets") or {}).items():
            try:
                value = decrypt(token, _context(key, name))
            except (UnknownKey, InvalidTag, ValueError):
                masks[section][name] = _("saved, but unreadable: enter it again")
                continue
            masks[section][name] = mask_url(value) if name == "url" else (mask(value) or MASK)
    return masks


def bots_set_up() -> dict:
    return {channel: bool((_stored(bot_key(channel)).get("secrets") or {}).get("url")) for channel in BOT_CHANNELS}


# --- validation -------------------------------------------------------------------------------------------

def clean_url(value: str, field: str, errors: dict) -> str:
    """An http(s) URL with a host, or a message at `field`."""
    value = (value or "").strip()
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if not parts or parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value) \
            or CONTROL.search(value) or len(value) > 500:
        errors[field] = _("Enter an http:// or https:// address, e.g. https://api.example.com/sms.")
    return value


def _one_line(data: dict, name: str) -> str:
    return " ".join(str(data.get(name) or "").split())


def _secrets(key: str, names: tuple, data: dict, errors: dict, required: tuple = ()) -> dict:
    """Encrypt the secrets typed in; keep the saved ones left empty; a message where one is needed."""
    saved = _stored(key).get("secrets") or {}
    tokens = {}
    for name in names:
        value = str(data.get(name) or "").strip()
        if value:
            if CONTROL.search(value):
                errors[name] = _("This value cannot be used: remove line breaks and control characters.")
                continue
            if len(value) > 500:
                errors[name] = _("Use at most %(n)d characters.", n=500)
                continue
            tokens[name] = encrypt(value, _context(key, name))
        elif saved.get(name):
            tokens[name] = saved[name]
        elif name in required:
            errors[name] = _("Enter this value.")
    return tokens


def _audit(section: str, before: dict, after: dict) -> None:
    """One audit entry per saved section; secrets appear only as "changed"."""
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        changes[name] = [MASK, MASK] if name == "secrets" else [old, new]
    if changes:
        record("update", "settings", summary=f"Messaging: {section}", changes=changes)


def _put(key: str, value, section: str) -> None:
    _audit(section, _stored(key), value or {})
    put_setting(key, value)


# --- writing ------------------------------------------------------------------------------------------------

def save_email(data: dict) -> dict:
    """The sender name and reply-to address of the workspace's emails."""
    errors = {}
    sender_name = validation.collect(errors, validation.text, _one_line(data, "sender_name"), "sender_name", 80)
    reply_to = validation.collect(errors, validation.normalise_email, data.get("reply_to"), "reply_to")
    if errors:
        raise Invalid(errors)
    value = {"sender_name": sender_name or "", "reply_to": reply_to or ""}
    _put("email", value, "email")
    return value


def save_quiet_hours(data: dict) -> dict | None:
    """Quiet hours for customer messages ({"start", "end"} in the workspace's time zone), or off (None)."""
    if not data.get("enabled"):
        _audit("quiet hours", quiet_hours() or {}, {})
        put_setting("quiet_hours", None)
        rules.recheck_held(utcnow())  # what they held goes out now
        return None
    errors = {}
    start, end = str(data.get("start") or "").strip(), str(data.get("end") or "").strip()
    for name, value in (("start", start), ("end", end)):
        if not CLOCK.fullmatch(value):
            errors[name] = _("Enter a time as HH:MM, e.g. 21:00.")
    if not errors and start == end:
        errors["end"] = _("The quiet hours must end at another time than they start.")
    if errors:
        raise Invalid(errors)
    value = {"start": start, "end": end}
    _audit("quiet hours", quiet_hours() or {}, value)
    put_setting("quiet_hours", value)
    rules.recheck_held(utcnow())  # what they held is due at their new end, or now
    return value


def save_sms(data: dict) -> dict | None:
    """The SMS provider and its credentials; no provider switches SMS off (development: the dev outbox)."""
    provider = str(data.get("provider") or "")
    if not provider:
        _put("sms", None, "SMS")
        return None
    if provider not in SMS_PROVIDERS:
        raise Invalid({"provider": _("Choose a provider from the list.")})
    errors = {}
    value = {"provider": provider}
    if provider == "http":
        value["url"] = clean_url(data.get("url"), "url", errors)
        value["auth_header"] = str(data.get("auth_header") or "").strip() or "Authorization"
        if not HEADER_NAME.fullmatch(value["auth_header"]):
            errors["auth_header"] = _("A header name has only letters, digits and dashes, e.g. Authorization.")
    elif provider == "twilio":
        value["account_sid"] = str(data.get("account_sid") or "").strip()
        if not TWILIO_SID.fullmatch(value["account_sid"]):
            errors["account_sid"] = _("The Account SID starts with AC followed by 32 letters and digits.")
        sender = str(data.get("sender") or "").strip()
        value["sender"] = re.sub(r"[\s().-]", "", sender) if sender.startswith("+") else sender
        if not TWILIO_SENDER.fullmatch(value["sender"]):
            errors["sender"] = _("Enter the sending number as +14155550100, a Messaging Service SID (MG…) "
                                 "or a sender ID of up to 11 letters and digits.")
        value["base_url"] = ""
        if str(data.get("base_url") or "").strip():
            value["base_url"] = clean_url(data.get("base_url"), "base_url", errors).rstrip("/")
    else:
        value["access_key_id"] = str(data.get("access_key_id") or "").strip()
        if not ALIYUN_KEY_ID.fullmatch(value["access_key_id"]):
            errors["access_key_id"] = _("Enter the AccessKey ID (letters and digits).")
        value["sign_name"] = validation.collect(
            errors, validation.text, _one_line(data, "sign_name"), "sign_name", 60,
            required=_("Enter the approved sign name (签名), at most 60 characters.")) or ""
        value["region"] = str(data.get("region") or "").strip()
        if value["region"] and not ALIYUN_REGION.fullmatch(value["region"]):
            errors["region"] = _("A region looks like cn-hangzhou.")
        value["endpoint"] = ""
        if str(data.get("endpoint") or "").strip():
            value["endpoint"] = clean_url(data.get("endpoint"), "endpoint", errors).rstrip("/")
        templates = {}
        for kind in TEMPLATE_KINDS:
            code = str(data.get(f"template_{kind}") or "").strip()
            if code and not TEMPLATE_CODE.fullmatch(code):
                errors[f"template_{kind}"] = _("A template code looks like SMS_123456789.")
            elif code:
                templates[kind] = code
        value["templates"] = templates
    names = SMS_SECRETS[provider]
    value["secrets"] = _secrets("sms", names, data, errors,
                                required=() if provider == "http" else names)
    if errors:
        raise Invalid(errors)
    _put("sms", value, "SMS")
    return value


def save_bot(channel: str, data: dict) -> dict | None:
    """A chat bot's webhook URL and signing secret; `remove` switches the bot off."""
    if channel not in BOT_CHANNELS:
        raise Invalid({"channel": _("Choose a chat bot from the list.")})
    key = bot_key(channel)
    if data.get("remove"):
        _put(key, None, channel)
        return None
    errors = {}
    url = str(data.get("url") or "").strip()
    if url:
        clean_url(url, "url", errors)
    secrets = _secrets(key, BOT_SECRETS[channel], data, errors, required=("url",))
    if errors:
        raise Invalid(errors)
    value = {"secrets": secrets}
    _put(key, value, channel)
    return value


@rebinds_restored
def rebind_secrets(old_schema: str, new_schema: str, in_schema: dict) -> None:
    """A restored copy's channel secrets encrypted again for its own schema (their context names it)."""
    for key, value in db.session.execute(select(Setting.key, Setting.value), execution_options=in_schema).all():
        if not isinstance(value, dict) or not value.get("secrets"):
            continue
        secrets = {name: encrypt(decrypt(token, f"{old_schema}:settings.{key}.{name}"),
                                 f"{new_schema}:settings.{key}.{name}") for name, token in value["secrets"].items()}
        db.session.execute(update(Setting).where(Setting.key == key).values(value={**value, "secrets": secrets}),
                           execution_options=in_schema)


def rotate_secrets() -> int:
    """Every settings row's secrets still under an older FIELD_KEYS key, encrypted again under the newest (`tenants
    rotate-keys`). All of them: the SMS and bot channels here and Settings > Payments keep theirs in the same form,
    `{"secrets": {name: token}}` with the context `<schema>:settings.<key>.<name>`. Returns how many."""
    done = 0
    for setting in db.session.scalars(select(Setting).order_by(Setting.key)):
        value = setting.value
        if not isinstance(value, dict) or not value.get("secrets"):
            continue
        secrets = dict(value["secrets"])
        for name, token in value["secrets"].items():
            if needs_rotation(token):
                secrets[name] = encrypt(decrypt(token, _context(setting.key, name)), _context(setting.key, name))
                done += 1
        if secrets != value["secrets"]:
            setting.value = {**value, "secrets": secrets}
    return done
