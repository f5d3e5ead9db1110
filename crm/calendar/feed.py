"""A member's calendar feed: an iCalendar (RFC 5545) document of their planned follow-ups that a phone's or a
desktop calendar subscribes to, at a secret link (`/cal/<tenant id>.<member id>.<signature>.ics`).

The signature covers the member's `calendar_nonce` (crm/public_links.py): "New link" replaces the nonce and ends
the old link, "Turn off" clears it. A calendar app cannot sign in, so the link is the only key; it shows what the
member's own My day shows (their follow-ups), nothing of other members."""
import secrets
from datetime import UTC, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Alarm, Calendar, Event
from sqlalchemy import select

from crm import public_links
from crm.audit.service import record
from crm.customers.models import Customer
from crm.extensions import db, utcnow
from crm.followups.models import METHOD_LABELS, Activity
from crm.followups.reminders import locale_of
from crm.members.models import Member
from crm.web import absolute_url
from tenants.binding import current_tenant
from tenants.resolver import TenantRef

PURPOSE = "calendar-feed"
PAST = timedelta(days=60)  # how far back a subscribed calendar still shows follow-ups
AHEAD = timedelta(days=366)
MAX_EVENTS = 2000
DURATION = timedelta(minutes=30)  # a follow-up has a time, not a length; calendars need one


def feed_url(member: Member) -> str | None:
    """The member's feed link, None when they have none."""
    if not member.calendar_nonce:
        return None
    token = public_links.make_token(PURPOSE, current_tenant().id, member.id, nonce=member.calendar_nonce)
    return absolute_url("calendar_feed.show", token=token)


def new_link(member: Member) -> None:
    """A new feed link; the previous one stops working."""
    had_link = bool(member.calendar_nonce)
    member.calendar_nonce = secrets.token_hex(16)
    record("update", "member", member.id, summary=member.name,
           changes={"calendar_feed": ["active" if had_link else None, "new"]})


def turn_off(member: Member) -> None:
    if member.calendar_nonce:
        member.calendar_nonce = None
        record("update", "member", member.id, summary=member.name, changes={"calendar_feed": ["active", None]})


def read_link(token: str) -> tuple[TenantRef, int, str] | None:
    """(active tenant, member id, signature) of a well-formed token; the signature is checked by document()."""
    return public_links.tenant_link(token)


def document(tenant: TenantRef, member_id: int, signature: str) -> bytes | None:
    """The feed (with `tenant` bound), None unless the link is current and the member may still see follow-ups."""
    member = db.session.get(Member, member_id)
    if member is None or not member.active or not member.calendar_nonce or not member.can("activities", "view"):
        return None
    if not public_links.is_signed(PURPOSE, (tenant.id, member.id), signature, member.calendar_nonce):
        return None
    with force_locale(locale_of(member)):
        return _calendar(tenant, member).to_ical()


def _calendar(tenant: TenantRef, member: Member) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//CRM//Follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("%(workspace)s follow-ups", workspace=tenant.name))
    now = utcnow()
    rows = db.session.execute(
        select(Activity, Customer.name).outerjoin(Customer, Customer.id == Activity.customer_id)
        .where(Activity.owner_id == member.id, Activity.due_at >= now - PAST, Activity.due_at < now + AHEAD)
        .order_by(Activity.due_at).limit(MAX_EVENTS)).all()
    for activity, customer_name in rows:
        calendar.add_component(_event(tenant, activity, customer_name))
    return calendar


def _event(tenant: TenantRef, activity: Activity, customer_name: str | None) -> Event:
    method = str(METHOD_LABELS.get(activity.method, activity.method))
    title = f"{method}: {customer_name}" if customer_name else f"{method}: {activity.summary[:60]}"
    event = Event()
    event.add("uid", f"activity-{activity.id}@{tenant.slug}")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", activity.due_at)
    event.add("duration", DURATION)
    event.add("summary", ("✓ " if activity.done_at else "") + title)
    event.add("description", "\n\n".join(filter(None, [activity.summary, activity.outcome])))
    if activity.customer_id:
        event.add("url", absolute_url("customers.show", customer_id=activity.customer_id))
    if activity.remind_minutes is not None and activity.done_at is None:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", title)
        alarm.add("trigger", timedelta(minutes=-activity.remind_minutes))
        event.add_component(alarm)
    return event
