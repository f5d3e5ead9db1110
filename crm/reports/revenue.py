"""The Revenue pack: order revenue over time, by status, by product, top customers, repeat purchase and RFM segments.

Revenue is what targets count as order revenue (crm/targets/actuals.py): orders placed in the period in the
workspace's currency, cancelled and fully refunded ones left out, partial refunds taken off. Orders in other
currencies are not converted: a note says how many were left out. Orders count in the scope of their owner; the
customer filters (tag, level, source) narrow by the order's customer."""
from flask import url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select

from crm.customers import queries as customer_queries
from crm.customers.models import Customer
from crm.extensions import db
from crm.members.access import scoped
from crm.members.models import Member
from crm.orders.forms import STATUS_LABELS
from crm.orders.models import STATUSES, Order, OrderLine
from crm.orders.queries import OrderQuery
from crm.payments.forms import STATE_LABELS as PAYMENT_STATE_LABELS
from crm.payments.state import STATES as PAYMENT_STATES
from crm.payments.state import state_condition
from crm.products.models import Product
from crm.reports import charts, service
from crm.reports.catalogue import add_pack, report
from crm.reports.periods import Period, ReportQuery
from crm.reports.results import Cell, Column, Figure, Result, Table, ratio
from crm.settings import workspace_currency, workspace_zone
from crm.targets.actuals import NOT_REVENUE

add_pack("revenue", _l("Revenue"))

REVENUE_FILTERS = ("owner", "team", "tag", "level", "source")
TOP = 12
TOP_CUSTOMERS = 10
SEGMENT_LIST = 100  # customers a segment's list shows, biggest spenders first
NET = Order.total - func.coalesce(Order.refunded_amount, 0)
SEGMENTS = {"champions": _l("Champions"), "loyal": _l("Loyal"), "promising": _l("Promising"),
            "attention": _l("Need attention"), "at_risk": _l("At risk"), "lost": _l("Lost customers")}


def orders(viewer: Member, query: ReportQuery):
    """Orders the viewer's reports reach (by the order's owner), narrowed by the owner and team filters and by the
    customer's tag, level and source."""
    stmt = scoped(select(Order), viewer, "reports", "view", Order)
    if query.owner:
        stmt = stmt.where(Order.owner_id == (viewer.id if query.owner == "me" else int(query.owner)))
    if query.team:
        stmt = stmt.where(Order.owner_id.in_(select(Member.id).where(Member.team_id == query.team)))
    if query.tag or query.level or query.source:
        attributes = customer_queries.filtered(select(Customer.id), viewer, query.customers(owner="", team=None))
        stmt = stmt.where(Order.customer_id.in_(attributes))
    return stmt


def counted(viewer: Member, query: ReportQuery, period: Period):
    """The orders whose revenue counts: placed in the period, in the workspace's currency, not cancelled or
    fully refunded."""
    start, end = period.bounds()
    return orders(viewer, query).where(Order.created_at >= start, Order.created_at < end,
                                       Order.status.not_in(NOT_REVENUE), Order.currency == workspace_currency())


def _elsewhere_note(viewer: Member, query: ReportQuery) -> list[str]:
    start, end = query.period.bounds()
    elsewhere = service.count(orders(viewer, query).where(
        Order.created_at >= start, Order.created_at < end, Order.status != "cancelled",
        Order.currency != workspace_currency()))
    if not elsewhere:
        return []
    return [_("%(count)d orders in other currencies are left out (amounts in %(currency)s).", count=elsewhere,
              currency=workspace_currency())]


def _order_list(viewer: Member, query: ReportQuery, **changes) -> str | None:
    """The order list with these orders, when it can show exactly them (it has no team or customer filters)."""
    if query.team or query.tag or query.level or query.source or not viewer.can("orders", "view"):
        return None
    return url_for("orders.index", **OrderQuery(owner=query.owner, since=query.period.start,
                                                until=query.period.end).args(**changes))


