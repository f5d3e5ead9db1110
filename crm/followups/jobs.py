"""Daily reminders of each workspace: customers gone quiet (to their owners), the morning digest, and the summaries
of key numbers members chose (daily; weekly on the first morning of the workspace's week: crm/workspace/digest.py).

`daily_reminders` runs every hour for every active workspace; each message carries a per-day idempotency key,
so whichever run first finds the workspace's morning sends it and later runs add nothing."""
from datetime import datetime, timedelta

from flask_babel import force_locale, format_datetime
from sqlalchemy import func, or_, select

from crm.followups import reminders
from crm.followups.models import METHOD_LABELS
from crm.followups.service import my_day
from crm.customers.models import Customer
from crm.extensions import db, utcnow
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job
from crm.members.models import Member, Team
from crm.notify import outbox
from crm.settings import get_setting, workspace_zone
from crm.reports.periods import bucket_start
from crm.web import absolute_url
from crm.workspace import digest as summaries

MORNING_HOUR = 8  # digests and quiet-customer reminders go out from 08:00 in the workspace's zone
LISTED = 20  # customers named in one reminder; the link shows the rest


@platform_job
def daily_reminders_all() -> int:
    """Hand each active workspace's daily reminders to the workers (hourly, from cron)."""
    return enqueue_for_active_tenants(daily_reminders, queue_name="notify")


@tenant_job
def daily_reminders(now: datetime | None = None) -> int:
    """Write today's digests and quiet-customer reminders of the workspace, once its morning has come."""
    now = now or utcnow()
    local = now.astimezone(workspace_zone())
    if local.hour < MORNING_HOUR:
        return 0
    day = local.date()
    return remind_quiet_customers(now, day) + send_digests(now, day) + send_summaries(now, day)


def quiet_customers(days: int, now: datetime):
    """Owned customers with no follow-up for `days` days, whose owner has not been told since."""
    quiet_since = func.coalesce(Customer.last_contact_at, Customer.owned_since, Customer.created_at)
    return (select(Customer).where(Customer.owner_id.is_not(None), Customer.deleted_at.is_(None),
                                   quiet_since < now - timedelta(days=days),
                                   or_(Customer.quiet_reminded_at.is_(None),
                                       Customer.quiet_reminded_at < quiet_since))
            .order_by(Customer.owner_id, quiet_since))


def remind_quiet_customers(now: datetime, day) -> int:
    """Tell each owner (and, when the rule says so, their team's manager) about their quiet customers."""
    rule = get_setting("quiet_customers")
    if not rule:
        return 0
    by_owner: dict[int, list[Customer]] = {}
    for customer in db.session.scalars(quiet_customers(rule["days"], now)):
        by_owner.setdefault(customer.owner_id, []).append(customer)
        customer.quiet_reminded_at = now
    written = 0
    for owner_id, customers in by_owner.items():
        for member in _recipients(owner_id, rule.get("notify_manager", False)):
            written += _quiet_message(member, customers, rule["days"], day)
    return written


def _recipients(owner_id: int, with_manager: bool) -> list[Member]:
    owner = db.session.get(Member, owner_id)
    people = [owner] if owner is not None and owner.active else []
    if with_manager and owner is not None and owner.team_id:
        manager_id = db.session.scalar(select(Team.manager_id).where(Team.id == owner.team_id))
        manager = db.session.get(Member, manager_id) if manager_id else None
        if manager is not None and manager.active and manager.id != owner_id:
            people.append(manager)
    return people


def _quiet_message(member: Member, customers: list[Customer], days: int, day) -> int:
    names = ", ".join(c.name for c in customers[:LISTED]) + ("…" if len(customers) > LISTED else "")
    payload = {"count": len(customers), "days": days, "customers": names, "link": absolute_url("customers.index")}
    return _to_member(member, "quiet_customers", f"quiet:{member.id}:{customers[0].owner_id}:{day}", payload)


def send_digests(now: datetime, day) -> int:
    """The morning digest for each member who asked for it: overdue and due-today follow-ups."""
    written = 0
    for member_id in get_setting("digest_members", []) or []:
        member = db.session.get(Member, member_id)
        if member is None or not member.active:
            continue
        agenda = my_day(member, now)
        if not agenda["overdue"] and not agenda["today"]:
            continue
        with force_locale(reminders.locale_of(member)):
            items = "\n".join(f"{format_datetime(a.due_at, 'short')} {METHOD_LABELS.get(a.method, a.method)} "
                              f"{a.summary}" for a in (agenda["overdue"] + agenda["today"])[:LISTED])
        payload = {"overdue": len(agenda["overdue"]), "today": len(agenda["today"]), "items": items,
                   "link": absolute_url("followups.index")}
        written += _to_member(member, "digest", f"digest:{member.id}:{day}", payload)
    return written


def send_summaries(now: datetime, day) -> int:
    """Each chosen summary of key numbers: the daily one every morning, the weekly one on the week's first."""
    written = 0
    for every in ("daily", "weekly"):
        if every == "weekly" and bucket_start(day, "week") != day:
            continue
        for member_id in summaries.subscribers(every):
            member = db.session.get(Member, member_id)
            if member is None or not member.active or not member.can("reports", "view"):
                continue
            period = summaries.periods(every, day)[0]
            payload = summaries.payload(member, every, day, now, reminders.locale_of(member))
            written += _to_member(member, "summary", f"summary:{every}:{member.id}:{period.start}", payload)
    return written


def _to_member(member: Member, kind: str, key: str, payload: dict) -> int:
    language = reminders.locale_of(member)[:2]
    written = 0
    for channel, recipient in reminders.destinations(member):
        if outbox.schedule(channel=channel, kind=kind, recipient=recipient, member_id=member.id,
                           key=f"{key}:{channel}", payload=payload, language=language) is not None:
            written += 1
    return written
