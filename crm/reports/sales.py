"""The Sales pack: the funnel of a pipeline (from the stage history), win rate, lost reasons, the sales cycle,
stalled deals and the weighted forecast against the won-amount targets. Amounts are summed in the workspace's
currency; deals in another currency are counted, and a note says how many were left out of the sums."""
from datetime import timedelta

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, func, select
from sqlalchemy.orm import aliased

from crm.deals import stages as pipelines
from crm.deals.deal_queries import funnel_rank
from crm.deals.models import Deal, DealStageChange, Pipeline, Stage
from crm.errors import NotFound
from crm.extensions import db
from crm.members.models import Member
from crm.names import in_language
from crm.reports import charts, service
from crm.reports.catalogue import report
from crm.reports.periods import Period, ReportQuery
from crm.reports.results import Cell, Column, Figure, Result, Table, ratio
from crm.settings import workspace_currency
from crm.targets import months
from crm.targets import service as targets

DEAL_FILTERS = ("owner", "team", "pipeline", "tag", "level", "source")
TOP = 12


def _pipeline(query: ReportQuery) -> Pipeline | None:
    """The pipeline asked for, else the first active one; None when there is none."""
    for wanted in (query.pipeline, None):
        try:
            return pipelines.board_pipeline(wanted)
        except NotFound:
            continue
    return None


def _in_currency(amount_column, currency_column):
    """The sum of amounts in the workspace's currency."""
    return func.coalesce(func.sum(amount_column).filter(currency_column == workspace_currency()), 0)


def _elsewhere_note(count: int) -> list[str]:
    if not count:
        return []
    return [_("%(count)d deals in other currencies are counted but not in the amounts (%(currency)s).",
              count=count, currency=workspace_currency())]


@report("sales", "sales_funnel", _l("Sales funnel"), order=10, filters=DEAL_FILTERS)
def funnel(viewer: Member, query: ReportQuery) -> Result:
    """Deals created in the period in one pipeline: how many reached each step (open stages in order, then won)
    according to their stage history, their amount, and the conversion from each step to the next."""
    pipeline = _pipeline(query)
    if pipeline is None:
        return Result(Table([]), notes=[_("There is no active pipeline.")])
    steps = sorted((s for s in pipelines.stages(pipeline.id) if s.kind in ("open", "won")),
                   key=lambda s: (s.kind == "won", s.position, s.id))
    period = query.period
    cohort_query = query.deals(pipeline_id=pipeline.id, created_from=period.start, created_to=period.end)
    cohort = service.deals(viewer, cohort_query).with_only_columns(Deal.id, Deal.amount, Deal.currency).subquery()
    step, target = aliased(Stage), aliased(Stage)
    reach = (select(DealStageChange.deal_id, func.max(funnel_rank(step)).label("rank"))
             .join(step, step.id == DealStageChange.to_stage_id)
             .where(step.active, step.kind.in_(("open", "won")), step.pipeline_id == pipeline.id,
                    DealStageChange.deal_id.in_(select(cohort.c.id)))
             .group_by(DealStageChange.deal_id).subquery())
    stmt = (select(target.id, func.count(), _in_currency(cohort.c.amount, cohort.c.currency))
            .select_from(target).join(reach, reach.c.rank >= funnel_rank(target))
            .join(cohort, cohort.c.id == reach.c.deal_id)
            .where(target.id.in_([s.id for s in steps])).group_by(target.id))
    counted = {stage_id: (n, amount) for stage_id, n, amount in db.session.execute(stmt)}
    table = Table([Column(_("Stage"), "text"), Column(_("Deals")), Column(_("Amount"), "money"),
                   Column(_("On to the next step"), "percent")])
    points = []
    for index, stage in enumerate(steps):
        n, amount = counted.get(stage.id, (0, 0))
        following = counted.get(steps[index + 1].id, (0, 0))[0] if index + 1 < len(steps) else None
        link = service.deal_list(viewer, query.deals(pipeline_id=pipeline.id, created_from=period.start,
                                                     created_to=period.end, reached=stage.id))
        points.append(charts.point(n, link, stage.name))
        table.rows.append([Cell(stage.name), Cell(n, link), Cell(amount),
                           Cell(ratio(following, n) if following is not None else None)])
    start = period.bounds()[0]
    # The period's and the period before's deals in one statement (deals.created_at has no index).
    created, before, elsewhere = db.session.execute(service.deals(viewer, query.deals(
        pipeline_id=pipeline.id, created_from=query.previous.start, created_to=period.end)).with_only_columns(
        func.count().filter(Deal.created_at >= start), func.count().filter(Deal.created_at < start),
        func.count().filter(Deal.created_at >= start, Deal.currency != workspace_currency())).order_by(None)).one()
    won = counted.get(steps[-1].id, (0, 0))[0] if steps and steps[-1].kind == "won" else 0
    return Result(table, charts.funnel(points), [
        Figure(_("Deals created"), created, before,
               url=service.deal_list(viewer, cohort_query)),
        Figure(_("Won of those created"), ratio(won, created), kind="percent")],
        notes=[_("Pipeline: %(name)s. A deal that moved on counts at the steps before.", name=pipeline.name),
               *_elsewhere_note(elsewhere)])


