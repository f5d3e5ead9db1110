"""Deal queries: the board's columns with their totals, the list, a deal and its stage history."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, exists, func, select, true
from sqlalchemy.orm import aliased, joinedload, load_only

from crm import listing, validation
from crm.customers.models import LEVELS, Customer
from crm.errors import NotFound
from crm.extensions import db, utcnow
from crm.members.access import scoped
from crm.members.models import Member
from crm.settings import on_local_days
from crm.deals.models import KINDS, Deal, DealStageChange, Pipeline, Stage
from crm.deals.stages import board_pipeline, get_pipeline, pipelines, stages
from crm.validation import record_id

PAGE_SIZE = 30  # cards per board column before "more"
LIST_SIZE = 50
EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)  # LATEST also sorts deals with no close date last


@dataclass
class DealQuery:
    """What the board or the list was asked for: pipeline, filters, sort and the keyset cursor."""

    pipeline_id: int | None = None
    owner: str = ""  # a member id or "me"
    tag: int | None = None
    close_from: date | None = None
    close_to: date | None = None
    status: str = ""  # list only: open, won, lost
    sort: str = "newest"  # list only
    after: str = ""
    # Narrowed from a report (crm/reports): the filter form keeps them as hidden fields.
    team: int | None = None  # the owner is a member of this team
    level: str = ""  # the customer's level
    source: str = ""  # the deal's source
    created_from: date | None = None  # local days of the workspace
    created_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    stage: int | None = None  # in this stage now
    reached: int | None = None  # reached this stage, or a later one of its funnel (see reached_stage)
    stalled: int | None = None  # no stage change in this many days
    reason: str = ""  # lost for this reason
    updated_since: datetime | None = None  # changed at or after this time: what the API's sync clients ask

    @classmethod
    def from_args(cls, args) -> "DealQuery":
        """Read the query string (or a form); anything malformed is ignored rather than failing the page."""
        return cls(
            pipeline_id=record_id(args.get("pipeline_id")),
            owner=args.get("owner", "") if record_id(args.get("owner")) or args.get("owner") == "me" else "",
            tag=record_id(args.get("tag")),
            close_from=validation.or_none(validation.day, args.get("close_from"), "close_from", EARLIEST, LATEST),
            close_to=validation.or_none(validation.day, args.get("close_to"), "close_to", EARLIEST, LATEST),
            status=args.get("status", "") if args.get("status") in KINDS else "",
            sort=args.get("sort") if args.get("sort") in SORTS else "newest",
            after=str(args.get("after", "")),
            team=record_id(args.get("team")),
            level=args.get("level", "") if args.get("level") in LEVELS else "",
            source=validation.clipped(args.get("source"), 60),
            created_from=_day(args, "created_from"), created_to=_day(args, "created_to"),
            closed_from=_day(args, "closed_from"), closed_to=_day(args, "closed_to"),
            stage=record_id(args.get("stage")), reached=record_id(args.get("reached")),
            stalled=validation.or_none(validation.whole_number, args.get("stalled"), "stalled", 1, 3650),
            reason=validation.clipped(args.get("reason"), 250),
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this board or list with `changes`."""
        values = {"pipeline_id": self.pipeline_id, "owner": self.owner, "tag": self.tag,
                  "close_from": self.close_from.isoformat() if self.close_from else "",
                  "close_to": self.close_to.isoformat() if self.close_to else "", "status": self.status,
                  "sort": self.sort if self.sort != "newest" else "", "after": "", **self.narrowing()}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def narrowing(self) -> dict:
        """The filters a report's link may add that the filter form has no control for."""
        days = {name: getattr(self, name).isoformat() for name in ("created_from", "created_to", "closed_from",
                                                                    "closed_to") if getattr(self, name)}
        values = {"team": self.team, "level": self.level, "source": self.source, "stage": self.stage,
                  "reached": self.reached, "stalled": self.stalled, "reason": self.reason, **days}
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.owner or self.tag or self.close_from or self.close_to or self.status or self.narrowing())


def _day(args, name: str) -> date | None:
    """A local day from the query string; the day after it must still be a date."""
    return validation.or_none(validation.day, args.get(name), name, EARLIEST, LATEST)


def visible(viewer: Member, action: str = "view"):
    """Deals the viewer may act on (the role's scope on deals, by owner)."""
    return scoped(select(Deal), viewer, "deals", action, Deal)


def filtered(stmt, viewer: Member, query: DealQuery):
    if query.owner == "me":
        stmt = stmt.where(Deal.owner_id == viewer.id)
    elif query.owner:
        stmt = stmt.where(Deal.owner_id == int(query.owner))
    if query.tag:
        stmt = stmt.where(Deal.customer_id.in_(select(Customer.id).where(Customer.tag_ids.contains([query.tag]))))
    if query.close_from:
        stmt = stmt.where(Deal.expected_close >= query.close_from)
    if query.close_to:
        stmt = stmt.where(Deal.expected_close <= query.close_to)
    if query.status:
        stmt = stmt.where(Deal.status == query.status)
    return _narrowed(stmt, query)