def _customer_page(viewer: Member, customer_id: int) -> str | None:
    return url_for("customers.show", customer_id=customer_id) if viewer.can("customers", "view") else None


def _totals(viewer: Member, query: ReportQuery, period: Period) -> tuple:
    """Orders, revenue and the average order value in the period."""
    n, revenue = db.session.execute(counted(viewer, query, period).with_only_columns(
        func.count(), func.coalesce(func.sum(NET), 0)).order_by(None)).one()
    return n, revenue, revenue / n if n else None


@report("revenue", "revenue_amount", _l("Order revenue"), order=10, filters=REVENUE_FILTERS)
def amount(viewer: Member, query: ReportQuery) -> Result:
    """Revenue and orders per day, week or month, and the average order value."""
    period = query.period
    base = orders(viewer, query).where(Order.status.not_in(NOT_REVENUE), Order.currency == workspace_currency())
    per = service.per_bucket(base, Order.created_at, period, orders=func.count(), revenue=func.sum(NET))
    table = Table([Column(_("Period"), "text"), Column(_("Orders")), Column(_("Revenue"), "money"),
                   Column(_("Average order value"), "money")])
    bars, line = [], []
    for b in period.buckets():
        row = per.get(b.key)
        n, revenue = (row.orders, row.revenue) if row else (0, 0)
        bars.append(charts.point(revenue))
        line.append(charts.point(n))
        table.rows.append([Cell(b.label), Cell(n), Cell(revenue), Cell(revenue / n if n else None)])
    now, before = _totals(viewer, query, period), _totals(viewer, query, query.previous)
    chart = charts.categories([b.label for b in period.buckets()], [
        charts.series(_("Revenue"), bars), charts.series(_("Orders"), line, "line", yAxisIndex=1)], "money",
        second_axis="count")
    return Result(table, chart, [Figure(_("Revenue"), now[1], before[1], kind="money"),
                                 Figure(_("Orders"), now[0], before[0]),
                                 Figure(_("Average order value"), now[2], before[2], kind="money")],
                  notes=[_("Cancelled and fully refunded orders are left out; partial refunds are taken off."),
                         *_elsewhere_note(viewer, query)])


@report("revenue", "revenue_by_status", _l("Orders by status"), order=20, filters=REVENUE_FILTERS)
def by_status(viewer: Member, query: ReportQuery) -> Result:
    """Orders placed in the period by their status now, with their revenue (none for cancelled ones)."""
    start, end = query.period.bounds()
    in_currency = Order.currency == workspace_currency()
    rows = dict((status, (n, revenue)) for status, n, revenue in db.session.execute(
        orders(viewer, query).where(Order.created_at >= start, Order.created_at < end).with_only_columns(
            Order.status, func.count(), func.sum(NET).filter(in_currency, Order.status != "cancelled"))
        .group_by(Order.status).order_by(None)))
    table = Table([Column(_("Status"), "text"), Column(_("Orders")), Column(_("Revenue"), "money")])
    points = []
    for status in STATUSES:
        if status not in rows:
            continue
        n, revenue = rows[status]
        link = _order_list(viewer, query, status=status)
        points.append(charts.point(n, link, str(STATUS_LABELS[status])))
        table.rows.append([Cell(str(STATUS_LABELS[status])), Cell(n, link),
                           Cell(None if status == "cancelled" else revenue or 0)])
    total = sum(n for n, _revenue in rows.values())
    return Result(table, charts.pie(points) if points else None,
                  [Figure(_("Orders"), total, url=_order_list(viewer, query))],
                  notes=[_("Revenue in %(currency)s: fully refunded orders are worth nothing, partial refunds are "
                           "taken off.", currency=workspace_currency())])


