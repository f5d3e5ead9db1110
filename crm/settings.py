"""The tenant's settings rows (`settings`: key -> JSON), read and written by the features that own a key, and
the workspace-wide ones every feature reads: currency, time zone, phone region."""
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g

from crm.extensions import db
from crm.members.models import DEFAULT_SETTINGS, Setting


def get_setting(key: str, default=None):
    row = db.session.get(Setting, key)
    return row.value if row is not None else default


def put_setting(key: str, value) -> None:
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()


def _workspace_text(key: str) -> str:
    value = get_setting(key)
    return value if isinstance(value, str) and value else DEFAULT_SETTINGS[key]


def workspace_currency() -> str:
    """The workspace's currency (ISO 4217): the default for deals, orders and prices, and money fields' unit."""
    return _workspace_text("currency")


def phone_region() -> str:
    """Where a phone number typed without a country code is read (the "phone_region" setting, e.g. CN)."""
    return _workspace_text("phone_region")


def time_zone_name() -> str | None:
    """The bound workspace's time zone, the one source of every time shown, entered or counted as "today" in it
    (flask-babel's get_timezone() asks here); outside a workspace, the platform's TIMEZONE."""
    if g.get("tenant") is None:
        return current_app.config["BABEL_DEFAULT_TIMEZONE"]
    return _workspace_text("timezone")


def workspace_zone() -> ZoneInfo:
    """The bound workspace's time zone as a ZoneInfo, for arithmetic on local days (rules, quiet hours)."""
    try:
        return ZoneInfo(time_zone_name())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_SETTINGS["timezone"])