def _narrowed(stmt, query: DealQuery):
    if query.team:
        stmt = stmt.where(Deal.owner_id.in_(select(Member.id).where(Member.team_id == query.team)))
    if query.level:
        stmt = stmt.where(Deal.customer_id.in_(select(Customer.id).where(Customer.level == query.level)))
    if query.source:
        stmt = stmt.where(Deal.source == query.source)
    for column, start, end in ((Deal.created_at, query.created_from, query.created_to),
                               (Deal.closed_at, query.closed_from, query.closed_to)):
        stmt = stmt.where(*on_local_days(column, start, end))
    if query.stage:
        stmt = stmt.where(Deal.stage_id == query.stage)
    if query.reached:
        stmt = stmt.where(reached_stage(query.reached))
    if query.stalled:
        stmt = stmt.where(~exists().where(DealStageChange.deal_id == Deal.id,
                                          DealStageChange.at >= utcnow() - timedelta(days=query.stalled)))
    if query.reason:
        stmt = stmt.where(func.trim(Deal.lost_reason) == query.reason)
    if query.updated_since:
        stmt = stmt.where(Deal.updated_at >= query.updated_since)
    return stmt


def funnel_rank(stage):
    """A stage's place in its pipeline's funnel: open stages by position, then won stages (lost ones are off it)."""
    return case((stage.kind == "won", 100000 + stage.position), else_=stage.position)


def reached_stage(stage_id: int):
    """The deal entered this stage, or an active open or won stage after it in the funnel, at some time (from the
    stage history): a deal that moved on has passed through the steps before."""
    target = aliased(Stage)
    step = aliased(Stage)
    aim = select(target.pipeline_id, funnel_rank(target).label("rank")).where(target.id == stage_id).subquery()
    return exists().where(DealStageChange.deal_id == Deal.id, step.id == DealStageChange.to_stage_id,
                          step.active, step.kind.in_(("open", "won")), step.pipeline_id == aim.c.pipeline_id,
                          funnel_rank(step) >= aim.c.rank)


def _card_options():
    """What a card or a list row shows: no notes, the customer's and owner's names only."""
    return (load_only(Deal.id, Deal.title, Deal.customer_id, Deal.pipeline_id, Deal.stage_id, Deal.amount,
                      Deal.currency, Deal.expected_close, Deal.owner_id, Deal.probability, Deal.status),
            # lazyload("*"): not the customer's own eager owner and tags, which a card never shows.
            joinedload(Deal.customer).load_only(Customer.name).lazyload("*"),
            joinedload(Deal.owner).load_only(Member.name).lazyload(Member.role))


@dataclass
class Column:
    """One board column: its stage, the first cards, the cursor for more, and totals per currency."""

    stage: Stage
    cards: list[Deal] = field(default_factory=list)
    more: str = ""  # the cursor of the next cards ('' when there are no more)
    count: int = 0
    totals: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)  # (currency, total, weighted)


def board(viewer: Member, pipeline: Pipeline, query: DealQuery) -> list[Column]:
    """Every active stage of the pipeline as a column with its first cards and SQL totals."""
    columns = {stage.id: Column(stage) for stage in stages(pipeline.id)}
    _add_totals(viewer, query, columns)
    column_stages = select(Stage.id, Stage.kind).where(Stage.id.in_(list(columns))).subquery()
    top = (filtered(visible(viewer), viewer, query)
           .where(Deal.pipeline_id == pipeline.id, Deal.stage_id == column_stages.c.id,
                  Deal.status == column_stages.c.kind)
           .with_only_columns(Deal.id).order_by(Deal.id.desc()).limit(PAGE_SIZE + 1).lateral())
    ids = select(top.c.id).select_from(column_stages).join(top, true())
    cards = db.session.scalars(select(Deal).where(Deal.id.in_(ids)).options(*_card_options())
                               .order_by(Deal.id.desc())).unique()
    for card in cards:
        columns[card.stage_id].cards.append(card)
    for column in columns.values():
        column.cards, column.more = listing.next_page(column.cards, SORTS["newest"], PAGE_SIZE)
    return list(columns.values())


def _add_totals(viewer: Member, query: DealQuery, columns: dict[int, Column]) -> None:
    """Count, total and weighted total (amount x probability) per column and currency, summed in SQL."""
    weighted = func.round(func.sum(Deal.amount * Deal.probability) / 100, 2)
    stmt = (filtered(visible(viewer), viewer, query).where(Deal.stage_id.in_(list(columns)))
            .with_only_columns(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.amount), weighted)
            .group_by(Deal.stage_id, Deal.currency).order_by(Deal.stage_id, func.count().desc()))
    for stage_id, currency, count, total, weight in db.session.execute(stmt):
        column = columns[stage_id]
        column.count += count
        column.totals.append((currency, total, weight))