@report("revenue", "revenue_by_payment", _l("Orders by payment"), order=25, filters=REVENUE_FILTERS)
def by_payment(viewer: Member, query: ReportQuery) -> Result:
    """Orders placed in the period (not cancelled) by what their online payments cover: unpaid, partly paid, paid."""
    start, end = query.period.bounds()
    in_currency = Order.currency == workspace_currency()
    placed = orders(viewer, query).where(Order.created_at >= start, Order.created_at < end,
                                         Order.status != "cancelled")
    table = Table([Column(_("Payment"), "text"), Column(_("Orders")), Column(_("Total"), "money"),
                   Column(_("Paid"), "money")])
    points = []
    for state in PAYMENT_STATES:
        n, total, paid = db.session.execute(placed.where(state_condition(state)).with_only_columns(
            func.count(), func.sum(Order.total).filter(in_currency),
            func.sum(Order.paid_amount).filter(in_currency)).order_by(None)).one()
        link = _order_list(viewer, query, paid=state)
        points.append(charts.point(n, link, str(PAYMENT_STATE_LABELS[state])))
        table.rows.append([Cell(str(PAYMENT_STATE_LABELS[state])), Cell(n, link), Cell(total or 0), Cell(paid or 0)])
    return Result(table, charts.pie(points) if any(p["value"] for p in points) else None,
                  notes=[_("Paid online through Stripe (payments less refunds), in %(currency)s; cancelled orders "
                           "are left out.", currency=workspace_currency())])


@report("revenue", "revenue_by_product", _l("Revenue by product"), order=30, filters=REVENUE_FILTERS)
def by_product(viewer: Member, query: ReportQuery) -> Result:
    """Products ranked by the amount of their order lines in the period's counted orders."""
    ids = counted(viewer, query, query.period).with_only_columns(Order.id).order_by(None)
    line_amount = func.sum(OrderLine.total)
    rows = db.session.execute(
        select(OrderLine.product_id, func.count(OrderLine.order_id.distinct()), func.sum(OrderLine.quantity),
               line_amount).where(OrderLine.order_id.in_(ids))
        .group_by(OrderLine.product_id).order_by(line_amount.desc(), OrderLine.product_id)).all()
    names = dict(db.session.execute(select(Product.id, Product.name).where(
        Product.id.in_([r[0] for r in rows if r[0]]))).all()) if rows else {}
    whole = sum(r[3] for r in rows)
    table = Table([Column(_("Product"), "text"), Column(_("Orders")), Column(_("Quantity")),
                   Column(_("Amount"), "money"), Column(_("Share"), "percent")])
    points, labels = [], []
    for product_id, n, quantity, total in rows[:TOP]:
        labels.append(names.get(product_id, f"#{product_id}") if product_id else _("Lines without a product"))
        points.append(charts.point(total))
        table.rows.append([Cell(labels[-1]), Cell(n), Cell(quantity), Cell(total),
                           Cell(ratio(total, whole))])
    rest = rows[TOP:]
    if rest:
        other = sum(r[3] for r in rest)
        labels.append(_("Other"))
        points.append(charts.point(other))
        table.rows.append([Cell(_("Other")), Cell(None), Cell(None), Cell(other), Cell(ratio(other, whole))])
    chart = charts.categories(labels, [charts.series(_("Amount"), points)], "money", horizontal=True)
    return Result(table, chart if points else None,
                  notes=[_("Line amounts, before the order's discount and partial refunds.")])


