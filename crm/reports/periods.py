"""What a report is asked for: a period of the workspace's local days (a preset or a custom range), the period
before it, its buckets, and the filters. Read once from the query string into a `ReportQuery`, which also writes
links back: to the reports page, and to the customer and deal lists a number drills down to."""
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, func, literal_column

from crm import validation
from crm.customers.models import LEVELS
from crm.customers.queries import CustomerQuery
from crm.deals.deal_queries import DealQuery
from crm.errors import Invalid
from crm.extensions import utcnow
from crm.settings import day_start, time_zone_name, week_start, workspace_zone
from crm.validation import record_id

PRESETS = {"today": _l("Today"), "week": _l("This week"), "month": _l("This month"), "quarter": _l("This quarter"),
           "year": _l("This year"), "7d": _l("Last 7 days"), "30d": _l("Last 30 days"), "90d": _l("Last 90 days"),
           "custom": _l("Custom range")}
DEFAULT_PRESET = "30d"
MAX_DAYS = 366 * 5  # a custom range of at most five years: 60 monthly buckets
STALLED_DAYS = 14


def local_today() -> date:
    return utcnow().astimezone(workspace_zone()).date()


@dataclass(frozen=True)
class Period:
    """Local days `start` to `end`, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants [from, to) the period covers."""
        return day_start(self.start), day_start(self.end + timedelta(days=1))

    @property
    def bucket(self) -> str:
        """Days for a month or less, weeks up to half a year, months beyond."""
        return "day" if self.days <= 31 else "week" if self.days <= 183 else "month"

    def buckets(self) -> list["Bucket"]:
        """The period cut into its buckets, each clipped to the period."""
        found, first = [], bucket_start(self.start, self.bucket)
        while first <= self.end:
            after = _next(first, self.bucket)
            found.append(Bucket(first, max(first, self.start), min(after - timedelta(days=1), self.end),
                                self.bucket))
            first = after
        return found


@dataclass(frozen=True)
class Bucket:
    """One bar of a time chart: `key` is what date_trunc gives, `start`..`end` the days of the period in it."""

    key: date
    start: date
    end: date
    size: str

    @property
    def label(self) -> str:
        skeleton = {"day": "MMMd", "week": "MMMd", "month": "yMMM"}[self.size]
        return format_skeleton(skeleton, self.key, locale=get_locale())


def bucket_start(day: date, size: str) -> date:
    if size == "month":
        return day.replace(day=1)
    if size == "week":
        return day - timedelta(days=(day.weekday() - week_start()) % 7)
    return day


def _next(day: date, size: str) -> date:
    if size == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=7 if size == "week" else 1)


def bucket_of(column, size: str):
    """SQL: the local day, week (from the workspace's week start) or month a timestamp falls in, as a date.

    `AT TIME ZONE` turns the stored instant into the workspace's wall clock first, so 23:30 local counts on its
    local day. date_trunc's weeks begin on Monday: shifting by the days from the week start to Monday and back
    makes them begin on Sunday or Saturday."""
    local = func.timezone(time_zone_name(), column)
    if size != "week":
        return func.date_trunc(size, local).cast(Date)
    shift = literal_column(f"interval '{(7 - week_start()) % 7} days'")
    return (func.date_trunc("week", local + shift) - shift).cast(Date)


def preset_period(preset: str, today: date) -> Period:
    """The local days a preset stands for, up to and including today."""
    if preset in ("7d", "30d", "90d"):
        return Period(today - timedelta(days=int(preset[:-1]) - 1), today)
    starts = {"today": today, "week": bucket_start(today, "week"), "month": today.replace(day=1),
              "quarter": today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1),
              "year": today.replace(month=1, day=1)}
    return Period(starts[preset], today)


