"""Follow-ups: plan one, log one, mark one done (with the next one), and what is due for whom."""
from datetime import UTC, datetime, time, timedelta

from flask_babel import get_timezone
from flask_babel import gettext as _
from sqlalchemy import select

from crm import listing, validation
from crm.followups import reminders
from crm.followups.models import METHOD_LABELS, METHODS, Activity
from crm.audit.service import record
from crm.contacts import service as contacts
from crm.customers import queries as customers
from crm.customers.models import Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.members.access import in_reach, scoped
from crm.members.models import Member
from crm.settings import get_setting, put_setting
from crm.timeline import service as timeline
from crm.validation import record_id
from crm.webhooks import events as webhooks

MAX_TEXT = 2000
REMINDERS = (0, 15, 60, 1440)


def method_in_both_languages(method: str) -> dict[str, str]:
    return timeline.in_both_languages(lambda: METHOD_LABELS.get(method, method))


def get_activity(viewer: Member, activity_id: int, action: str = "view") -> Activity:
    """The follow-up, if the viewer's role reaches it for `action`; else 404."""
    stmt = scoped(select(Activity).where(Activity.id == activity_id), viewer, "activities", action, Activity)
    activity = db.session.scalar(stmt)
    if activity is None:
        raise NotFound()
    return activity


def _method(value) -> str:
    if value not in METHODS:
        raise Invalid({"method": _("Choose how.")})
    return value


def _reminder(value) -> int | None:
    if value in (None, ""):
        return None
    if str(value) in map(str, REMINDERS):
        return int(value)
    raise Invalid({"remind_minutes": _("Choose a reminder.")})


def _owner(viewer: Member, value) -> int:
    if value in (None, ""):
        return viewer.id
    owner_id = record_id(value)
    if not in_reach(viewer, "activities", "create", owner_id):
        raise Invalid({"owner_id": _("Choose someone you may assign follow-ups to.")})
    return owner_id


def _named_id(value) -> int | None:
    """The id a hidden field names, None when it names none; one no record can have (past PostgreSQL's integer
    range, say) is a record not found, as an unknown id is, not a follow-up quietly about nobody."""
    if value in (None, ""):
        return None
    found = record_id(value)
    if found is None:
        raise NotFound()
    return found


def _subject(viewer: Member, data: dict) -> tuple[Customer | None, object | None]:
    """The customer and deal the follow-up is about (either may be missing), checked against the viewer."""
    deal = None
    if deal_id := _named_id(data.get("deal_id")):
        from crm.deals import deal_queries

        deal = deal_queries.get_deal(viewer, deal_id)
    customer_id = deal.customer_id if deal else _named_id(data.get("customer_id"))
    customer = customers.get_customer(viewer, customer_id) if customer_id else None
    return customer, deal


def form_customer(viewer: Member, customer_id, deal_id) -> int | None:
    """The customer a follow-up form is about (the deal's, when it names one), when the viewer may see it."""
    try:
        customer, _deal = _subject(viewer, {"customer_id": customer_id, "deal_id": deal_id})
    except NotFound:
        return None
    return customer.id if customer else None


def create(viewer: Member, data: dict) -> Activity:
    """Plan a follow-up, or log an interaction that happened (mode "log")."""
    customer, deal = _subject(viewer, data)
    logging = data.get("mode") == "log"
    method = _method(data.get("method"))
    summary = validation.text(data.get("summary"), "summary", MAX_TEXT, required=True)
    contact_id = contacts.chosen(customer.id if customer else None, data.get("contact_id"))
    activity = Activity(customer_id=customer.id if customer else None, deal_id=deal.id if deal else None,
                        contact_id=contact_id, method=method, summary=summary, created_by=viewer.id, outcome="")
    if logging:
        activity.owner_id = viewer.id
        activity.outcome = validation.text(data.get("outcome"), "outcome", MAX_TEXT) or ""
        activity.done_at = utcnow()
    else:
        activity.owner_id = _owner(viewer, data.get("owner_id"))
        activity.due_at = _due(data.get("due_at"))
        activity.remind_minutes = _reminder(data.get("remind_minutes"))
    db.session.add(activity)
    db.session.flush()
    if logging:
        _contacted(activity, "follow_up_logged", summary=summary)
    else:
        reminders.schedule(activity)
    record("create", "activity", activity.id, summary=summary[:250])
    return activity


