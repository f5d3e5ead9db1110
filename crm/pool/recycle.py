"""The recycle rules' daily run: customers returned to the pool, warnings to owners (and managers) first, and
what returns soon."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import force_locale, format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, text

from crm.audit.service import record
from crm.customers.models import Customer
from crm.extensions import db, utcnow
from crm.members.models import Member, Team
from crm.pool.models import RecycleRule
from crm.settings import workspace_zone
from crm.timeline import service as timeline
from crm.web import absolute_url
from crm.webhooks import events as webhooks
from tenants.binding import current_tenant

MAIL_LIST_LIMIT = 50  # customers named in one warning email; a first run of a new rule may find thousands


@dataclass
class Notice:
    """A customer that returns to the pool on `day` under `rule` unless someone follows up first."""

    customer: Customer
    rule: RecycleRule
    day: date
    owner_name: str = ""


@dataclass
class Run:
    """What one run of the rules did in a tenant."""

    recycled: list[Customer] = field(default_factory=list)
    warned: list[Notice] = field(default_factory=list)
    emails: int = 0


def tenant_today() -> tuple[date, ZoneInfo]:
    """Today in the tenant's time zone (settings), and the zone: rules count whole local days."""
    zone = workspace_zone()
    return utcnow().astimezone(zone).date(), zone


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _since(rule: RecycleRule):
    """When each customer's clock started for this rule: its last follow-up (or last won deal), or the
    owner getting it when that is later."""
    owned = func.coalesce(Customer.owned_since, Customer.created_at)
    if rule.kind == "no_follow_up":
        return func.greatest(Customer.last_contact_at, owned, type_=Customer.owned_since.type)
    from crm.deals.models import Deal

    won = (select(func.max(Deal.closed_at)).where(Deal.customer_id == Customer.id, Deal.status == "won")
           .scalar_subquery())
    return func.greatest(won, owned, type_=Customer.owned_since.type)


def _matching(rule: RecycleRule, *conditions):
    """Owned live customers in the rule's levels and tags, with when their clock started."""
    since = _since(rule)
    stmt = select(Customer, since).where(Customer.owner_id.is_not(None), Customer.deleted_at.is_(None),
                                         *(condition(since) for condition in conditions))
    if rule.levels:
        stmt = stmt.where(Customer.level.in_(rule.levels))
    if rule.tag_ids:
        stmt = stmt.where(Customer.tag_ids.overlap(rule.tag_ids))
    return stmt


def _due(rule: RecycleRule, today: date, zone: ZoneInfo):
    """Customers the rule returns today: `days` whole days have passed since the clock started and, when
    the rule warns, the warning (sent after the clock started) is at least warn_days_before days old."""
    conditions = [lambda since: since < _midnight(today - timedelta(days=rule.days), zone)]
    if rule.warn_days_before:
        warned_by = _midnight(today - timedelta(days=rule.warn_days_before - 1), zone)
        conditions += [lambda since: Customer.recycle_warned_at > since,
                       lambda since: Customer.recycle_warned_at < warned_by]
    return _matching(rule, *conditions)


def _warnable(rule: RecycleRule, today: date, zone: ZoneInfo):
    """Customers within warn_days_before days of returning, not warned since their clock started."""
    start = _midnight(today - timedelta(days=rule.days - rule.warn_days_before), zone)
    return _matching(rule, lambda since: since < start,
                     lambda since: or_(Customer.recycle_warned_at.is_(None), Customer.recycle_warned_at <= since))


def return_day(rule: RecycleRule, since: datetime, warned_at: datetime | None, today: date, zone: ZoneInfo) -> date:
    """The day a customer goes back: `days` whole days after its clock started, and never sooner than
    warn_days_before days after its warning (today's, when it has not been warned yet)."""
    clock_ends = since.astimezone(zone).date() + timedelta(days=rule.days + 1)
    warned = warned_at.astimezone(zone).date() if warned_at and warned_at > since else today
    return max(clock_ends, warned + timedelta(days=rule.warn_days_before))


def active_rules() -> list[RecycleRule]:
    return list(db.session.scalars(select(RecycleRule).where(RecycleRule.active).order_by(RecycleRule.id)))


def lock_tenant_run() -> bool:
    """One run per tenant at a time (cron and an operator's command may overlap); False when one is running."""
    return bool(db.session.scalar(text("SELECT pg_try_advisory_xact_lock(5011, :tenant)"),
                                  {"tenant": current_tenant().id}))


