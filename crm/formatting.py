"""Locale-aware formatting for templates: dates, times, numbers and money."""
from decimal import Decimal

import phonenumbers
from babel import numbers
from babel.dates import format_skeleton
from flask_babel import format_currency, format_date, format_datetime, format_decimal, format_time, get_locale

from crm.settings import workspace_currency


def register(app) -> None:
    app.jinja_env.filters["date"] = lambda value: format_date(value, "medium") if value else ""
    app.jinja_env.filters["datetime"] = lambda value: format_datetime(value, "short") if value else ""
    app.jinja_env.filters["time"] = lambda value: format_time(value, "short") if value else ""
    # A date in the reader's own pattern for these fields: "yMMMM" is "December 2026" / "2026年12月".
    app.jinja_env.filters["skeleton"] = lambda value, fields: format_skeleton(fields, value, locale=get_locale())
    app.jinja_env.filters["number"] = lambda value: format_decimal(value) if value is not None else ""
    app.jinja_env.filters["phone"] = phone
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals["money"] = money


def phone(value: str | None) -> str:
    """An E.164 number shown the way people write it (+86 138 0013 8000)."""
    if not value:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return value


def money(amount, currency: str | None = None) -> str:
    """An amount in the reader's locale and its currency (¥12,500.00, £80.00, US$80.00); the workspace's
    currency when the record names none."""
    if amount is None or amount == "":
        return ""
    return format_currency(amount, currency or workspace_currency())


def exact_number(value) -> str:
    """A number in the reader's locale with every decimal it has (1,234.5678 stays so, not 1,234.568)."""
    if value is None or value == "":
        return ""
    return numbers.format_decimal(Decimal(str(value)), locale=get_locale(), decimal_quantization=False)