def _closed(viewer: Member, query: ReportQuery, period: Period, **changes):
    return service.deals(viewer, query.deals(closed_from=period.start, closed_to=period.end, **changes))


@report("sales", "sales_win_rate", _l("Win rate"), order=20, filters=DEAL_FILTERS)
def win_rate(viewer: Member, query: ReportQuery) -> Result:
    """Deals closed in the period, won and lost per bucket, and the share won."""
    period = query.period
    base = service.deals(viewer, query.deals()).where(Deal.status.in_(("won", "lost")))
    counted = service.per_bucket(base, Deal.closed_at, period, won=func.count().filter(Deal.status == "won"),
                                 lost=func.count().filter(Deal.status == "lost"))
    table = Table([Column(_("Period"), "text"), Column(_("Won")), Column(_("Lost")), Column(_("Win rate"), "percent")])
    won_points, lost_points, rate_points = [], [], []
    for b in period.buckets():
        won, lost = (counted[b.key].won, counted[b.key].lost) if b.key in counted else (0, 0)
        won_url = service.deal_list(viewer, query.deals(status="won", closed_from=b.start, closed_to=b.end))
        lost_url = service.deal_list(viewer, query.deals(status="lost", closed_from=b.start, closed_to=b.end))
        won_points.append(charts.point(won, won_url))
        lost_points.append(charts.point(lost, lost_url))
        rate_points.append(charts.point(ratio(won, won + lost)))
        table.rows.append([Cell(b.label), Cell(won, won_url), Cell(lost, lost_url), Cell(ratio(won, won + lost))])
    (won, lost, amount), (won_before, lost_before, amount_before) = (_totals(viewer, query, p)
                                                                      for p in (period, query.previous))
    figures = [Figure(_("Win rate"), ratio(won, won + lost), ratio(won_before, won_before + lost_before),
                      kind="percent"),
               Figure(_("Won"), won, won_before,
                      url=service.deal_list(viewer, query.deals(status="won", closed_from=period.start,
                                                                 closed_to=period.end))),
               Figure(_("Won amount"), amount, amount_before, kind="money")]
    chart = charts.categories([b.label for b in period.buckets()], [
        charts.series(_("Won"), won_points), charts.series(_("Lost"), lost_points),
        charts.series(_("Win rate"), rate_points, "line", yAxisIndex=1)], second_axis="percent")
    return Result(table, chart, figures)


def _totals(viewer: Member, query: ReportQuery, period: Period) -> tuple:
    """Won, lost and the won amount of deals closed in the period."""
    return db.session.execute(_closed(viewer, query, period).with_only_columns(
        func.count().filter(Deal.status == "won"), func.count().filter(Deal.status == "lost"),
        func.coalesce(func.sum(Deal.amount).filter(Deal.status == "won", Deal.currency == workspace_currency()), 0))
        .order_by(None)).one()


