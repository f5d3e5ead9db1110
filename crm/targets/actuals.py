"""What members and teams did in a month, the four measures targets are set for, counted in SQL:

- won deal amount: deals won (status won, `closed_at`) in the month, in the workspace's currency only (amounts in
  other currencies are not converted, so they are left out);
- order revenue: orders placed (`created_at`) in the month in the workspace's currency, cancelled ones left out,
  refunded amounts taken off (a refund counts against the month the order was placed in);
- new customers: customers created in the month that the member owns now, the trash left out;
- follow-ups done: follow-ups the member did (`done_at`) in the month, logged interactions included.

A member's numbers are their records'; a team's are its members' and its sub-teams' members' (today's teams),
within what the viewer's Reports scope reaches."""
from datetime import date
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric, String, bindparam, cast, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from crm.customers.models import Customer
from crm.deals.models import Deal
from crm.extensions import db
from crm.followups.models import Activity
from crm.members.access import reached_members
from crm.members.models import Member, Team
from crm.orders.models import Order
from crm.settings import workspace_currency
from crm.targets import months
from crm.targets.models import COUNTS, MEASURES

NOT_REVENUE = ("cancelled", "refunded")  # a fully refunded order is worth nothing; a partial refund is subtracted


def zero() -> dict:
    return {measure: 0 if measure in COUNTS else Decimal("0.00") for measure in MEASURES}


def between(start, end, member_ids) -> dict[int, dict]:
    """{member id: {measure: value}} for the instants [start, end) (a report's period); members who did nothing are
    absent. One query."""
    return _counted(start, end, member_ids).get(None, {})


def by_month(wanted: list[date], member_ids) -> dict[date, dict[int, dict]]:
    """{month: {member id: {measure: value}}} for each of the `wanted` months (first days, one after another): one
    query over them all, each record counted in the workspace's local month it happened in, as `between` would
    count each month alone."""
    if not wanted:
        return {}
    starts = [months.bounds(month)[0] for month in wanted]
    counted = _counted(starts[0], months.bounds(wanted[-1])[1], member_ids, starts)
    return {month: counted.get(number, {}) for number, month in enumerate(wanted, 1)}


def _counted(start, end, member_ids, starts=None) -> dict[int | None, dict[int, dict]]:
    """{month number (1 for the month from starts[0] ...; None without `starts`): {member id: {measure: value}}}
    for the instants [start, end). The months are cut at their first instants (width_bucket, a binary search),
    not by turning every time stamp into local time: that doubled the cost of a year's 200,000 records."""
    if not member_ids:
        return {}
    currency, ids = workspace_currency(), list(member_ids)
    cuts = bindparam("starts", starts, ARRAY(DateTime(timezone=True))) if starts else None

    def part(measure: str, owner, at, value, *where):
        month = func.width_bucket(at, cuts) if starts else literal(None, Integer)
        return (select(owner.label("member_id"), month.label("month"), literal(measure, String).label("measure"),
                       cast(value, Numeric).label("value"))
                .where(owner.in_(ids), at >= start, at < end, *where)
                .group_by(owner, *([month] if starts else [])))

    parts = union_all(
        part("won_amount", Deal.owner_id, Deal.closed_at, func.sum(Deal.amount), Deal.status == "won",
             Deal.currency == currency),
        part("order_revenue", Order.owner_id, Order.created_at,
             func.sum(Order.total - func.coalesce(Order.refunded_amount, 0)), Order.status.not_in(NOT_REVENUE),
             Order.currency == currency),
        part("new_customers", Customer.owner_id, Customer.created_at, func.count(), Customer.deleted_at.is_(None)),
        part("follow_ups", Activity.owner_id, Activity.done_at, func.count()),
    )
    found: dict[int | None, dict[int, dict]] = {}
    for member_id, month, measure, value in db.session.execute(parts):
        found.setdefault(month, {}).setdefault(member_id, zero())[measure] = int(value) if measure in COUNTS else value
    return found


def team_members(viewer, team_ids) -> dict[int, set[int]]:
    """{team id: ids of the members in it or in a team below it} that the viewer's Reports scope reaches."""
    if not team_ids:
        return {}
    tree = select(Team.id.label("root"), Team.id.label("team_id")).where(Team.id.in_(list(team_ids)))
    tree = tree.cte("tree", recursive=True)
    tree = tree.union(select(tree.c.root, Team.id).join(tree, Team.parent_id == tree.c.team_id))
    stmt = select(tree.c.root, Member.id).join(Member, Member.team_id == tree.c.team_id)
    scope = viewer.role.scope("reports", "view")
    if scope in ("team", "subteams"):
        stmt = stmt.where(Member.id.in_(reached_members(viewer, scope == "subteams")))
    elif scope != "all":
        return {}
    found: dict[int, set[int]] = {}
    for team_id, member_id in db.session.execute(stmt):
        found.setdefault(team_id, set()).add(member_id)
    return found


def for_subjects(viewer, wanted: list[date], subjects) -> dict[date, dict[str, dict]]:
    """{month: {subject key: {measure: value}}} for each of the `wanted` months (first days, in order), for members
    and teams the viewer may see (see the module docstring)."""
    teams = team_members(viewer, [s.id for s in subjects if s.kind == "team"])
    members = {s.id for s in subjects if s.kind == "member"}.union(*teams.values())
    found = {}
    for month, done in by_month(wanted, members).items():
        found[month] = {}
        for subject in subjects:
            ids = teams.get(subject.id, set()) if subject.kind == "team" else {subject.id}
            found[month][subject.key] = {measure: sum((done[i][measure] for i in ids if i in done),
                                                      zero()[measure]) for measure in MEASURES}
    return found