@dataclass
class ReportQuery:
    """The period and filters every report of the page reads; links write them back with `args()`."""

    preset: str = DEFAULT_PRESET
    start: date | None = None  # a custom range's days
    end: date | None = None
    owner: str = ""  # a member id or "me"
    team: int | None = None
    pipeline: int | None = None
    tag: int | None = None
    level: str = ""
    source: str = ""
    days: int = STALLED_DAYS  # "no stage change in N days"
    by: str = ""  # the breakdown a report offers a choice of (a custom field)
    period: Period = None

    @classmethod
    def from_args(cls, args, today: date | None = None) -> "ReportQuery":
        """Read the query string: a bad filter is ignored, a bad custom range refused at its field."""
        today = today or local_today()
        preset = args.get("preset") if args.get("preset") in PRESETS else DEFAULT_PRESET
        if preset != "custom" and (args.get("start") or args.get("end")):
            # The form shows the period's days beside the preset: a day changed there makes the range custom.
            shown = preset_period(preset, today)
            if (args.get("start"), args.get("end")) != (shown.start.isoformat(), shown.end.isoformat()):
                preset = "custom"
        query = cls(
            preset=preset,
            owner=args.get("owner", "") if record_id(args.get("owner")) or args.get("owner") == "me" else "",
            team=record_id(args.get("team")), pipeline=record_id(args.get("pipeline")), tag=record_id(args.get("tag")),
            level=args.get("level", "") if args.get("level") in LEVELS else "",
            source=validation.clipped(args.get("source"), 60),
            days=validation.or_none(validation.whole_number, args.get("days"), "days", 1, 3650) or STALLED_DAYS,
            by=validation.clipped(args.get("by"), 40))
        if preset != "custom":
            query.period = preset_period(preset, today)
            return query
        query.start, query.end = _custom_range(args)
        query.period = Period(query.start, query.end)
        return query

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to the reports (a pack, a report) with `changes`."""
        custom = self.preset == "custom"
        values = {"preset": self.preset if self.preset != DEFAULT_PRESET else "",
                  "start": self.start.isoformat() if custom else "", "end": self.end.isoformat() if custom else "",
                  "owner": self.owner, "team": self.team, "pipeline": self.pipeline, "tag": self.tag,
                  "level": self.level, "source": self.source, "days": self.days if self.days != STALLED_DAYS else "",
                  "by": self.by}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @classmethod
    def refused(cls) -> "ReportQuery":
        """What the page shows beside a refused custom range: a custom range over the default period."""
        period = preset_period(DEFAULT_PRESET, local_today())
        return cls(preset="custom", start=period.start, end=period.end, period=period)

    @property
    def previous(self) -> Period:
        return self.period.previous()

    def customers(self, period: Period | None = None, **changes) -> CustomerQuery:
        """The customer list's query for this report's filters (and customers created in `period`)."""
        query = CustomerQuery(owner=self.owner, team=self.team, tags=[self.tag] if self.tag else [], level=self.level,
                              source=self.source)
        if period:
            query.created_from, query.created_to = period.start, period.end
        return replace(query, **changes)

    def deals(self, **changes) -> DealQuery:
        """The deal list's query for this report's filters, with `changes` (a period's days, a stage ...)."""
        query = DealQuery(pipeline_id=self.pipeline, owner=self.owner, team=self.team, tag=self.tag, level=self.level,
                          source=self.source)
        return replace(query, **changes)


def _custom_range(args) -> tuple[date, date]:
    errors = {}
    start = validation.collect(errors, validation.day, args.get("start"), "start", validation.EARLIEST,
                               date(9998, 12, 31))
    end = validation.collect(errors, validation.day, args.get("end"), "end", validation.EARLIEST, date(9998, 12, 31))
    if not errors and (start is None or end is None):
        errors["start" if start is None else "end"] = _("Enter a date.")
    if not errors and end < start:
        errors["end"] = _("The end must not be before the start.")
    if not errors and (end - start).days + 1 > MAX_DAYS:
        errors["end"] = _("Choose at most five years.")
    if errors:
        raise Invalid(errors)
    return start, end