def _due(value) -> datetime:
    due = validation.local_datetime(value, "due_at")
    if due is None:
        raise Invalid({"due_at": _("Choose when.")})
    return due


def update(viewer: Member, activity: Activity, data: dict) -> Activity:
    """Change a planned follow-up (time, method, what, who, reminder)."""
    if activity.done_at is not None:
        raise Invalid({"summary": _("This follow-up is done; log a new one instead.")})
    activity.method = _method(data.get("method"))
    activity.summary = validation.text(data.get("summary"), "summary", MAX_TEXT, required=True)
    activity.due_at = _due(data.get("due_at"))
    activity.remind_minutes = _reminder(data.get("remind_minutes"))
    activity.owner_id = _owner(viewer, data.get("owner_id") or activity.owner_id)
    if "contact_id" in data:
        activity.contact_id = contacts.chosen(activity.customer_id, data["contact_id"])
    record("update", "activity", activity.id, summary=activity.summary[:250])
    db.session.flush()
    reminders.schedule(activity)
    return activity


def reschedule(viewer: Member, activity: Activity, due: datetime) -> Activity:
    """Plan an open follow-up for another time (the calendar's drag); its reminder moves with it."""
    old_due = activity.due_at
    activity.due_at = due
    record("update", "activity", activity.id, summary=activity.summary[:250],
           changes={"due_at": [old_due.isoformat() if old_due else None, due.isoformat()]})
    db.session.flush()
    reminders.schedule(activity)
    return activity


def complete(viewer: Member, activity: Activity, data: dict) -> Activity | None:
    """Mark a planned follow-up done with its outcome; plan the next one when a time is given."""
    if activity.done_at is not None:
        raise Invalid({"outcome": _("This follow-up is already done.")})
    activity.outcome = validation.text(data.get("outcome"), "outcome", MAX_TEXT, required=True)
    next_due = validation.local_datetime(data.get("next_due_at"), "next_due_at")
    next_activity = None
    if next_due is not None:
        next_activity = Activity(customer_id=activity.customer_id, deal_id=activity.deal_id,
                                 contact_id=activity.contact_id, owner_id=activity.owner_id, method=_method(data.get("next_method")),
                                 summary=validation.text(data.get("next_summary"), "next_summary", MAX_TEXT)
                                 or activity.summary,
                                 due_at=next_due, remind_minutes=activity.remind_minutes, created_by=viewer.id,
                                 outcome="")
        db.session.add(next_activity)
    activity.done_at = utcnow()
    db.session.flush()
    reminders.cancel(activity)
    if next_activity is not None:
        reminders.schedule(next_activity)
    _contacted(activity, "follow_up_done", outcome=activity.outcome)
    record("update", "activity", activity.id, summary=_("Done: %(outcome)s", outcome=activity.outcome)[:250])
    webhooks.emit("followup.done", activity)
    return next_activity


def _contacted(activity: Activity, kind: str, **payload) -> None:
    """The customer was contacted now: its timeline and last contact time say so."""
    if activity.customer_id is None:
        return
    customer = db.session.get(Customer, activity.customer_id)
    customer.last_contact_at = activity.done_at
    timeline.log(kind, customer_id=customer.id, deal_id=activity.deal_id,
                 method=method_in_both_languages(activity.method), **payload)


def cancel(viewer: Member, activity: Activity) -> None:
    """Drop a planned follow-up that will not happen."""
    if activity.done_at is not None:
        raise Invalid({"summary": _("A done follow-up cannot be cancelled.")})
    # The owner it had: GET /api/v1/deletions shows the deletion to whoever could see it (crm/audit/deletions.py).
    record("delete", "activity", activity.id, summary=activity.summary[:250],
           changes={"owner_id": [activity.owner_id, None]})
    reminders.cancel(activity)
    db.session.delete(activity)
    db.session.flush()


