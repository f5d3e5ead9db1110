"""Pool rules and queries: the pool list, claims and assignments within each role's limit, releases with a
reason, the recycle rules and their daily run (returns to the pool, warnings to owners first)."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import force_locale, format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import defer, lazyload

from crm import crypto, listing, validation
from crm.audit.service import record
from crm.customers import queries as customers
from crm.customers.models import LEVELS, Customer, Tag
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.members.access import reached_members
from crm.members.models import Member, Setting, Team
from crm.pool.models import KINDS, RecycleRule
from crm.timeline import service as timeline
from crm.validation import record_id
from tenants.binding import current_tenant

PAGE_SIZE = 25
MAIL_LIST_LIMIT = 50  # customers named in one warning email; a first run of a new rule may find thousands
MANAGER_SCOPES = ("team", "subteams", "all")
NEWEST_IN_POOL = (listing.Key(Customer.pooled_at, datetime, descending=True, nullable=True),
                  listing.Key(Customer.id, descending=True))


# The pool list

@dataclass
class PoolQuery:
    """What the pool list was asked for: search, level, tag and the keyset cursor."""

    q: str = ""
    level: str = ""
    tag: int | None = None
    after: str = ""

    @classmethod
    def from_args(cls, args) -> "PoolQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        return cls(q=validation.clipped(args.get("q"), 100),
                   level=args.get("level", "") if args.get("level") in LEVELS else "",
                   tag=record_id(args.get("tag")), after=args.get("after", ""))

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"q": self.q, "level": self.level, "tag": self.tag, "after": "", **changes}
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.level or self.tag)


def in_pool():
    """Live customers without an owner."""
    return select(Customer).where(Customer.owner_id.is_(None), Customer.deleted_at.is_(None))


def _filtered(viewer: Member, query: PoolQuery):
    """The customer list's search (GIN-indexed grams), level and tag conditions on the pool."""
    wanted = customers.CustomerQuery(q=query.q, level=query.level, tags=[query.tag] if query.tag else [])
    return customers.filtered(in_pool(), viewer, wanted)


def list_pool(viewer: Member, query: PoolQuery, limit: int = PAGE_SIZE) -> tuple[list[Customer], str]:
    """One page of pool customers, most recently pooled first, and the next page's cursor ('' on the last)."""
    stmt = _filtered(viewer, query).options(
        lazyload(Customer.owner), defer(Customer.notes), defer(Customer.address), defer(Customer.custom_sensitive),
        defer(Customer.id_number_enc), defer(Customer.bank_account_enc))
    return listing.page(stmt, NEWEST_IN_POOL, query.after, limit)


def count_pool(viewer: Member, query: PoolQuery) -> int:
    return db.session.scalar(_filtered(viewer, query).with_only_columns(func.count(Customer.id)).order_by(None))


def masks_contacts(viewer: Member) -> bool:
    """Phones and emails of pool customers are masked until claimed, except for roles that see every
    customer anyway (customers/view scope "all")."""
    return viewer.role.scope("customers", "view") != "all"


def mask_phone(value: str | None) -> str:
    """`**** 8000`: the last digits only."""
    return crypto.mask(value)


def mask_email(value: str | None) -> str:
    """`z***@example.com`: the domain says which company; the person stays private until claimed."""
    if not value or "@" not in value:
        return crypto.mask(value)
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


# Claims, assignments, releases

def owned_count(member_id: int) -> int:
    """How many live customers the member owns now."""
    return db.session.scalar(select(func.count(Customer.id)).where(Customer.owner_id == member_id,
                                                                   Customer.deleted_at.is_(None)))


def _lock_pooled(ids) -> list[Customer]:
    """The chosen customers still in the pool, locked: two people claiming one customer cannot both get it."""
    ids = [i for i in map(record_id, ids) if i][:1000]
    if not ids:
        raise Invalid({"ids": _("Choose at least one customer.")})
    stmt = in_pool().where(Customer.id.in_(ids)).options(lazyload(Customer.owner)).with_for_update(of=Customer)
    found = list(db.session.scalars(stmt.order_by(Customer.id)).unique())
    if not found:
        raise Invalid({"ids": _("None of the chosen customers is in the pool any more.")})
    return found


