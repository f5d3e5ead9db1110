"""The tenant's settings rows (`settings`: key -> JSON), read and written by the features that own a key, and
the workspace-wide ones every feature reads: currency, time zone, phone region, language, week start (set on
Settings > Workspace, crm/workspace_settings)."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from crm.extensions import db
from crm.members.models import DEFAULT_SETTINGS, Setting
from tenants.roles import acting_as

WEEKDAYS = {"monday": 0, "saturday": 5, "sunday": 6}  # a week start as date.weekday() numbers it
READ = "settings_read"  # session.info: {key: row or None} read in this transaction


def get_setting(key: str, default=None):
    """A setting's value, its row read once a transaction: the session's identity map holds rows weakly, so a row
    nobody keeps was read again on every call (a report formatting 300 amounts read the currency 300 times)."""
    read = db.session.info.setdefault(READ, {})
    if key not in read:
        read[key] = db.session.get(Setting, key)
    row = read[key]
    return row.value if row is not None else default


@event.listens_for(Session, "after_transaction_end")
def _forget_settings(session, transaction) -> None:
    # The next transaction may be another tenant's (tenants/binding.py) or see another writer's change.
    session.info.pop(READ, None)


def put_setting(key: str, value) -> None:
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    db.session.flush()
    db.session.info.get(READ, {}).pop(key, None)


def put_settings_in(schema: str, values: dict) -> None:
    """Write `values` as settings of the workspace in `schema`, which no binding maps (a new workspace at sign-up,
    over its seeded defaults)."""
    stmt = insert(Setting).values([{"key": key, "value": value} for key, value in values.items()])
    with acting_as(schema) as in_schema:
        db.session.execute(stmt.on_conflict_do_update(index_elements=[Setting.key], set_={"value": stmt.excluded.value}),
                           execution_options=in_schema)


def _workspace_text(key: str) -> str:
    value = get_setting(key)
    return value if isinstance(value, str) and value else DEFAULT_SETTINGS[key]


def workspace_currency() -> str:
    """The workspace's currency (ISO 4217): the default for deals, orders and prices, and money fields' unit."""
    return _workspace_text("currency")


def phone_region() -> str:
    """Where a phone number typed without a country code is read (the "phone_region" setting, e.g. CN)."""
    return _workspace_text("phone_region")


def workspace_language() -> str:
    """The workspace's language ("en" or "zh"): what its customers are written to in, unless told otherwise."""
    return _workspace_text("language")


def week_start() -> int:
    """The first day of the workspace's week, as date.weekday() numbers it (0 Monday, 5 Saturday, 6 Sunday)."""
    return WEEKDAYS.get(_workspace_text("week_start"), 0)


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


def day_start(day: date) -> datetime:
    """The instant (UTC) the workspace's local `day` begins: where a filter or report on local days cuts."""
    return datetime.combine(day, time(), workspace_zone()).astimezone(timezone.utc)


def on_local_days(column, first: date | None, last: date | None) -> list:
    """Conditions keeping `column` within the workspace's local days `first` to `last` (either may be open)."""
    conditions = [column >= day_start(first)] if first else []
    return conditions + ([column < day_start(last + timedelta(days=1))] if last else [])