@report("revenue", "revenue_top_customers", _l("Top customers"), order=40, filters=REVENUE_FILTERS)
def top_customers(viewer: Member, query: ReportQuery) -> Result:
    """The customers with the most revenue in the period."""
    spent = func.sum(NET)
    rows = db.session.execute(
        counted(viewer, query, query.period).join(Customer, Customer.id == Order.customer_id)
        .with_only_columns(Customer.id, Customer.name, func.count(), spent)
        .group_by(Customer.id).order_by(spent.desc(), Customer.id).limit(TOP_CUSTOMERS)).all()
    whole = _totals(viewer, query, query.period)[1]
    table = Table([Column(_("Customer"), "text"), Column(_("Orders")), Column(_("Revenue"), "money"),
                   Column(_("Share"), "percent")])
    points = []
    for customer_id, name, n, revenue in rows:
        link = _customer_page(viewer, customer_id)
        points.append(charts.point(revenue, link))
        table.rows.append([Cell(name, link), Cell(n), Cell(revenue), Cell(ratio(revenue, whole))])
    chart = charts.categories([r[1] for r in rows], [charts.series(_("Revenue"), points)], "money", horizontal=True)
    return Result(table, chart if rows else None,
                  [Figure(_("Top customers' share"), ratio(sum(r[3] for r in rows), whole), kind="percent")])


def _orders_per_customer(viewer: Member, query: ReportQuery, period: Period) -> dict[int, int]:
    """{orders (5 meaning five or more): customers} among those who bought in the period."""
    per = counted(viewer, query, period).with_only_columns(func.least(func.count(), 5).label("n")).group_by(
        Order.customer_id).order_by(None).subquery()
    return dict(db.session.execute(select(per.c.n, func.count()).group_by(per.c.n)).all())


def _repeat_share(spread: dict[int, int]) -> float | None:
    return ratio(sum(c for n, c in spread.items() if n >= 2), sum(spread.values()))


@report("revenue", "revenue_repeat", _l("Repeat purchase"), order=50, filters=REVENUE_FILTERS)
def repeat_purchase(viewer: Member, query: ReportQuery) -> Result:
    """Buying customers by how many orders they placed in the period; the share with two or more."""
    spread, before = (_orders_per_customer(viewer, query, p) for p in (query.period, query.previous))
    buyers = sum(spread.values())
    table = Table([Column(_("Orders in the period"), "text"), Column(_("Customers")), Column(_("Share"), "percent")])
    labels, points = [], []
    for n in range(1, 6):
        labels.append(_("%(count)d or more", count=n) if n == 5 else str(n))
        points.append(charts.point(spread.get(n, 0)))
        table.rows.append([Cell(labels[-1]), Cell(spread.get(n, 0)), Cell(ratio(spread.get(n, 0), buyers))])
    chart = charts.categories(labels, [charts.series(_("Customers"), points)])
    return Result(table, chart if buyers else None, [
        Figure(_("Repeat purchase rate"), _repeat_share(spread), _repeat_share(before), kind="percent"),
        Figure(_("Buying customers"), buyers, sum(before.values()))],
        notes=[_("Customers with two or more orders in the period, of those who ordered in it.")])


def scores(viewer: Member, query: ReportQuery):
    """Per buying customer of the period: last order, orders, revenue, the R, F and M quintile scores (5 best) and
    the segment. Ties are broken by the other measures, then by the customer's id."""
    per = counted(viewer, query, query.period).with_only_columns(
        Order.customer_id.label("customer_id"), func.max(Order.created_at).label("last_at"),
        func.count().label("orders"), func.sum(NET).label("amount")).group_by(Order.customer_id).order_by(None)
    per = per.subquery()

    def quintile(*order):
        return func.ntile(5).over(order_by=(*order, per.c.customer_id))

    scored = select(per, quintile(per.c.last_at, per.c.orders, per.c.amount).label("r"),
                    quintile(per.c.orders, per.c.amount, per.c.last_at).label("f"),
                    quintile(per.c.amount, per.c.orders, per.c.last_at).label("m")).subquery()
    r, fm = scored.c.r, scored.c.f + scored.c.m
    segment = case((and_(r >= 4, fm >= 8), "champions"), (and_(r >= 3, fm >= 6), "loyal"), (r >= 4, "promising"),
                   (r == 3, "attention"), (fm >= 6, "at_risk"), else_="lost")
    return select(scored, segment.label("segment")).subquery()