def column(viewer: Member, stage: Stage, query: DealQuery, after: str = "") -> Column:
    """One column: its totals and the cards after the cursor (or the first ones)."""
    result = Column(stage)
    _add_totals(viewer, query, {stage.id: result})
    stmt = (filtered(visible(viewer), viewer, query)
            .where(Deal.pipeline_id == stage.pipeline_id, Deal.stage_id == stage.id, Deal.status == stage.kind))
    result.cards, result.more = listing.page(stmt.options(*_card_options()), SORTS["newest"], after, PAGE_SIZE)
    return result


SORTS = {
    "newest": (listing.Key(Deal.id, descending=True),),
    "close": (listing.Key(func.coalesce(Deal.expected_close, LATEST), date,
                          value=lambda deal: deal.expected_close or LATEST), listing.Key(Deal.id)),
    "amount": (listing.Key(Deal.amount, Decimal, descending=True), listing.Key(Deal.id, descending=True)),
    "title": (listing.Key(Deal.title, str), listing.Key(Deal.id)),
}


def list_deals(viewer: Member, query: DealQuery, limit: int = LIST_SIZE,
               whole_rows: bool = False) -> tuple[list[Deal], str]:
    """One page of the deal list and the cursor of the next page ('' on the last one). `whole_rows`: every
    column (the API shows them all), else what a card shows."""
    stmt = filtered(visible(viewer), viewer, query)
    if query.pipeline_id:
        stmt = stmt.where(Deal.pipeline_id == query.pipeline_id)
    if not whole_rows:
        stmt = stmt.options(*_card_options(), joinedload(Deal.stage), joinedload(Deal.pipeline))
    return listing.page(stmt, SORTS[query.sort], query.after, limit)


def deals_for_customer(viewer: Member, customer_id: int, limit: int = 50) -> list[Deal]:
    """A customer's deals the viewer may see: open ones first, newest first."""
    stmt = (visible(viewer).where(Deal.customer_id == customer_id)
            .options(*_card_options(), joinedload(Deal.stage))
            .order_by((Deal.status != "open"), Deal.id.desc()).limit(limit))
    return list(db.session.scalars(stmt).unique())


def get_deal(viewer: Member, deal_id: int, action: str = "view") -> Deal:
    """A deal the viewer may act on; anything else is simply not found."""
    stmt = visible(viewer, action).where(Deal.id == deal_id).options(
        joinedload(Deal.stage), joinedload(Deal.pipeline),
        joinedload(Deal.customer).load_only(Customer.name).lazyload("*"),
        joinedload(Deal.owner).lazyload(Member.role))
    deal = db.session.scalar(stmt)
    if deal is None:
        raise NotFound()
    return deal


def allowed(viewer: Member, deal_id: int, action: str) -> bool:
    """Whether the viewer's role reaches this deal for `action` (view, edit, delete)."""
    if not viewer.can("deals", action):
        return False
    return db.session.scalar(visible(viewer, action).with_only_columns(Deal.id).where(Deal.id == deal_id)) is not None


def stage_history(deal_id: int) -> list[tuple[DealStageChange, Stage | None, Stage, str]]:
    """The deal's moves, newest first: (change, from stage, to stage, who)."""
    from_stage, to_stage = aliased(Stage), aliased(Stage)
    stmt = (select(DealStageChange, from_stage, to_stage, func.coalesce(Member.name, ""))
            .outerjoin(from_stage, from_stage.id == DealStageChange.from_stage_id)
            .join(to_stage, to_stage.id == DealStageChange.to_stage_id)
            .outerjoin(Member, Member.id == DealStageChange.actor_id)
            .where(DealStageChange.deal_id == deal_id).order_by(DealStageChange.id.desc()).limit(100))
    return list(db.session.execute(stmt).tuples())


def stage_choices(pipeline_id: int | None = None) -> list[tuple[Pipeline, list[Stage]]]:
    """Active stages grouped by active pipeline (or of one pipeline), for the deal form."""
    chosen = [get_pipeline(pipeline_id)] if pipeline_id else pipelines()
    return [(pipeline, stages(pipeline.id)) for pipeline in chosen]


def first_stage(pipeline_id: int | None) -> Stage | None:
    """Where a new deal starts: the first open stage of the pipeline (or of the first pipeline)."""
    try:
        pipeline = board_pipeline(pipeline_id)
    except NotFound:
        return None
    return next((s for s in stages(pipeline.id) if s.kind == "open"), None)
