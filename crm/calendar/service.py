"""The follow-up calendar: which days a week or month view shows, the follow-ups planned on them (the viewer's
own, or every one the viewer's role reaches), and moving a plan to another day."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from crm.customers.models import Customer
from crm.errors import Invalid
from crm.extensions import db
from crm.followups import service as followups
from crm.followups.models import Activity
from crm.members.access import scoped
from crm.members.models import Member
from crm.settings import week_start, workspace_zone

VIEWS = ("week", "month")
WHOSE = ("mine", "team")
MAX_SHOWN = 2000  # a month of a big team's plans; past it the page says some are not shown


@dataclass(frozen=True)
class Period:
    view: str  # "week" or "month"
    anchor: date  # the day the user asked for; the month view shows its month
    first: date  # the first day shown (a week start)
    last: date  # the last day shown

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def weeks(self) -> list[list[date]]:
        days = self.days
        return [days[i:i + 7] for i in range(0, len(days), 7)]

    def step(self, direction: int) -> date:
        """The anchor of the previous (-1) or next (+1) period."""
        if self.view == "week":
            return self.anchor + timedelta(days=7 * direction)
        month = self.anchor.replace(day=1)
        if direction < 0:
            return (month - timedelta(days=1)).replace(day=1)
        return (month + timedelta(days=32)).replace(day=1)


def period(view: str, anchor: date) -> Period:
    """The days a week view (the anchor's week) or a month view (whole weeks around the anchor's month) shows,
    weeks starting on the workspace's first day of the week."""
    view = view if view in VIEWS else "week"

    def week_of(day: date) -> date:
        return day - timedelta(days=(day.weekday() - week_start()) % 7)

    if view == "week":
        first = week_of(anchor)
        return Period(view, anchor, first, first + timedelta(days=6))
    month_first = anchor.replace(day=1)
    month_last = (month_first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    first = week_of(month_first)
    return Period(view, anchor, first, week_of(month_last) + timedelta(days=6))


def today() -> date:
    return datetime.now(UTC).astimezone(workspace_zone()).date()


def _utc(day: date) -> datetime:
    """The first instant of a local day, in UTC."""
    return datetime.combine(day, time.min, tzinfo=workspace_zone()).astimezone(UTC)


def planned_in(viewer: Member, shown: Period, whose: str) -> tuple[dict[date, list[dict]], bool]:
    """The follow-ups planned on each shown day (open and done), soonest first, and whether some were left out.
    "mine": the viewer's own; "team": every one the viewer's role may view."""
    stmt = (select(Activity.id, Activity.due_at, Activity.done_at, Activity.method, Activity.summary,
                   Activity.owner_id, Activity.customer_id, Customer.name.label("customer_name"),
                   Member.name.label("owner_name"))
            .outerjoin(Customer, Customer.id == Activity.customer_id)
            .join(Member, Member.id == Activity.owner_id)
            .where(Activity.due_at >= _utc(shown.first), Activity.due_at < _utc(shown.last + timedelta(days=1)))
            .order_by(Activity.due_at, Activity.id).limit(MAX_SHOWN + 1))
    stmt = stmt.where(Activity.owner_id == viewer.id) if whose == "mine" else \
        scoped(stmt, viewer, "activities", "view", Activity)
    rows = db.session.execute(stmt).mappings().all()
    zone = workspace_zone()
    by_day: dict[date, list[dict]] = {day: [] for day in shown.days}
    for row in rows[:MAX_SHOWN]:
        local = row["due_at"].astimezone(zone)
        by_day.setdefault(local.date(), []).append({**row, "local_time": local.time()})
    return by_day, len(rows) > MAX_SHOWN


def move_to_day(viewer: Member, activity: Activity, day: date) -> Activity:
    """Plan the follow-up on another day at the same local time; its reminder moves with it."""
    if activity.done_at is not None:
        raise Invalid({"day": _("This follow-up is done; it stays on the day it was planned for.")})
    zone = workspace_zone()
    local = activity.due_at.astimezone(zone)
    due = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone).astimezone(UTC)
    return followups.reschedule(viewer, activity, due)
