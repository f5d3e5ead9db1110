"""The Team pack: follow-ups planned and done per member and method, the leaderboard of the period, and target
against actual for the period's months. The measures are those of sales targets: the leaderboard and the targets
count with `crm/targets/actuals.py`, so the three always agree."""
from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select

from crm.extensions import db
from crm.followups.models import METHOD_LABELS, METHODS, Activity
from crm.members.access import members_in_reach, scoped
from crm.members.models import Member
from crm.reports import charts
from crm.reports.catalogue import add_pack, report
from crm.reports.periods import ReportQuery
from crm.reports.results import Cell, Column, Figure, Result, Table, ratio
from crm.settings import workspace_currency
from crm.targets import actuals, months
from crm.targets import service as targets
from crm.targets.forms import FIELD_LABELS as MEASURE_LABELS
from crm.targets.models import MEASURES, MONEY

add_pack("team", _l("Team"))

TEAM_FILTERS = ("owner", "team")
MAX_MONTHS = 12  # target against actual shows at most the period's last twelve months


def _members(viewer: Member, query: ReportQuery) -> list[Member]:
    """The active members the viewer's reports reach, narrowed by the owner and team filters."""
    found = members_in_reach(viewer, "reports", "view")
    if query.owner:
        wanted = viewer.id if query.owner == "me" else int(query.owner)
        found = [m for m in found if m.id == wanted]
    if query.team:
        found = [m for m in found if m.team_id == query.team]
    return found


@report("team", "team_follow_ups", _l("Follow-ups per member"), order=10, filters=TEAM_FILTERS)
def follow_ups(viewer: Member, query: ReportQuery) -> Result:
    """Per member: follow-ups planned for the period (due in it, done or not) and done in it, by method."""
    start, end = query.period.bounds()
    due = and_(Activity.due_at >= start, Activity.due_at < end)
    done = and_(Activity.done_at >= start, Activity.done_at < end)
    members = {m.id: m.name for m in _members(viewer, query)}
    rows = db.session.execute(
        scoped(select(Activity.owner_id, Activity.method, func.count().filter(due), func.count().filter(done)),
               viewer, "reports", "view", Activity)
        .where(Activity.owner_id.in_(list(members)), or_(due, done)).group_by(Activity.owner_id, Activity.method))
    planned, did = {}, {}
    for owner_id, method, n_planned, n_done in rows:
        planned[owner_id] = planned.get(owner_id, 0) + n_planned
        did.setdefault(owner_id, {})[method] = n_done
    used = [m for m in METHODS if any(by_method.get(m) for by_method in did.values())]
    shown = [i for i in members if planned.get(i) or did.get(i)]
    table = Table([Column(_("Member"), "text"), Column(_("Planned")), Column(_("Done")),
                   *(Column(str(METHOD_LABELS[m])) for m in used)])
    for member_id in shown:
        by_method = did.get(member_id, {})
        table.rows.append([Cell(members[member_id]), Cell(planned.get(member_id, 0)), Cell(sum(by_method.values())),
                           *(Cell(by_method.get(m, 0)) for m in used)])
    series = [charts.series(_("Planned"), [charts.point(planned.get(i, 0)) for i in shown], stack="planned")]
    series += [charts.series(str(METHOD_LABELS[m]), [charts.point(did.get(i, {}).get(m, 0)) for i in shown],
                             stack="done") for m in used]
    chart = charts.categories([members[i] for i in shown], series) if shown else None
    total_planned, total_done = sum(planned.values()), sum(sum(d.values()) for d in did.values())
    return Result(table, chart, [Figure(_("Planned"), total_planned), Figure(_("Done"), total_done)],
                  notes=[_("Planned: due in the period, done or not. Done: done in the period, by method; logged "
                           "interactions included.")])