@report("sales", "sales_lost_reasons", _l("Lost reasons"), order=30, filters=DEAL_FILTERS)
def lost_reasons(viewer: Member, query: ReportQuery) -> Result:
    """Deals lost in the period by their reason (as typed, without surrounding spaces), most common first."""
    period, before = query.period, query.previous
    reason = func.trim(Deal.lost_reason)
    start, end = period.bounds()
    low = before.bounds()[0]
    base = service.deals(viewer, query.deals(status="lost", closed_from=before.start, closed_to=period.end))
    rows = db.session.execute(base.with_only_columns(
        reason, func.count().filter(Deal.closed_at >= start, Deal.closed_at < end),
        func.count().filter(Deal.closed_at >= low, Deal.closed_at < start),
        func.coalesce(func.sum(Deal.amount).filter(Deal.closed_at >= start, Deal.currency == workspace_currency()), 0))
        .group_by(reason).order_by(None)).all()
    rows = sorted((r for r in rows if r[1]), key=lambda r: (-r[1], r[0] or ""))
    table = Table([Column(_("Reason"), "text"), Column(_("Deals")), Column(_("Amount"), "money"),
                   Column(_("In the period before"))])
    points, labels = [], []
    for text, n, previous, amount in rows[:TOP]:
        link = service.deal_list(viewer, query.deals(status="lost", closed_from=period.start, closed_to=period.end,
                                                     reason=text)) if text else None
        labels.append(text or _("No reason"))
        points.append(charts.point(n, link))
        table.rows.append([Cell(labels[-1]), Cell(n, link), Cell(amount), Cell(previous)])
    if rows[TOP:]:
        labels.append(_("Other"))
        points.append(charts.point(sum(r[1] for r in rows[TOP:])))
        table.rows.append([Cell(_("Other")), Cell(points[-1]["value"]), Cell(sum(r[3] for r in rows[TOP:])),
                           Cell(sum(r[2] for r in rows[TOP:]))])
    lost = sum(r[1] for r in rows)
    lost_before = service.count(_closed(viewer, query, before, status="lost"))
    chart = charts.categories(labels, [charts.series(_("Deals"), points)], horizontal=True) if points else None
    return Result(table, chart, [Figure(_("Lost"), lost, lost_before, url=service.deal_list(
        viewer, query.deals(status="lost", closed_from=period.start, closed_to=period.end)))])


DAYS = func.extract("epoch", Deal.closed_at - Deal.created_at) / 86400


@report("sales", "sales_cycle", _l("Sales cycle"), order=40, filters=DEAL_FILTERS)
def sales_cycle(viewer: Member, query: ReportQuery) -> Result:
    """Deals won in the period: how many days they took from creation to won, on average per bucket."""
    period = query.period
    base = service.deals(viewer, query.deals(status="won"))
    counted = service.per_bucket(base, Deal.closed_at, period, won=func.count(), days=func.avg(DAYS))
    table = Table([Column(_("Period"), "text"), Column(_("Won")), Column(_("Average days"), "days")])
    points = []
    for b in period.buckets():
        row = counted.get(b.key)
        link = service.deal_list(viewer, query.deals(status="won", closed_from=b.start, closed_to=b.end))
        points.append(charts.point(round(row.days, 1) if row else None, link))
        table.rows.append([Cell(b.label), Cell(row.won if row else 0, link), Cell(row.days if row else None)])
    figures = [db.session.execute(_closed(viewer, query, p, status="won").with_only_columns(
        func.avg(DAYS), func.percentile_cont(0.5).within_group(DAYS)).order_by(None)).one()
        for p in (period, query.previous)]
    chart = charts.categories([b.label for b in period.buckets()],
                              [charts.series(_("Average days"), points, "line", connectNulls=True)], "days")
    return Result(table, chart, [Figure(_("Average days"), figures[0][0], figures[1][0], kind="days"),
                                 Figure(_("Median days"), figures[0][1], figures[1][1], kind="days")])


@report("sales", "sales_stalled", _l("Stalled deals"), order=50, filters=(*DEAL_FILTERS, "days"), period=False)
def stalled(viewer: Member, query: ReportQuery) -> Result:
    """Open deals that have not changed stage in N days (the report's filter, 14 by default), by stage, now."""
    base = service.deals(viewer, query.deals(status="open"))
    stuck = service.deals(viewer, query.deals(status="open", stalled=query.days))
    rows = db.session.execute(
        stuck.join(Stage, Stage.id == Deal.stage_id).join(Pipeline, Pipeline.id == Deal.pipeline_id)
        .with_only_columns(Stage, Pipeline.name_en, Pipeline.name_zh, func.count(),
                           _in_currency(Deal.amount, Deal.currency))
        .group_by(Stage.id, Pipeline.id).order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id)).all()
    several = len({stage.pipeline_id for stage, *_rest in rows}) > 1
    table = Table([Column(_("Stage"), "text"), Column(_("Deals")), Column(_("Amount"), "money")])
    points, labels = [], []
    for stage, name_en, name_zh, n, amount in rows:
        label = f"{in_language(name_en, name_zh)} · {stage.name}" if several else stage.name
        link = service.deal_list(viewer, query.deals(status="open", stalled=query.days, stage=stage.id))
        labels.append(label)
        points.append(charts.point(n, link))
        table.rows.append([Cell(label), Cell(n, link), Cell(amount)])
    total, open_deals = sum(r[3] for r in rows), service.count(base)
    chart = charts.categories(labels, [charts.series(_("Deals"), points)], horizontal=True) if points else None
    return Result(table, chart, [
        Figure(_("Stalled deals"), total, url=service.deal_list(viewer, query.deals(status="open",
                                                                                   stalled=query.days))),
        Figure(_("Share of open deals"), ratio(total, open_deals), kind="percent")],
        notes=[_("No stage change in %(days)d days.", days=query.days)])


