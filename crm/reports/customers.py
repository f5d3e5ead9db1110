"""The Customers pack: new customers over time, how the customers divide (level, stage, source, province or
region, tag, a select field), new and returning buyers, follow-up coverage and the pool's health. SQL aggregates
per report; Python only walks the buckets and the result rows."""
from dataclasses import replace
from types import SimpleNamespace

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, case, func, literal, select, true, tuple_
from sqlalchemy.dialects.postgresql import JSONB

from crm.customers import addresses
from crm.customers.models import LEVELS, STAGE_LABELS, Customer, Tag
from crm.customers import queries as customer_queries
from crm.customers.queries import quiet_for
from crm.extensions import db
from crm.fields import definitions as fields
from crm.members.access import scoped
from crm.members.models import Member
from crm.orders.models import Order
from crm.pool import service as pool
from crm.reports import charts, service
from crm.reports.catalogue import report
from crm.reports.periods import ReportQuery, bucket_of
from crm.reports.results import Cell, Column, Figure, Result, Table, ratio
from crm.timeline.models import TimelineEvent

CUSTOMER_FILTERS = ("owner", "team", "tag", "level", "source")
TOP = 12  # categories shown by name; the rest are "Other"
QUIET_DAYS = (7, 30, 90)


@report("customers", "customers_new", _l("New customers"), order=10, filters=CUSTOMER_FILTERS)
def new_customers(viewer: Member, query: ReportQuery) -> Result:
    """Customers created per day, week or month of the period, and the running total of all customers."""
    period, base = query.period, service.customers(viewer, query.customers())
    counted = service.per_bucket(base, Customer.created_at, period, new=func.count())
    start, before = period.bounds()[0], query.previous.bounds()[0]
    total, previous = db.session.execute(base.where(Customer.created_at < start).with_only_columns(
        func.count(), func.count().filter(Customer.created_at >= before)).order_by(None)).one()
    table = Table([Column(_("Period"), "text"), Column(_("New customers")), Column(_("All customers"))])
    bars, line = [], []
    for bucket in period.buckets():
        new = counted[bucket.key].new if bucket.key in counted else 0
        total += new
        new_url = service.customer_list(viewer, query.customers(bucket))
        total_url = service.customer_list(viewer, query.customers(created_to=bucket.end))
        bars.append(charts.point(new, new_url))
        line.append(charts.point(total, total_url))
        table.rows.append([Cell(bucket.label), Cell(new, new_url), Cell(total, total_url)])
    in_period = sum(row.new for row in counted.values())
    chart = charts.categories([b.label for b in period.buckets()], [
        charts.series(_("New customers"), bars), charts.series(_("All customers"), line, "line", yAxisIndex=1)],
        second_axis="count")
    return Result(table, chart, [
        Figure(_("New customers"), in_period, previous, url=service.customer_list(viewer, query.customers(period))),
        Figure(_("All customers"), total, url=service.customer_list(viewer, query.customers(created_to=period.end)))])


def _level_name(key):
    return _("Level %(level)s", level=key) if key else _("No level")


DIMENSIONS = {
    # key: (title, the column, its value's name, the list filter that shows one value, shown as a pie)
    "level": (_l("Customers by level"), Customer.level, _level_name,
              lambda q, key: replace(q, level=key) if key in LEVELS else None, True),
    "stage": (_l("Customers by lifecycle stage"), Customer.stage, lambda key: str(STAGE_LABELS.get(key, key)),
              lambda q, key: replace(q, stage=key), True),
    "source": (_l("Customers by source"), Customer.source, lambda key: key or _("No source"),
               lambda q, key: replace(q, source=key) if key else None, True),
    # The province in China (from the region list), the state or region elsewhere (crm/customers/addresses).
    "region": (_l("Customers by province or region"), Customer.region,
               lambda key: addresses.place_label(key) if key else _("No province or region"),
               lambda q, key: replace(q, region=key) if key else None, False),
}


