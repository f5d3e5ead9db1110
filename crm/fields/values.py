"""One custom value: parsed and checked against its field's type, read from a form, shown to people."""
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from flask_babel import gettext as _

from crm import validation
from crm.errors import Invalid
from crm.fields.models import CustomField
from crm.formatting import exact_number, money
from crm.settings import phone_region


def clean_value(field: CustomField, raw):
    """The stored form of one value (None when empty); Invalid with a message at the field otherwise."""
    name = f"custom_{field.key}"
    if field.type == "multiselect":
        chosen = [v for v in (raw if isinstance(raw, list) else [raw]) if v]
        allowed = {o["key"] for o in field.options}
        if any(v not in allowed for v in chosen):
            raise Invalid({name: _("Choose one of the listed values.")})
        return chosen or None
    if field.type == "checkbox":
        return raw in ("on", "true", "1", True)
    value = (raw or "").strip() if isinstance(raw, str) else raw
    if value in ("", None):
        return None
    return _parse(field, value, name)


MAX_MONEY = Decimal("9999999999999.99")  # stored as text, compared as numeric: more room than Numeric(14, 2)


def _parse(field: CustomField, value, name: str):
    kind = field.type
    if kind in ("text", "long_text"):
        return validation.text(value, name, 500 if kind == "text" else 5000)
    if kind == "number":
        return _number(value, name)
    if kind == "money":
        return str(validation.money(value, name, maximum=MAX_MONEY, negative=True))
    if kind == "date":
        return validation.day(value, name).isoformat()
    if kind == "datetime":
        return validation.wall_clock(value, name).isoformat(timespec="minutes")
    if kind == "select":  # a retired option is not offered any more, but a value already stored stays valid
        return validation.choice(value, name, {o["key"] for o in field.options})
    if kind == "email":
        return validation.normalise_email(value, name)
    if kind == "phone":
        return validation.phone(value, phone_region(), name)
    if kind == "url":
        return _url(value, name)
    raise Invalid({name: _("Choose one of the listed values.")})


def _number(value, name: str) -> int | float:
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) >= Decimal("1e15"):
        raise Invalid({name: _("Enter a number, e.g. 12 or 3.5.")})
    return int(number) if number == number.to_integral_value() else float(number)


def _url(value, name: str) -> str:
    value = validation.text(value, name, 500)
    url = urlparse(value)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise Invalid({name: _("Enter a web address starting with http:// or https://.")})
    return value


def read_form(definitions: list[CustomField], form, for_update: bool) -> dict:
    """The raw custom values a form sent, by key (only the fields the form carried, when updating)."""
    raw = {}
    for field in definitions:
        name = f"custom_{field.key}"
        if field.type == "multiselect":
            if name in form or f"{name}__present" in form:
                raw[field.key] = form.getlist(name)
        elif field.type == "checkbox":
            if f"{name}__present" in form or not for_update:
                raw[field.key] = form.get(name, "")
        elif name in form:
            raw[field.key] = form.get(name)
    return raw


def initial_values(definitions: list[CustomField], item) -> dict:
    """What a form shows at first: the record's stored values, or the defaults for a new record."""
    if item is not None:
        return dict(item.custom or {})
    return {f.key: f.default for f in definitions if f.default}


def audit_state(item) -> dict:
    """A record's custom values as `custom.<key>` entries, to compare before and after a change."""
    return {f"custom.{key}": value for key, value in (item.custom or {}).items()}


def display(field: CustomField, value, language: str | None = None) -> str:
    """A stored value as people read it."""
    if value in (None, "", []):
        return ""
    if field.type == "select":
        return field.option_label(value, language)
    if field.type == "multiselect":
        return ", ".join(field.option_label(v, language) for v in value)
    if field.type == "checkbox":
        return _("Yes") if value else _("No")
    if field.type == "datetime":
        return value.replace("T", " ")
    if field.type in ("money", "number"):
        return _number_shown(field.type, value)
    return str(value)


def _number_shown(kind: str, value) -> str:
    """A stored number or amount in the reader's locale; money in the workspace's currency (a money field names
    none of its own). Anything else stored there is shown as it is: stored data never breaks a page."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return str(value)
    return money(number) if kind == "money" else exact_number(number)