def _check_limit(member: Member, adding: int, claimant: bool) -> None:
    """Refuse when the member would own more customers than the role's pool limit."""
    limit = member.role.pool_limit
    if limit is None:
        return
    # Claims for one member wait for each other, so two at once cannot both pass the count.
    db.session.execute(select(Member.id).where(Member.id == member.id).with_for_update())
    owned = owned_count(member.id)
    if owned + adding <= limit:
        return
    left = max(limit - owned, 0)
    if claimant:
        message = _("You may own at most %(limit)d customers and own %(owned)d now, so you can claim "
                    "%(left)d more.", limit=limit, owned=owned, left=left)
    else:
        message = _("%(name)s may own at most %(limit)d customers and owns %(owned)d now, so %(left)d more can "
                    "be assigned.", name=member.name, limit=limit, owned=owned, left=left)
    raise Invalid({"ids": message})


def _give(customer: Customer, member: Member, kind: str) -> None:
    """Make `member` the owner of a pool customer (the owner-change listener restarts the recycle clock)."""
    customer.owner_id, customer.updated_at = member.id, utcnow()
    record("update", "customer", customer.id, summary=customer.name, changes={"owner_id": [None, member.id]})
    timeline.log(kind, customer_id=customer.id, member=member.name)


def claim(viewer: Member, ids) -> list[Customer]:
    """Take pool customers for the viewer, within the role's limit; all or none."""
    chosen = _lock_pooled(ids)
    _check_limit(viewer, len(chosen), claimant=True)
    for customer in chosen:
        _give(customer, viewer, "pool_claimed")
    return chosen


def claim_one(viewer: Member, customer_id: int) -> Customer:
    """Claim one customer; one that has an owner already is refused if the viewer may see it, else not found."""
    if db.session.scalar(in_pool().where(Customer.id == customer_id).with_only_columns(Customer.id)) is None:
        taken = customers.get_customer(viewer, customer_id, "edit")
        raise Invalid({"ids": _("%(name)s already has an owner.", name=taken.name)})
    return claim(viewer, [customer_id])[0]


def may_assign(viewer: Member) -> bool:
    """Managers assign: a role that edits customers of a team, a team and its sub-teams, or everyone."""
    return viewer.role.scope("customers", "edit") in MANAGER_SCOPES


def assignees(viewer: Member) -> list[Member]:
    """Active members the viewer may give pool customers to."""
    if not may_assign(viewer):
        return []
    stmt = select(Member).where(Member.active).order_by(Member.name)
    scope = viewer.role.scope("customers", "edit")
    if scope != "all":
        stmt = stmt.where(Member.id.in_(reached_members(viewer, scope == "subteams")))
    return list(db.session.scalars(stmt).unique())


def assign(viewer: Member, ids, member_id) -> tuple[list[Customer], Member]:
    """Give pool customers to a member within the viewer's reach, within that member's limit; all or none."""
    if not may_assign(viewer):
        raise Invalid({"member_id": _("Only managers can assign customers from the pool.")})
    member = next((m for m in assignees(viewer) if m.id == record_id(member_id)), None)
    if member is None:
        raise Invalid({"member_id": _("Choose an active member of your team.")})
    chosen = _lock_pooled(ids)
    _check_limit(member, len(chosen), claimant=member.id == viewer.id)
    for customer in chosen:
        _give(customer, member, "pool_assigned")
    return chosen, member


def may_release(viewer: Member, customer: Customer) -> bool:
    """Whether the viewer may send this owned customer back to the pool (its owner, or edit scope over it)."""
    if customer.owner_id is None:
        return False
    stmt = customers.visible(viewer, "edit").where(Customer.id == customer.id).with_only_columns(Customer.id)
    return db.session.scalar(stmt) is not None


def release(viewer: Member, customer: Customer, reason) -> Customer:
    """Send a customer the viewer may edit back to the pool, with a reason on its timeline."""
    reason = validation.text(reason, "reason", 200, required=_("Say why the customer goes back to the pool."))
    if customer.owner_id is None:
        raise Invalid({"reason": _("This customer is already in the pool.")})
    previous = customer.owner_id
    customer.owner_id, customer.updated_at = None, utcnow()
    customer.pool_reason = reason
    record("update", "customer", customer.id, summary=customer.name,
           changes={"owner_id": [previous, None], "pool_reason": [None, reason]})
    timeline.log("pool_released", customer_id=customer.id, reason=reason)
    return customer


# Recycle rules

def rules() -> list[RecycleRule]:
    return list(db.session.scalars(select(RecycleRule).order_by(RecycleRule.active.desc(), RecycleRule.id)))


def get_rule(rule_id: int) -> RecycleRule:
    rule = db.session.get(RecycleRule, rule_id)
    if rule is None:
        raise NotFound()
    return rule