FORECAST_MONTHS = 6


@report("sales", "sales_forecast", _l("Weighted forecast"), order=60, filters=DEAL_FILTERS, period=False)
def forecast(viewer: Member, query: ReportQuery) -> Result:
    """Open deals by the month they are expected to close (this month and the next five; earlier ones still open
    together), amount × probability, against the won-amount targets in force for those months."""
    this = months.current()
    shown = [months.shift(this, i) for i in range(FORECAST_MONTHS)]
    base = service.deals(viewer, query.deals(status="open"))
    month = func.greatest(func.date_trunc("month", Deal.expected_close), this).cast(Date)
    rows = {key: (n, amount, weighted) for key, n, amount, weighted in db.session.execute(
        base.where(Deal.expected_close < months.shift(this, FORECAST_MONTHS)).with_only_columns(
            month, func.count(), _in_currency(Deal.amount, Deal.currency),
            _in_currency(Deal.amount * Deal.probability / 100, Deal.currency)).group_by(month).order_by(None))}
    overdue = service.count(base.where(Deal.expected_close < this))
    goals = _won_targets(viewer, query, shown)
    table = Table([Column(_("Expected close"), "text"), Column(_("Deals")), Column(_("Amount"), "money"),
                   Column(_("Weighted amount"), "money"), Column(_("Won amount target"), "money"),
                   Column(_("Weighted against target"), "percent")])
    labels, weighted_points, goal_points = [], [], []
    for first in shown:
        n, amount, weighted = rows.get(first, (0, 0, 0))
        last = months.shift(first, 1) - timedelta(days=1)
        link = service.deal_list(viewer, query.deals(status="open", close_from=None if first == this else first,
                                                     close_to=last))
        labels.append(format_skeleton("yMMM", first, locale=get_locale()))
        weighted_points.append(charts.point(weighted, link))
        goal_points.append(charts.point(goals[first]))
        table.rows.append([Cell(labels[-1]), Cell(n, link), Cell(amount), Cell(weighted), Cell(goals[first]),
                           Cell(ratio(weighted, goals[first]))])
    chart = charts.categories(labels, [charts.series(_("Weighted amount"), weighted_points),
                                       charts.series(_("Won amount target"), goal_points, "line", connectNulls=True)],
                              "money")
    undated = service.count(base.where(Deal.expected_close.is_(None)))
    notes = [_("This month includes %(count)d open deals expected to close earlier.", count=overdue)] if overdue else []
    if undated:
        notes.append(_("%(count)d open deals have no expected close date and are left out.", count=undated))
    elsewhere = service.count(base.where(Deal.currency != workspace_currency()))
    return Result(table, chart, [Figure(_("Weighted amount"), sum(r[2] for r in rows.values()), kind="money")],
                  notes=[*notes, *_elsewhere_note(elsewhere)])


def _won_targets(viewer: Member, query: ReportQuery, shown: list) -> dict:
    """{month: the won-amount targets in force for it, summed over whose numbers the report shows (see
    `targets.report_subjects`); None when none is set}. Targets set in another currency do not count."""
    chosen = targets.report_subjects(viewer, query.owner, query.team)
    found = {}
    for month, rows in targets.in_force_by_month(shown, chosen).items():
        goals = [row.won_amount for row in rows.values()
                 if row.won_amount is not None and row.currency == workspace_currency()]
        found[month] = sum(goals) if goals else None
    return found