def _distribution(viewer: Member, query: ReportQuery, values, name, narrow, as_pie: bool,
                  spread=None) -> Result:
    """All customers matching the filters by one value, with how many of each were new in the period and the
    period before. `spread` (unnest, jsonb_array_elements_text): the value is a list, counted once per element."""
    base = service.customers(viewer, query.customers())
    start, end = query.period.bounds()
    before = query.previous.bounds()[0]
    source = base.with_only_columns(Customer.created_at, values.label("value")).subquery()
    value, created = source.c.value, source.c.created_at
    if spread is not None:
        element = spread(value).table_valued("value").render_derived()
        source = select(created, element.c.value).select_from(source).join(element, true()).subquery()
        value, created = source.c.value, source.c.created_at
    stmt = (select(value, func.count(), func.count().filter(created >= start, created < end),
                   func.count().filter(created >= before, created < start))
            .group_by(value).order_by(func.count().desc(), value))
    rows = db.session.execute(stmt).all()
    # The totals in one pass: per value they would count a customer with several tags more than once.
    whole, new_total, new_before = db.session.execute(base.with_only_columns(
        func.count(), func.count().filter(Customer.created_at >= start, Customer.created_at < end),
        func.count().filter(Customer.created_at >= before, Customer.created_at < start)).order_by(None)).one()
    table = Table([Column(_("Value"), "text"), Column(_("Customers")), Column(_("Share"), "percent"),
                   Column(_("New in the period")), Column(_("New in the period before"))])
    points = []
    for key, total, new, previous in rows[:TOP]:
        narrowed = narrow(query.customers(), key)
        link = service.customer_list(viewer, narrowed) if narrowed else None
        new_link = service.customer_list(viewer, replace(narrowed, created_from=query.period.start,
                                                         created_to=query.period.end)) if narrowed else None
        points.append(charts.point(total, link, name(key)))
        table.rows.append([Cell(name(key)), Cell(total, link), Cell(ratio(total, whole)), Cell(new, new_link),
                           Cell(previous)])
    rest = rows[TOP:]
    if rest:
        other = [sum(row[i] for row in rest) for i in (1, 2, 3)]
        points.append(charts.point(other[0], None, _("Other")))
        table.rows.append([Cell(_("Other")), Cell(other[0]), Cell(ratio(other[0], whole)), Cell(other[1]),
                           Cell(other[2])])
    labels = [p["name"] for p in points]
    chart = charts.pie(points) if as_pie else charts.categories(
        labels, [charts.series(_("Customers"), points)], horizontal=True)
    return Result(table, chart if points else None, [
        Figure(_("Customers"), whole, url=service.customer_list(viewer, query.customers())),
        Figure(_("New in the period"), new_total, new_before)])


def _dimension_report(key: str, order: int):
    title, column, name, narrow, as_pie = DIMENSIONS[key]

    @report("customers", f"customers_by_{key}", title, order, filters=CUSTOMER_FILTERS)
    def build(viewer: Member, query: ReportQuery) -> Result:
        return _distribution(viewer, query, column, name, narrow, as_pie)

    return build


for _order, _key in enumerate(DIMENSIONS, start=20):
    _dimension_report(_key, _order)


@report("customers", "customers_by_tag", _l("Customers by tag"), order=25, filters=CUSTOMER_FILTERS)
def by_tag(viewer: Member, query: ReportQuery) -> Result:
    """Customers per tag (a customer with several tags counts under each)."""
    names = dict(db.session.execute(select(Tag.id, Tag.name)).all())

    def narrow(q, tag_id):
        return replace(q, tags=sorted({*q.tags, tag_id}), tag_mode="all")

    result = _distribution(viewer, query, Customer.tag_ids, lambda tag_id: names.get(tag_id, f"#{tag_id}"), narrow,
                           as_pie=False, spread=func.unnest)
    result.notes.append(_("A customer with several tags counts once under each."))
    return result


def select_fields() -> list:
    """The customer fields a distribution can be drawn by: single and multiple choice, not sensitive."""
    return [f for f in fields.fields("customer") if f.type in ("select", "multiselect") and not f.sensitive]