@report("team", "team_leaderboard", _l("Leaderboard"), order=20, filters=TEAM_FILTERS)
def leaderboard(viewer: Member, query: ReportQuery) -> Result:
    """The members ranked by one measure (the report's choice, won amount first) over the period."""
    measure = query.by if query.by in MEASURES else MEASURES[0]
    members = {m.id: m.name for m in _members(viewer, query)}
    done = actuals.between(*query.period.bounds(), list(members))
    zero = actuals.zero()
    ranked = sorted(members, key=lambda i: (*(-done.get(i, zero)[m] for m in (measure, *MEASURES)), members[i]))
    table = Table([Column(_("Member"), "text"),
                   *(Column(str(MEASURE_LABELS[m]), "money" if m in MONEY else "count") for m in MEASURES)])
    points = []
    for member_id in ranked:
        values = done.get(member_id, zero)
        points.append(charts.point(values[measure]))
        table.rows.append([Cell(members[member_id]), *(Cell(values[m]) for m in MEASURES)])
    chart = charts.categories([members[i] for i in ranked], [charts.series(str(MEASURE_LABELS[measure]), points)],
                              "money" if measure in MONEY else "count", horizontal=True) if ranked else None
    return Result(table, chart, [Figure(str(MEASURE_LABELS[m]), sum(v[m] for v in done.values()),
                                        kind="money" if m in MONEY else "count") for m in MEASURES],
                  notes=[_("Counted as for sales targets; amounts in %(currency)s only.",
                           currency=workspace_currency())],
                  choices=[(m, str(MEASURE_LABELS[m])) for m in MEASURES], chosen=measure, picks=_("Rank by"))


def period_months(query: ReportQuery) -> list:
    """The first days of the months the period touches, at most the last twelve."""
    found, month = [], query.period.start.replace(day=1)
    while month <= query.period.end:
        found.append(month)
        month = months.shift(month, 1)
    return found[-MAX_MONTHS:]


@report("team", "team_targets", _l("Target against actual"), order=30, filters=TEAM_FILTERS)
def target_vs_actual(viewer: Member, query: ReportQuery) -> Result:
    """For each month of the period: one measure's target in force and what was done, per team or member."""
    measure = query.by if query.by in MEASURES else MEASURES[0]
    chosen = targets.report_subjects(viewer, query.owner, query.team)
    kind = "money" if measure in MONEY else "count"
    table = Table([Column(_("Month"), "text"), Column(_("Team or member"), "text"), Column(_("Target"), kind),
                   Column(_("Actual"), kind), Column(_("Progress"), "percent")])
    labels, actual_points, target_points = [], {s.key: [] for s in chosen}, {s.key: [] for s in chosen}
    for month, month_lines in targets.lines_by_month(viewer, period_months(query), chosen).items():
        labels.append(format_skeleton("yMMM", month, locale=get_locale()))
        for line in month_lines:
            goal = line.goal(measure)
            if measure in MONEY and goal is not None and line.target.currency != line.currency:
                goal = None  # set in another currency: not comparable
            actual_points[line.subject.key].append(charts.point(line.actual[measure]))
            target_points[line.subject.key].append(charts.point(goal))
            table.rows.append([Cell(labels[-1]), Cell(line.subject.name), Cell(goal), Cell(line.actual[measure]),
                               Cell(ratio(line.actual[measure], goal))])
    series = []
    for subject in chosen:
        name = subject.name if len(chosen) > 1 else ""
        series.append(charts.series(" · ".join(filter(None, [name, _("Actual")])), actual_points[subject.key]))
        series.append(charts.series(" · ".join(filter(None, [name, _("Target")])), target_points[subject.key],
                                    "line", connectNulls=True))
    return Result(table, charts.categories(labels, series, kind) if chosen else None, notes=[
        _("Whole months, as targets are monthly; a month without its own target uses the latest earlier one.")],
        choices=[(m, str(MEASURE_LABELS[m])) for m in MEASURES], chosen=measure, picks=_("Measure"))
