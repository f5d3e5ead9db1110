"""Locale-aware formatting for templates: dates, times and numbers."""
import phonenumbers
from flask_babel import format_date, format_datetime, format_decimal


def register(app) -> None:
    app.jinja_env.filters["date"] = lambda value: format_date(value, "medium") if value else ""
    app.jinja_env.filters["datetime"] = lambda value: format_datetime(value, "short") if value else ""
    app.jinja_env.filters["number"] = lambda value: format_decimal(value) if value is not None else ""
    app.jinja_env.filters["phone"] = phone


def phone(value: str | None) -> str:
    """An E.164 number shown the way people write it (+86 138 0013 8000)."""
    if not value:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return value