@report("customers", "customers_by_field", _l("Customers by field"), order=26, filters=CUSTOMER_FILTERS)
def by_field(viewer: Member, query: ReportQuery) -> Result:
    """Customers per option of a single or multiple choice field (region, industry ... as the workspace defines
    them); the field is the report's own choice (`by`)."""
    choices = select_fields()
    field = next((f for f in choices if f.key == query.by), choices[0] if choices else None)
    if field is None:
        return Result(Table([]), notes=[_("Add a single or multiple choice customer field (for example region or "
                                          "industry) under Settings > Fields to see customers by it.")])
    multiple = field.type == "multiselect"
    values = Customer.custom[field.key]
    if multiple:  # a list of option keys; anything else (no value) counts as no option
        values = case((func.jsonb_typeof(values) == "array", values), else_=literal("[]").cast(JSONB))
    else:
        values = Customer.custom[field.key].astext

    def narrow(q, option):
        if not field.filterable or option is None:
            return None
        return replace(q, custom_args={**q.custom_args, f"cf_{field.key}": [option]})

    result = _distribution(viewer, query, values, lambda o: field.option_label(o) if o else _("Not set"), narrow,
                           as_pie=not multiple, spread=func.jsonb_array_elements_text if multiple else None)
    result.choices, result.chosen, result.picks = [(f.key, f.label()) for f in choices], field.key, _("Field")
    if not field.filterable:
        result.notes.append(_("Make the field filterable to open the customers behind each number."))
    return result


@report("customers", "customers_buyers", _l("New and returning buyers"), order=30, filters=CUSTOMER_FILTERS)
def buyers(viewer: Member, query: ReportQuery) -> Result:
    """Customers who ordered in each bucket: for the first time, or again (a second order or later). Cancelled
    orders do not count."""
    period = query.period
    start, end = period.bounds()
    before = query.previous.bounds()[0]
    # The buyers' first orders, kept on the customer: no window over every order of the workspace, and an index
    # holds them (docs/benchmarks.md).
    reached = service.customers(viewer, query.customers()).with_only_columns(
        Customer.id, Customer.first_ordered_at.label("first_at")).where(
        Customer.first_ordered_at.is_not(None)).order_by(None).subquery()
    ordered, size = Order.created_at, period.bucket
    bucket, in_period = bucket_of(ordered, size), ordered >= start
    first = bucket_of(reached.c.first_at, size)
    # Each buyer once per bucket they ordered in, and once per period (no bucket): the counts below need no
    # DISTINCT, which sorted every order once per count.
    visits = (select(Order.customer_id, reached.c.first_at, in_period.label("in_period"), bucket.label("bucket"),
                     first.label("first_bucket"))
              .join(reached, reached.c.id == Order.customer_id)
              .where(Order.status != "cancelled", ordered >= before, ordered < end)
              .group_by(func.grouping_sets(tuple_(Order.customer_id, reached.c.first_at, in_period, bucket, first),
                                           tuple_(Order.customer_id, reached.c.first_at, in_period)))
              .subquery())
    v, count = visits.c, func.count().filter
    current, previous = v.in_period, ~v.in_period
    stmt = (select(v.bucket, count(current, v.first_bucket == v.bucket), count(current, v.first_bucket < v.bucket),
                   count(current, v.first_at >= start), count(current, v.first_at < start),
                   count(previous, v.first_at >= before), count(previous, v.first_at < before))
            .group_by(v.bucket))
    rows = db.session.execute(stmt).all()
    counted = {row[0]: row for row in rows if row[0] is not None}
    totals = next((row[3:] for row in rows if row[0] is None), (0, 0, 0, 0))
    table = Table([Column(_("Period"), "text"), Column(_("New buyers")), Column(_("Returning buyers"))])
    new_points, returning_points = [], []
    for b in period.buckets():
        new, again = (counted[b.key][1], counted[b.key][2]) if b.key in counted else (0, 0)
        new_points.append(charts.point(new))
        returning_points.append(charts.point(again))
        table.rows.append([Cell(b.label), Cell(new), Cell(again)])
    chart = charts.categories([b.label for b in period.buckets()], [
        charts.series(_("New buyers"), new_points, stack="buyers"),
        charts.series(_("Returning buyers"), returning_points, stack="buyers")])
    return Result(table, chart, [Figure(_("New buyers"), totals[0], totals[2]),
                                 Figure(_("Returning buyers"), totals[1], totals[3]),
                                 Figure(_("Returning share"), ratio(totals[1], totals[0] + totals[1]),
                                        ratio(totals[3], totals[2] + totals[3]), kind="percent")],
                  notes=[_("A returning buyer had ordered before the period; cancelled orders do not count.")])


