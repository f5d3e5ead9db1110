"""The scheduled summary of a member's key numbers (crm/workspace/kpis.py): weekly, for the last whole week of the
workspace, and daily, for yesterday, each beside the period before it. Members choose them on their profile page;
the morning run of the daily reminders (crm/followups/jobs.py) writes them into the outbox."""
from datetime import date, datetime

from babel.dates import format_interval
from flask_babel import force_locale, format_date, format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.formatting import money
from crm.members.models import Member
from crm.reports.periods import Period
from crm.settings import get_setting, put_setting
from crm.web import absolute_url
from crm.workspace import kpis

EVERY = {"weekly": _l("Weekly summary"), "daily": _l("Daily summary")}


def _key(every: str) -> str:
    return f"{every}_summary_members"


def wanted(member: Member) -> set[str]:
    """Which summaries (weekly, daily) the member chose."""
    return {every for every in EVERY if member.id in (get_setting(_key(every), []) or [])}


def set_wanted(member: Member, chosen) -> None:
    """Opt the member in to the summaries in `chosen` and out of the others."""
    for every in EVERY:
        others = [m for m in (get_setting(_key(every), []) or []) if m != member.id]
        put_setting(_key(every), others + [member.id] if every in chosen else others)


def subscribers(every: str) -> list[int]:
    """Ids of the members who chose this summary."""
    return list(get_setting(_key(every), []) or [])


def periods(every: str, today: date) -> tuple[Period, Period]:
    """The period a summary counts, and the one it is compared with."""
    return kpis.last_week(today) if every == "weekly" else kpis.yesterday(today)


def payload(member: Member, every: str, today: date, now: datetime, locale: str) -> dict:
    """The summary's values, worded and formatted in `locale`; its link opens the reports on the same days."""
    period, previous = periods(every, today)
    numbers = kpis.measure(member, period, previous, now)
    link = absolute_url("reports.index", preset="custom", start=period.start.isoformat(),
                        end=period.end.isoformat())
    with force_locale(locale):
        return {"period": _period_name(period), "numbers": "\n".join(_lines(numbers)), "link": link}


def _period_name(period: Period) -> str:
    if period.days == 1:
        return format_date(period.start, "medium")
    return format_interval(period.start, period.end, "yMMMd", locale=get_locale())


def _lines(k: kpis.Kpis) -> list[str]:
    currency = k.currency

    def flow(label: str, measure: str, as_money: bool = False) -> str:
        show = (lambda value: money(value, currency)) if as_money else format_decimal
        return _("%(label)s: %(now)s (before: %(before)s)", label=label, now=show(k.now[measure]),
                 before=show(k.before[measure]))

    return [flow(_("New customers"), "new_customers"), flow(_("Deals won"), "won_amount", True),
            flow(_("Order revenue"), "order_revenue", True), flow(_("Follow-ups done"), "follow_ups_done"),
            _("Overdue follow-ups: %(overdue)s · Due today: %(today)s", overdue=format_decimal(k.overdue),
              today=format_decimal(k.due_today)),
            _("Weighted open pipeline: %(amount)s (%(count)s open deals)", amount=money(k.weighted_pipeline, currency),
              count=format_decimal(k.open_deals)),
            _("Open tickets: %(count)s", count=format_decimal(k.open_tickets))]