def segment_list(query: ReportQuery, segment: str) -> str:
    """The reports page showing a segment's customers (the segment list report, below the segments)."""
    return url_for("reports.index", pack="revenue", **query.args(by=segment),
                   _anchor="report-revenue_rfm_customers")


@report("revenue", "revenue_rfm", _l("RFM segments"), order=60, filters=REVENUE_FILTERS)
def rfm(viewer: Member, query: ReportQuery) -> Result:
    """Buying customers of the period in segments by recency, frequency and money spent."""
    scored = scores(viewer, query)
    end = query.period.bounds()[1]
    days = func.avg(func.extract("epoch", end - scored.c.last_at) / 86400)
    rows = {key: (n, revenue, quiet) for key, n, revenue, quiet in db.session.execute(
        select(scored.c.segment, func.count(), func.sum(scored.c.amount), days).group_by(scored.c.segment))}
    buyers = sum(n for n, *_rest in rows.values())
    table = Table([Column(_("Segment"), "text"), Column(_("Customers")), Column(_("Share"), "percent"),
                   Column(_("Revenue"), "money"), Column(_("Days since the last order"), "days")])
    points = []
    for key, label in SEGMENTS.items():
        n, revenue, quiet = rows.get(key, (0, None, None))
        link = segment_list(query, key) if n else None
        if n:  # an empty slice only crowds the labels
            points.append(charts.point(n, link, str(label)))
        table.rows.append([Cell(str(label)), Cell(n, link), Cell(ratio(n, buyers)), Cell(revenue), Cell(quiet)])
    return Result(table, charts.pie(points) if buyers else None, [Figure(_("Buying customers"), buyers)], notes=[
        _("Scores 1-5 are quintiles of the period's buyers: recency (R) of the last order, frequency (F) and "
          "money (M). Champions: R 4-5 and F+M 8 or more; Loyal: R 3 or more and F+M 6 or more; Promising: R 4-5; "
          "Need attention: R 3; At risk: R 1-2 and F+M 6 or more; Lost customers: the rest."),
        _("Open a segment's number to list its customers.")])


@report("revenue", "revenue_rfm_customers", _l("Customers of an RFM segment"), order=70, filters=REVENUE_FILTERS)
def rfm_customers(viewer: Member, query: ReportQuery) -> Result:
    """The customers of one segment (the report's choice), biggest spenders first."""
    segment = query.by if query.by in SEGMENTS else next(iter(SEGMENTS))
    scored = scores(viewer, query)
    # The first customers picked before the names are joined: a join first reads the name of every customer of
    # the segment (thousands) to keep a hundred.
    first = (select(scored).where(scored.c.segment == segment)
             .order_by(scored.c.amount.desc(), scored.c.customer_id).limit(SEGMENT_LIST + 1).subquery())
    rows = db.session.execute(
        select(Customer.id, Customer.name, first.c.last_at, first.c.orders, first.c.amount, first.c.r, first.c.f,
               first.c.m).join(Customer, Customer.id == first.c.customer_id)
        .order_by(first.c.amount.desc(), Customer.id)).all()
    table = Table([Column(_("Customer"), "text"), Column(_("Last order"), "text"), Column(_("Orders")),
                   Column(_("Revenue"), "money"), Column("R"), Column("F"), Column("M")])
    zone = workspace_zone()
    for customer_id, name, last_at, n, spent, r, f, m in rows[:SEGMENT_LIST]:
        table.rows.append([Cell(name, _customer_page(viewer, customer_id)),
                           Cell(format_date(last_at.astimezone(zone).date())), Cell(n), Cell(spent),
                           Cell(r), Cell(f), Cell(m)])
    notes = [_("The first %(count)d customers, biggest spenders first.", count=SEGMENT_LIST)] \
        if len(rows) > SEGMENT_LIST else []
    return Result(table, notes=notes, choices=[(key, str(label)) for key, label in SEGMENTS.items()],
                  chosen=segment, picks=_("Segment"))