@report("customers", "customers_follow_up", _l("Follow-up coverage"), order=40, filters=CUSTOMER_FILTERS,
        period=False)
def follow_up_coverage(viewer: Member, query: ReportQuery) -> Result:
    """How many customers have had no follow-up done in 7, 30 and 90 days (or never), now."""
    base = service.customers(viewer, query.customers())
    counts = db.session.execute(base.with_only_columns(
        func.count(), *(func.count().filter(quiet_for(days)) for days in QUIET_DAYS)).order_by(None)).one()
    whole = counts[0]
    table = Table([Column(_("No follow-up in"), "text"), Column(_("Customers")), Column(_("Share"), "percent")])
    points, labels = [], []
    for days, quiet in zip(QUIET_DAYS, counts[1:]):
        link = service.customer_list(viewer, query.customers(quiet=days))
        label = _("%(days)d days", days=days)
        labels.append(label)
        points.append(charts.point(quiet, link))
        table.rows.append([Cell(label), Cell(quiet, link), Cell(ratio(quiet, whole))])
    chart = charts.categories(labels, [charts.series(_("Customers without a follow-up"), points)])
    return Result(table, chart, [
        Figure(_("Customers"), whole, url=service.customer_list(viewer, query.customers())),
        Figure(_("Followed up in 30 days"), ratio(whole - counts[2], whole), kind="percent")])


POOL_MOVES = {"claimed": ("pool_claimed", "pool_assigned"), "released": ("pool_released",),
              "recycled": ("pool_recycled",)}


@report("customers", "customers_pool", _l("Customer pool"), order=50, filters=CUSTOMER_FILTERS)
def pool_health(viewer: Member, query: ReportQuery) -> Result:
    """Customers in the pool now, and per bucket how many were claimed or assigned, released and recycled.

    A move counts in the scope of the member it concerns: who got the customer, or whose it was."""
    period = query.period
    owner = func.coalesce(TimelineEvent.payload["owner_id"].astext.cast(Integer), TimelineEvent.actor_id)
    events = scoped(select(TimelineEvent), viewer, "reports", "view", SimpleNamespace(owner_id=owner))
    # The customer's level, tag or source: the move is counted by its member's scope, not the customer's owner.
    attributes = customer_queries.filtered(select(Customer.id).where(Customer.deleted_at.is_(None)), viewer,
                                           query.customers(owner="", team=None))
    events = events.where(TimelineEvent.customer_id.in_(attributes))
    if query.owner:
        events = events.where(owner == (viewer.id if query.owner == "me" else int(query.owner)))
    if query.team:
        events = events.where(owner.in_(select(Member.id).where(Member.team_id == query.team)))
    moves = {name: func.count().filter(TimelineEvent.kind.in_(kinds)) for name, kinds in POOL_MOVES.items()}
    counted = service.per_bucket(events, TimelineEvent.at, period, **moves)
    previous = service.per_bucket(events, TimelineEvent.at, query.previous, **moves)
    names = {"claimed": _("Claimed or assigned"), "released": _("Released"), "recycled": _("Recycled")}
    table = Table([Column(_("Period"), "text"), *(Column(label) for label in names.values())])
    points = {name: [] for name in names}
    for b in period.buckets():
        row = counted.get(b.key)
        values = [getattr(row, name) if row else 0 for name in names]
        for name, value in zip(names, values):
            points[name].append(charts.point(value))
        table.rows.append([Cell(b.label), *(Cell(v) for v in values)])
    pooled = pool.PoolQuery(level=query.level, tag=query.tag)
    chart = charts.categories([b.label for b in period.buckets()],
                              [charts.series(label, points[name]) for name, label in names.items()])
    figures = [Figure(_("In the pool now"), pool.count_pool(viewer, pooled),
                      url=url_for("pool.index", **pooled.args()) if viewer.can("customers", "view") else None)]
    figures += [Figure(label, sum(getattr(r, name) for r in counted.values()),
                       sum(getattr(r, name) for r in previous.values())) for name, label in names.items()]
    return Result(table, chart, figures, notes=[_("The pool is shared: its size counts every pool customer of "
                                                  "the level and tag chosen.")])
