"""The Service pack: tickets by type, priority or status, the SLA breach rate, the time to resolve and the customers'
satisfaction. Tickets are counted within the viewer's reports scope by the ticket list's own rule (the assignee;
unassigned tickets from team scope up) and narrowed with the list's own `TicketQuery`, so a number's link lists
exactly its tickets. The owner filter is the assignee."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.reports import charts, service
from crm.reports.catalogue import add_pack, report
from crm.reports.periods import Period, ReportQuery
from crm.reports.results import Cell, Column, Figure, Result, Table, ratio
from crm.tickets.forms import KIND_LABELS, PRIORITY_LABELS, RATING_LABELS, STATUS_LABELS
from crm.tickets.models import KINDS, PRIORITIES, STATUSES, Ticket
from crm.tickets.service import TicketQuery, sla_breached, sla_met

add_pack("service", _l("Service"))
TICKET_FILTERS = ("owner", "team")
BREAKDOWNS = {  # `by`: the label, the column (a TicketQuery field of the same name) and its values in order
    "kind": (_l("Type"), Ticket.kind, KIND_LABELS, KINDS),
    "priority": (_l("Priority"), Ticket.priority, PRIORITY_LABELS, PRIORITIES),
    "status": (_l("Status"), Ticket.status, STATUS_LABELS, STATUSES),
}
HOURS = func.extract("epoch", Ticket.resolved_at - Ticket.created_at) / 3600
RATINGS = (5, 4, 3, 2, 1)


def _tickets(query: ReportQuery, **changes) -> TicketQuery:
    """The ticket list's query for the report's filters (the owner is the assignee), with `changes`."""
    return TicketQuery(assignee=query.owner, team=query.team, **changes)


def _created(period: Period) -> dict:
    return {"created_from": period.start, "created_to": period.end}


def _resolved(period: Period) -> dict:
    return {"resolved_from": period.start, "resolved_to": period.end}


@report("service", "service_tickets", _l("Tickets"), order=10, filters=TICKET_FILTERS)
def tickets(viewer: Member, query: ReportQuery) -> Result:
    """Tickets opened in the period by type, priority or status now (the report's choice, `by`)."""
    by = query.by if query.by in BREAKDOWNS else "kind"
    label, column, names, values = BREAKDOWNS[by]
    period, before = query.period, query.previous
    start, end = period.bounds()
    base = service.tickets(viewer, _tickets(query, created_from=before.start, created_to=period.end))
    counted = {key: (n, previous) for key, n, previous in db.session.execute(base.with_only_columns(
        column, func.count().filter(Ticket.created_at >= start, Ticket.created_at < end),
        func.count().filter(Ticket.created_at < start)).group_by(column).order_by(None))}
    whole = sum(n for n, _previous in counted.values())
    table = Table([Column(str(label), "text"), Column(_("Tickets")), Column(_("Share"), "percent"),
                   Column(_("In the period before"))])
    points = []
    for key in values:
        n, previous = counted.get(key, (0, 0))
        link = service.ticket_list(viewer, _tickets(query, **_created(period), **{by: key}))
        points.append(charts.point(n, link, str(names[key])))
        table.rows.append([Cell(str(names[key])), Cell(n, link), Cell(ratio(n, whole)), Cell(previous)])
    waiting = service.count(service.tickets(viewer, _tickets(query, status="active", **_created(period))))
    result = Result(table, charts.categories([p["name"] for p in points], [charts.series(_("Tickets"), points)]), [
        Figure(_("Tickets opened"), whole, sum(previous for _n, previous in counted.values()),
               url=service.ticket_list(viewer, _tickets(query, **_created(period)))),
        Figure(_("Of those, open or pending now"), waiting,
               url=service.ticket_list(viewer, _tickets(query, status="active", **_created(period))))])
    result.choices, result.chosen = [(key, str(b[0])) for key, b in BREAKDOWNS.items()], by
    result.picks = _("Group by")
    return result


def _sla_totals(viewer: Member, query: ReportQuery, period: Period, now) -> tuple[int, int]:
    """Tickets due in the period that met their due time, and that breached it (by `now`)."""
    stmt = service.tickets(viewer, _tickets(query, due_from=period.start, due_to=period.end))
    return db.session.execute(stmt.with_only_columns(func.count().filter(sla_met()),
                                                     func.count().filter(sla_breached(now))).order_by(None)).one()


@report("service", "service_sla", _l("SLA breach rate"), order=20, filters=TICKET_FILTERS)
def sla(viewer: Member, query: ReportQuery) -> Result:
    """Tickets by the day they were due: resolved in time, or breached (resolved late, or still not resolved after
    it), and the share breached."""
    period, now = query.period, utcnow()
    counted = service.per_bucket(service.tickets(viewer, _tickets(query)), Ticket.due_at, period,
                                 met=func.count().filter(sla_met()), breached=func.count().filter(sla_breached(now)))
    table = Table([Column(_("Due"), "text"), Column(_("In time")), Column(_("Breached")),
                   Column(_("Breach rate"), "percent")])
    met_points, breached_points, rate_points = [], [], []
    for b in period.buckets():
        met, breached = (counted[b.key].met, counted[b.key].breached) if b.key in counted else (0, 0)
        met_url, breached_url = (service.ticket_list(viewer, _tickets(query, sla=kind, due_from=b.start,
                                                                       due_to=b.end)) for kind in ("met", "breached"))
        met_points.append(charts.point(met, met_url))
        breached_points.append(charts.point(breached, breached_url))
        rate_points.append(charts.point(ratio(breached, met + breached)))
        table.rows.append([Cell(b.label), Cell(met, met_url), Cell(breached, breached_url),
                           Cell(ratio(breached, met + breached))])
    (met, breached), (met_before, breached_before) = (_sla_totals(viewer, query, p, now)
                                                      for p in (period, query.previous))
    chart = charts.categories([b.label for b in period.buckets()], [
        charts.series(_("In time"), met_points, stack="sla"), charts.series(_("Breached"), breached_points,
                                                                            stack="sla"),
        charts.series(_("Breach rate"), rate_points, "line", yAxisIndex=1)], second_axis="percent")
    return Result(table, chart, [
        Figure(_("Breach rate"), ratio(breached, met + breached), ratio(breached_before, met_before + breached_before),
               kind="percent"),
        Figure(_("Breached"), breached, breached_before, url=service.ticket_list(
            viewer, _tickets(query, sla="breached", due_from=period.start, due_to=period.end)))],
        notes=[_("A ticket counts on the day it was due: in time when resolved by then, breached when resolved "
                 "later or still not resolved after it. Tickets not yet due and not resolved are not counted.")])


@report("service", "service_resolution", _l("Time to resolve"), order=30, filters=TICKET_FILTERS)
def resolution(viewer: Member, query: ReportQuery) -> Result:
    """Tickets resolved in the period and the median hours from opening to resolving, per bucket."""
    period = query.period
    counted = service.per_bucket(service.tickets(viewer, _tickets(query)), Ticket.resolved_at, period,
                                 resolved=func.count(), median=func.percentile_cont(0.5).within_group(HOURS))
    table = Table([Column(_("Resolved on"), "text"), Column(_("Resolved")), Column(_("Median hours"), "days")])
    resolved_points, median_points = [], []
    for b in period.buckets():
        row = counted.get(b.key)
        link = service.ticket_list(viewer, _tickets(query, resolved_from=b.start, resolved_to=b.end))
        resolved_points.append(charts.point(row.resolved if row else 0, link))
        median_points.append(charts.point(round(row.median, 1) if row else None))
        table.rows.append([Cell(b.label), Cell(row.resolved if row else 0, link), Cell(row.median if row else None)])
    figures = [db.session.execute(service.tickets(viewer, _tickets(query, **_resolved(p))).with_only_columns(
        func.count(), func.percentile_cont(0.5).within_group(HOURS)).order_by(None)).one()
        for p in (period, query.previous)]
    chart = charts.categories([b.label for b in period.buckets()], [
        charts.series(_("Resolved"), resolved_points),
        charts.series(_("Median hours"), median_points, "line", yAxisIndex=1, connectNulls=True)],
        second_axis="days")
    return Result(table, chart, [
        Figure(_("Median hours to resolve"), figures[0][1], figures[1][1], kind="days"),
        Figure(_("Resolved"), figures[0][0], figures[1][0],
               url=service.ticket_list(viewer, _tickets(query, **_resolved(period))))],
        notes=[_("From opening to the last time the ticket was resolved.")])


@report("service", "service_satisfaction", _l("Satisfaction"), order=40, filters=TICKET_FILTERS)
def satisfaction(viewer: Member, query: ReportQuery) -> Result:
    """The customers' ratings (1-5, from the link a closed ticket sends) of tickets resolved in the period."""
    period, before = query.period, query.previous
    start = period.bounds()[0]
    base = service.tickets(viewer, _tickets(query, resolved_from=before.start, resolved_to=period.end))
    counted = {rating: (n, previous) for rating, n, previous in db.session.execute(
        base.where(Ticket.satisfaction.is_not(None)).with_only_columns(
            Ticket.satisfaction, func.count().filter(Ticket.resolved_at >= start),
            func.count().filter(Ticket.resolved_at < start)).group_by(Ticket.satisfaction).order_by(None))}
    rated = sum(n for n, _previous in counted.values())
    rated_before = sum(previous for _n, previous in counted.values())
    table = Table([Column(_("Rating"), "text"), Column(_("Tickets")), Column(_("Share"), "percent"),
                   Column(_("In the period before"))])
    points = []
    for rating in RATINGS:
        n, previous = counted.get(rating, (0, 0))
        link = service.ticket_list(viewer, _tickets(query, rating=rating, **_resolved(period)))
        points.append(charts.point(n, link, str(RATING_LABELS[str(rating)])))
        table.rows.append([Cell(str(RATING_LABELS[str(rating)])), Cell(n, link), Cell(ratio(n, rated)),
                           Cell(previous)])
    average = ratio(sum(r * counted.get(r, (0, 0))[0] for r in RATINGS), rated)
    average_before = ratio(sum(r * counted.get(r, (0, 0))[1] for r in RATINGS), rated_before)
    chart = charts.categories([p["name"] for p in points], [charts.series(_("Tickets"), points)], horizontal=True)
    return Result(table, chart if rated else None, [Figure(_("Average rating"), average, average_before, kind="days"),
                                                    Figure(_("Ratings"), rated, rated_before)],
                  notes=[_("Ratings of tickets resolved in the period, out of 5.")])