def add_note(viewer: Member, data: dict) -> None:
    """A note on the customer's (and deal's) timeline."""
    customer, deal = _subject(viewer, data)
    if customer is None:
        raise Invalid({"text": _("Choose a customer.")})
    note = validation.text(data.get("text"), "text", MAX_TEXT, required=True)
    timeline.log("note", customer_id=customer.id, deal_id=deal.id if deal else None, text=note)


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start and end of the workspace's today, in UTC."""
    zone = get_timezone()
    today = now.astimezone(zone).date()
    start = zone.localize(datetime.combine(today, time.min)).astimezone(UTC)
    return start, start + timedelta(days=1)


def my_day(viewer: Member, now: datetime | None = None) -> dict[str, list[Activity]]:
    """The viewer's open follow-ups: overdue, due today, and the next seven days."""
    now = now or utcnow()
    start, end = _day_bounds(now)
    stmt = (select(Activity).where(Activity.owner_id == viewer.id, Activity.done_at.is_(None),
                                   Activity.due_at < end + timedelta(days=7))
            .order_by(Activity.due_at, Activity.id).limit(500))
    day = {"overdue": [], "today": [], "upcoming": []}
    for activity in db.session.scalars(stmt):
        key = "overdue" if activity.due_at < start else "today" if activity.due_at < end else "upcoming"
        day[key].append(activity)
    return day


def open_for(viewer: Member, customer_id: int | None = None, deal_id: int | None = None) -> list[Activity]:
    """Planned follow-ups of a customer or a deal that the viewer's role reaches, soonest first."""
    stmt = select(Activity).where(Activity.done_at.is_(None))
    stmt = stmt.where(Activity.deal_id == deal_id) if deal_id else stmt.where(Activity.customer_id == customer_id)
    stmt = scoped(stmt, viewer, "activities", "view", Activity)
    return list(db.session.scalars(stmt.order_by(Activity.due_at).limit(50)))


NEWEST = (listing.Key(Activity.id, descending=True),)


def list_activities(viewer: Member, *, customer_id: int | None = None, deal_id: int | None = None,
                    owner: int | None = None, done: bool | None = None, created_since: datetime | None = None,
                    done_since: datetime | None = None, after: str = "", limit: int = 25) -> tuple[list[Activity], str]:
    """One keyset page of the follow-ups the viewer's role reaches, newest first, and the next page's cursor."""
    stmt = scoped(select(Activity), viewer, "activities", "view", Activity)
    for column, value in ((Activity.customer_id, customer_id), (Activity.deal_id, deal_id),
                          (Activity.owner_id, owner)):
        if value is not None:
            stmt = stmt.where(column == value)
    if done is not None:
        stmt = stmt.where(Activity.done_at.is_not(None) if done else Activity.done_at.is_(None))
    if created_since is not None:
        stmt = stmt.where(Activity.created_at >= created_since)
    if done_since is not None:
        stmt = stmt.where(Activity.done_at >= done_since)
    return listing.page(stmt, NEWEST, after, limit)


def customer_names(activities: list[Activity]) -> dict[int, str]:
    ids = {a.customer_id for a in activities if a.customer_id}
    if not ids:
        return {}
    rows = db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all()
    return {customer_id: name for customer_id, name in rows}


def digest_wanted(member: Member) -> bool:
    return member.id in (get_setting("digest_members", []) or [])


def set_digest(member: Member, wanted: bool) -> None:
    """Opt the member in or out of the morning digest."""
    members = [m for m in (get_setting("digest_members", []) or []) if m != member.id]
    put_setting("digest_members", members + [member.id] if wanted else members)


def quiet_rule() -> dict | None:
    return get_setting("quiet_customers")


def set_quiet_rule(data) -> dict | None:
    """Switch the "no follow-up in N days" reminder on (with N, and whether managers hear of it) or off."""
    if not data.get("enabled"):
        put_setting("quiet_customers", None)
        return None
    days = validation.whole_number(data.get("days"), "days", 1, 365)
    rule = {"days": days, "notify_manager": bool(data.get("notify_manager"))}
    put_setting("quiet_customers", rule)
    return rule
