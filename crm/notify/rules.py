"""What may hold a message back at send time: quiet hours for customers, and marketing opt-outs."""
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from crm.extensions import db
from crm.notify import outbox
from crm.notify.models import Notification
from crm.settings import get_setting, workspace_zone

CUSTOMER_KINDS = ("order_status", "ticket_reply", "ticket_survey", "campaign")  # to a tenant's own customers
MARKETING_KINDS = ("campaign",)
DEFAULT_QUIET_HOURS = {"start": "21:00", "end": "08:00"}


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_window(day: datetime, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The quiet period that begins on `day`'s date (it may end the next morning), as aware times."""
    begin = datetime.combine(day.date(), start, zone)
    finish = datetime.combine(day.date() + timedelta(days=1 if end <= start else 0), end, zone)
    return begin, finish


def held_until(notification: Notification, now: datetime) -> datetime | None:
    """The end of the tenant's quiet hours when a customer message falls inside them; else None."""
    if notification.kind not in CUSTOMER_KINDS:
        return None
    return quiet_end(now)


def quiet_end(now: datetime) -> datetime | None:
    """The end of the tenant's quiet hours when `now` falls inside them; else None (or when they are off)."""
    hours = get_setting("quiet_hours", DEFAULT_QUIET_HOURS)
    if not hours:
        return None
    zone = workspace_zone()
    start, end = _clock(hours["start"]), _clock(hours["end"])
    local = now.astimezone(zone)
    for day in (local - timedelta(days=1), local):  # a window that began yesterday evening may still run
        begin, finish = quiet_window(day, start, end, zone)
        if begin <= local < finish:
            return finish
    return None


def recheck_held(now: datetime) -> int:
    """The quiet hours were changed: every message they hold is due at the end of the quiet hours `now` falls in
    under the new setting, or at once when it falls in none (switched off, or shortened to end before now).
    Returns how many were moved. (Done when the setting is saved, not by the sweeper: one statement for the
    tenant whose setting changed, rather than a look at every tenant's held messages every 30 seconds.)"""
    until = quiet_end(now)
    due = until or now
    ids = list(db.session.scalars(
        update(Notification).where(Notification.held_by_quiet_hours, Notification.status == "scheduled")
        .values(due_at=due, held_by_quiet_hours=until is not None).returning(Notification.id)))
    outbox.reschedule(ids, due)
    return len(ids)


# Why a customer may not be written to (deleted, opted out of marketing): the customers feature knows and
# registers its check here, so the outbox asks without importing it.
CustomerCheck = Callable[[int, bool, int | None], str | None]
_customer_checks: list[CustomerCheck] = []


def refuses_customers(check: CustomerCheck) -> CustomerCheck:
    """Register `check(customer_id, marketing, contact_id)`: a reason not to send, or None. `contact_id`: the
    contact a message goes to on the customer's behalf (a campaign's `payload["contact_id"]`), else None."""
    _customer_checks.append(check)
    return check


def refusal(notification: Notification) -> str | None:
    """Why this message must not go out at all (the customer or contact opted out or is gone); None when it may."""
    if notification.customer_id is None:
        return None
    marketing = notification.kind in MARKETING_KINDS
    contact_id = (notification.payload or {}).get("contact_id")
    return next((reason for check in _customer_checks
                 if (reason := check(notification.customer_id, marketing, contact_id))), None)