def run_rules() -> Run:
    """Apply the active rules once: returns first, then warnings. A second run the same day changes nothing."""
    today, zone = tenant_today()
    run, rules_now = Run(), active_rules()
    for rule in rules_now:
        for customer, _since_at in db.session.execute(_due(rule, today, zone).order_by(Customer.id)).unique().all():
            _recycle(customer, rule)
            run.recycled.append(customer)
    now = utcnow()
    for rule in rules_now:
        if not rule.warn_days_before:
            continue
        for customer, since in db.session.execute(_warnable(rule, today, zone).order_by(Customer.id)).unique().all():
            run.warned.append(Notice(customer, rule, return_day(rule, since, None, today, zone)))
            customer.recycle_warned_at = now
        db.session.flush()  # later rules' queries see these warnings
    run.emails = _send_warnings(run.warned)
    return run


def _recycle(customer: Customer, rule: RecycleRule) -> None:
    previous = customer.owner_id
    customer.owner_id, customer.updated_at = None, utcnow()
    customer.pool_reason = rule.name
    record("update", "customer", customer.id, summary=customer.name,
           changes={"owner_id": [previous, None], "pool_reason": [None, rule.name]})
    timeline.log("pool_recycled", customer_id=customer.id, rule=rule.name, owner_id=previous)
    webhooks.emit("customer.updated", customer)
    db.session.flush()  # later rules' queries no longer see it as owned


def returning_soon(member: Member, limit: int = 20) -> list[Notice]:
    """The member's customers that an active rule returns to the pool within its warning days, soonest first."""
    today, zone = tenant_today()
    soonest: dict[int, Notice] = {}
    for rule in active_rules():
        start = _midnight(today - timedelta(days=rule.days - rule.warn_days_before), zone)
        stmt = (_matching(rule, lambda since, start=start: since < start).where(Customer.owner_id == member.id)
                .order_by(_since(rule), Customer.id).limit(limit))
        for customer, since in db.session.execute(stmt).unique().all():
            day = return_day(rule, since, customer.recycle_warned_at, today, zone)
            if customer.id not in soonest or day < soonest[customer.id].day:
                soonest[customer.id] = Notice(customer, rule, day)
    return sorted(soonest.values(), key=lambda notice: (notice.day, notice.customer.name))[:limit]


def _send_warnings(notices: list[Notice]) -> int:
    """One email per person: each owner about their customers, and (for rules that say so) each owner's
    team manager about the team's. Returns how many emails were queued."""
    by_member: dict[int, list[Notice]] = {}
    for notice in notices:
        owner = notice.customer.owner
        by_member.setdefault(owner.id, []).append(notice)
        manager_id = _manager_of(owner) if notice.rule.notify_manager else None
        if manager_id and manager_id != owner.id:
            by_member.setdefault(manager_id, []).append(Notice(notice.customer, notice.rule, notice.day, owner.name))
    sent = 0
    for member_id, listed in by_member.items():
        member = db.session.get(Member, member_id)
        if member is not None and member.active:
            _email_warning(member, listed)
            sent += 1
    return sent


def _manager_of(member: Member) -> int | None:
    if member.team_id is None:
        return None
    return db.session.scalar(select(Team.manager_id).where(Team.id == member.team_id))


def _email_warning(member: Member, notices: list[Notice]) -> None:
    """The warning in the reader's language, through the platform outbox (an integration reads no email)."""
    from crm.accounts.models import Account
    from crm.notify.email import queue_email

    if not member.is_person:
        return
    account = db.session.get(Account, member.account_id) if member.account_id is not None else None
    language = account.language if account is not None else "en"
    tenant = current_tenant()
    with force_locale(language):
        subject = ngettext("%(num)d customer returns to the pool soon", "%(num)d customers return to the pool soon",
                           len(notices))
        lines = [_("Hello %(name)s,", name=member.name), "",
                 _("Without a follow-up these customers in %(workspace)s go back to the shared pool:",
                   workspace=tenant.name), ""]
        listed = sorted(notices, key=lambda n: (n.day, n.customer.name))
        for notice in listed[:MAIL_LIST_LIMIT]:
            owner = _(" (owner: %(name)s)", name=notice.owner_name) if notice.owner_name else ""
            lines.append(_("- %(customer)s%(owner)s on %(day)s, rule: %(rule)s", customer=notice.customer.name,
                           owner=owner, day=format_date(notice.day, "medium"), rule=notice.rule.name))
            lines.append(f"  {absolute_url('customers.show', customer_id=notice.customer.id)}")
        if len(listed) > MAIL_LIST_LIMIT:
            lines.append(_("…and %(n)d more: see the customer pool page.", n=len(listed) - MAIL_LIST_LIMIT))
        body = "\n".join([*lines, "", _("Log a follow-up to keep a customer.")])
    queue_email(account.email if account is not None else member.email, subject, body)