def clean_rule(data: dict, rule: RecycleRule | None = None) -> dict:
    """Validate a rule's fields; every problem reported at its field at once."""
    cleaned, errors = {}, {}
    checks = {
        "name": lambda: _rule_name(data.get("name"), rule),
        "kind": lambda: validation.choice(data.get("kind"), "kind", KINDS),
        "days": lambda: validation.whole_number(data.get("days"), "days", 1, 3650),
        "levels": lambda: [validation.choice(level, "levels", LEVELS)
                           for level in dict.fromkeys(data.get("levels") or [])],
        "tag_ids": lambda: _tags(data.get("tag_ids") or []),
    }
    for name, check in checks.items():
        try:
            cleaned[name] = check()
        except Invalid as error:
            errors.update(error.errors)
    try:
        cleaned["warn_days_before"] = _warn_days(data.get("warn_days_before"), cleaned.get("days"))
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors)
    cleaned["notify_manager"], cleaned["active"] = bool(data.get("notify_manager")), bool(data.get("active"))
    return cleaned


def _warn_days(raw, days: int | None) -> int:
    warn = validation.whole_number(raw, "warn_days_before", 0, 3649)
    if days is not None and warn >= days:
        raise Invalid({"warn_days_before": _("Warn fewer days ahead than the rule's %(days)d days.", days=days)})
    return warn


def _rule_name(raw, rule: RecycleRule | None) -> str:
    name = validation.text(raw, "name", 80, required=_("Enter a name of 1 to 80 characters."))
    same = select(RecycleRule.id).where(func.lower(RecycleRule.name) == name.lower())
    if rule is not None:
        same = same.where(RecycleRule.id != rule.id)
    if db.session.scalar(same) is not None:
        raise Invalid({"name": _("A rule with this name exists.")})
    return name


def _tags(raw) -> list[int]:
    ids = sorted({record_id(value) or -1 for value in raw})
    known = set(db.session.scalars(select(Tag.id).where(Tag.id.in_(ids)))) if ids else set()
    if set(ids) - known:
        raise Invalid({"tag_ids": _("Choose one of the listed values.")})
    return ids


def save_rule(rule: RecycleRule | None, data: dict) -> RecycleRule:
    """Create a rule (rule None) or change one; audited."""
    cleaned = clean_rule(data, rule)
    created = rule is None
    rule = rule or RecycleRule()
    for name, value in cleaned.items():
        setattr(rule, name, value)
    db.session.add(rule)
    db.session.flush()
    record("create" if created else "update", "settings", rule.id, summary=_("Recycle rule %(name)s", name=rule.name))
    return rule


def set_rule_active(rule: RecycleRule, active: bool) -> None:
    rule.active = active
    record("update", "settings", rule.id, summary=_("Recycle rule %(name)s", name=rule.name),
           changes={"active": [not active, active]})


def delete_rule(rule: RecycleRule) -> None:
    record("delete", "settings", rule.id, summary=_("Recycle rule %(name)s", name=rule.name))
    db.session.delete(rule)


# The daily run

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
    row = db.session.get(Setting, "timezone")
    try:
        zone = ZoneInfo(row.value if row is not None and isinstance(row.value, str) else "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Asia/Shanghai")
    return utcnow().astimezone(zone).date(), zone


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _since(rule: RecycleRule):
    """When each customer's clock started for this rule: its last follow-up (or last won deal), or the
    owner getting it when that is later."""
    owned = func.coalesce(Customer.owned_since, Customer.created_at)
    if rule.kind == "no_follow_up":
        return func.greatest(Customer.last_contact_at, owned, type_=Customer.owned_since.type)
    from crm.pipelines.models import Deal

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
    timeline.log("pool_recycled", customer_id=customer.id, rule=rule.name)
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
    """The warning in the reader's language, through the platform outbox."""
    from crm.accounts.models import Account
    from crm.notify.email import queue_email

    account = db.session.get(Account, member.account_id)
    language = account.language if account is not None else "en"
    tenant = current_tenant()
    base = f"{current_app.config['BASE_URL']}/{tenant.slug}"
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
            lines.append(f"  {base}/customers/{notice.customer.id}")
        if len(listed) > MAIL_LIST_LIMIT:
            lines.append(_("…and %(n)d more: see the customer pool page.", n=len(listed) - MAIL_LIST_LIMIT))
        body = "\n".join([*lines, "", _("Log a follow-up to keep a customer.")])
    queue_email(account.email if account is not None else member.email, subject, body)
