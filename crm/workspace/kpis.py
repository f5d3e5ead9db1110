"""The key numbers of a member's scope (the home page's cards, the scheduled summary): counted from the same scoped
bases as the reports (crm/reports/service.py), so a rep's numbers are the rep's own and a manager's the team's.

Each record kind is one aggregate, its measures side by side with FILTER: flows (new customers, deals won, order
revenue, follow-ups done) in a period and the one before it, snapshots (follow-ups overdue and due today, the
weighted open pipeline, open tickets) now. Money is summed in the workspace's currency only, as the reports do."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import url_for
from sqlalchemy import and_, func, or_, select

from crm.customers.models import Customer
from crm.customers.queries import CustomerQuery
from crm.deals.deal_queries import DealQuery
from crm.deals.models import Deal
from crm.extensions import db, utcnow
from crm.followups.models import Activity
from crm.members.access import scoped
from crm.members.models import Member
from crm.orders.models import Order
from crm.orders.queries import OrderQuery
from crm.reports import service as reports
from crm.reports.periods import Period, bucket_start, local_today
from crm.settings import day_start, workspace_currency, workspace_zone
from crm.targets import months
from crm.targets.actuals import NOT_REVENUE
from crm.targets.service import Subject, in_force, teams_in_reach
from crm.tickets.models import ACTIVE, Ticket


@dataclass
class Kpis:
    """The numbers of one scope: `now` for the flows in `period`, `before` for the period before it."""

    period: Period
    previous: Period
    now: dict = field(default_factory=dict)
    before: dict = field(default_factory=dict)
    overdue: int = 0
    due_today: int = 0
    open_deals: int = 0
    weighted_pipeline: Decimal = Decimal("0.00")
    open_tickets: int = 0
    won_target: Decimal | None = None
    currency: str = ""

    @property
    def target_percent(self) -> int | None:
        """How much of the won-amount target is done, in whole percent; None without a target."""
        if not self.won_target:
            return None
        return int(self.now["won_amount"] * 100 // self.won_target)


def this_month(today: date | None = None) -> tuple[Period, Period]:
    """This month up to today, and the whole month before it."""
    today = today or local_today()
    first = today.replace(day=1)
    before = months.shift(first, -1)
    return Period(first, today), Period(before, first - timedelta(days=1))


def last_week(today: date) -> tuple[Period, Period]:
    """The last whole week (from the workspace's week start) before `today`'s, and the week before that."""
    start = bucket_start(today, "week") - timedelta(days=7)
    return Period(start, start + timedelta(days=6)), Period(start - timedelta(days=7), start - timedelta(days=1))


def yesterday(today: date) -> tuple[Period, Period]:
    """Yesterday and the day before."""
    day = today - timedelta(days=1)
    return Period(day, day), Period(day - timedelta(days=1), day - timedelta(days=1))


def _during(column, period: Period):
    start, end = period.bounds()
    return and_(column >= start, column < end)


def _either(column, kpis: Kpis):
    """Within the period or the one before: narrows the scan to the rows any FILTER can count."""
    return and_(column >= kpis.previous.bounds()[0], column < kpis.period.bounds()[1])


def _sum(value, *where):
    return func.coalesce(func.sum(value).filter(*where), 0)


def measure(viewer: Member, period: Period, previous: Period, now: datetime | None = None,
            with_target: bool = False) -> Kpis:
    """Every key number of the viewer's reports scope: flows in `period` and `previous`, snapshots at `now`."""
    now = now or utcnow()
    kpis = Kpis(period, previous, currency=workspace_currency())
    _customers(viewer, kpis)
    _deals(viewer, kpis)
    _orders(viewer, kpis)
    _follow_ups(viewer, kpis, now)
    _tickets(viewer, kpis)
    if with_target:
        kpis.won_target = won_target(viewer, period.start.replace(day=1), kpis.currency)
    return kpis


def _customers(viewer: Member, kpis: Kpis) -> None:
    created = reports.customers(viewer, CustomerQuery()).with_only_columns(
        func.count().filter(_during(Customer.created_at, kpis.period)),
        func.count().filter(_during(Customer.created_at, kpis.previous))).where(
        _either(Customer.created_at, kpis)).order_by(None)
    kpis.now["new_customers"], kpis.before["new_customers"] = db.session.execute(created).one()


def _deals(viewer: Member, kpis: Kpis) -> None:
    mine, won = Deal.currency == kpis.currency, Deal.status == "won"
    stmt = reports.deals(viewer, DealQuery()).with_only_columns(
        func.count().filter(Deal.status == "open"),
        func.round(_sum(Deal.amount * Deal.probability, Deal.status == "open", mine) / 100, 2),
        _sum(Deal.amount, won, mine, _during(Deal.closed_at, kpis.period)),
        _sum(Deal.amount, won, mine, _during(Deal.closed_at, kpis.previous))).where(
        or_(Deal.status == "open", _either(Deal.closed_at, kpis))).order_by(None)
    kpis.open_deals, kpis.weighted_pipeline, kpis.now["won_amount"], kpis.before["won_amount"] = (
        db.session.execute(stmt).one())


def _orders(viewer: Member, kpis: Kpis) -> None:
    net = Order.total - func.coalesce(Order.refunded_amount, 0)
    counted = and_(Order.status.not_in(NOT_REVENUE), Order.currency == kpis.currency)
    stmt = scoped(select(_sum(net, counted, _during(Order.created_at, kpis.period)),
                         _sum(net, counted, _during(Order.created_at, kpis.previous))),
                  viewer, "reports", "view", Order).select_from(Order).where(_either(Order.created_at, kpis))
    kpis.now["order_revenue"], kpis.before["order_revenue"] = db.session.execute(stmt).one()


def _follow_ups(viewer: Member, kpis: Kpis, now: datetime) -> None:
    today = now.astimezone(workspace_zone()).date()
    start, end = day_start(today), day_start(today + timedelta(days=1))
    planned = Activity.done_at.is_(None)
    stmt = scoped(select(func.count().filter(planned, Activity.due_at < start),
                         func.count().filter(planned, Activity.due_at >= start, Activity.due_at < end),
                         func.count().filter(_during(Activity.done_at, kpis.period)),
                         func.count().filter(_during(Activity.done_at, kpis.previous))),
                  viewer, "reports", "view", Activity).select_from(Activity).where(
        or_(planned, _either(Activity.done_at, kpis)))
    kpis.overdue, kpis.due_today, kpis.now["follow_ups_done"], kpis.before["follow_ups_done"] = (
        db.session.execute(stmt).one())


def _tickets(viewer: Member, kpis: Kpis) -> None:
    stmt = scoped(select(func.count()).where(Ticket.status.in_(ACTIVE)), viewer, "reports", "view", Ticket)
    kpis.open_tickets = db.session.scalar(stmt.select_from(Ticket))


def target_subjects(viewer: Member) -> list[Subject]:
    """Whose won-amount target the viewer's numbers are held against: the teams they manage (within their reach),
    else every top team under the "all" scope, else their own."""
    scope = viewer.role.scope("reports", "view")
    if scope == "own":
        return [Subject("member", viewer.id, viewer.name)]
    teams = teams_in_reach(viewer, "view")
    chosen = [t for t in teams if t.manager_id == viewer.id] or (
        [t for t in teams if t.parent_id is None] if scope == "all" else [])
    return [Subject("team", t.id, t.name) for t in chosen] or [Subject("member", viewer.id, viewer.name)]


def won_target(viewer: Member, month: date, currency: str) -> Decimal | None:
    """The won-amount targets in force in `month` for the viewer's subjects, summed; None when none is set."""
    goals = [row.won_amount for row in in_force(month, target_subjects(viewer)).values()
             if row.won_amount is not None and row.currency == currency]
    return sum(goals, Decimal("0.00")) if goals else None


def links(viewer: Member, kpis: Kpis) -> dict[str, str]:
    """Where each card leads: the list its number counts when the viewer may open it, else the reports."""
    period = kpis.period
    found = {
        "new_customers": reports.customer_list(viewer, CustomerQuery(created_from=period.start,
                                                                     created_to=period.end)),
        "won_amount": reports.deal_list(viewer, DealQuery(status="won", closed_from=period.start,
                                                          closed_to=period.end)),
        "weighted_pipeline": reports.deal_list(viewer, DealQuery(status="open")),
        "follow_ups": url_for("followups.index") if viewer.can("activities", "view") else None,
        "order_revenue": (url_for("orders.index", **OrderQuery(since=period.start, until=period.end).args())
                          if viewer.can("orders", "view") else None),
        "open_tickets": (url_for("tickets.index", status="active") if viewer.can("tickets", "view") else None),
    }
    fallback = url_for("reports.index", preset="month")
    return {key: link or fallback for key, link in found.items()}

