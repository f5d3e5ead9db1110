"""Pipeline and deal rules and queries: stages, moves with their history, the board, the list."""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import case, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased, joinedload, load_only

from crm import listing, validation
from crm.audit.service import audited, record
from crm.customers import chooser
from crm.customers.models import Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields import service as fields
from crm.members.access import in_reach, scoped
from crm.members.models import Member, Setting
from crm.pipelines.models import (
    DEFAULT_STAGES,
    KINDS,
    Deal,
    DealStageChange,
    Pipeline,
    Stage,
)
from crm.timeline import service as timeline
from crm.timeline.models import TimelineEvent
from crm.validation import record_id

PAGE_SIZE = 30  # cards per board column before "more"
LIST_SIZE = 50
EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)  # LATEST also sorts deals with no close date last
AUDITED = ("title", "customer_id", "stage_id", "amount", "currency", "expected_close", "owner_id", "probability",
           "source", "notes", "status", "lost_reason")


# Pipelines and stages (settings)

def pipelines(active_only: bool = True) -> list[Pipeline]:
    """The pipelines in their order."""
    stmt = select(Pipeline).order_by(Pipeline.position, Pipeline.id)
    return list(db.session.scalars(stmt.where(Pipeline.active) if active_only else stmt))


def get_pipeline(pipeline_id: int) -> Pipeline:
    """A pipeline by id (hidden ones too); 404 when there is none."""
    pipeline = db.session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFound()
    return pipeline


def board_pipeline(pipeline_id: int | None) -> Pipeline:
    """The active pipeline asked for, else the first one."""
    stmt = select(Pipeline).where(Pipeline.active).order_by(Pipeline.position, Pipeline.id)
    if pipeline_id:
        stmt = stmt.where(Pipeline.id == pipeline_id)
    pipeline = db.session.scalars(stmt.limit(1)).first()
    if pipeline is None:
        raise NotFound()
    return pipeline


def stages(pipeline_id: int, include_retired: bool = False) -> list[Stage]:
    """A pipeline's stages in their order (active ones unless asked)."""
    stmt = select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position, Stage.id)
    return list(db.session.scalars(stmt if include_retired else stmt.where(Stage.active)))


def get_stage(stage_id: int) -> Stage:
    """A stage by id (retired ones too); 404 when there is none."""
    stage = db.session.get(Stage, stage_id)
    if stage is None:
        raise NotFound()
    return stage


def find_stage(stage_id) -> Stage | None:
    """The stage with this id (any text that is not an id finds none)."""
    return db.session.get(Stage, record_id(stage_id) or 0)


def stage_name(stage_id) -> str:
    """A stage's name in the reader's language, for the audit log; `#id` when there is no such stage."""
    stage = find_stage(stage_id)
    return stage.name if stage else f"#{stage_id}"


def stage_deal_counts(pipeline_id: int) -> dict[int, int]:
    """How many deals (all of them, whoever owns them) sit in each stage of a pipeline."""
    stmt = select(Deal.stage_id, func.count()).where(Deal.pipeline_id == pipeline_id).group_by(Deal.stage_id)
    return dict(db.session.execute(stmt).all())


def _names(data: dict) -> dict:
    errors = {}
    names = {"name_en": validation.collect(errors, validation.text, data.get("name_en"), "name_en", 60,
                                           required=_("Name is required.")),
             "name_zh": validation.collect(errors, validation.text, data.get("name_zh"), "name_zh", 60) or ""}
    if errors:
        raise Invalid(errors)
    return names


def create_pipeline(data: dict) -> Pipeline:
    """A new pipeline, with the default stages to rename or retire."""
    position = db.session.scalar(select(func.coalesce(func.max(Pipeline.position), -1) + 1))
    pipeline = Pipeline(**_names(data), position=position, active=True)
    db.session.add(pipeline)
    db.session.flush()
    db.session.add_all(Stage(**stage, pipeline_id=pipeline.id, position=i) for i, stage in enumerate(DEFAULT_STAGES))
    db.session.flush()
    record("create", "pipeline", pipeline.id, summary=pipeline.name_en)
    return pipeline


def update_pipeline(pipeline: Pipeline, data: dict) -> Pipeline:
    """Rename a pipeline, and show or hide it (the last shown one stays)."""
    names = _names(data)
    active = str(data.get("active", "1")) not in ("", "0")
    if not active and pipeline.active and len(pipelines()) == 1:
        raise Invalid({"active": _("Keep at least one pipeline in use.")})
    with audited(pipeline, entity="pipeline", fields=("name_en", "name_zh", "active"), summary=lambda p: p.name_en):
        pipeline.name_en, pipeline.name_zh, pipeline.active = names["name_en"], names["name_zh"], active
    db.session.flush()
    return pipeline


def _stage_fields(data: dict) -> dict:
    errors, values = {}, {}
    values.update(validation.collect(errors, _names, data) or {})
    values["probability"] = validation.collect(errors, validation.percent, data.get("probability"), "probability",
                                               required=True)
    values["kind"] = validation.collect(errors, validation.choice, data.get("kind"), "kind", KINDS, default="open")
    if errors:
        raise Invalid(errors)
    return values


def _check_kinds_remain(pipeline_id: int, changed: Stage, new_kind: str | None) -> None:
    """A pipeline keeps at least one active open, won and lost stage."""
    kinds = [new_kind if s.id == changed.id else s.kind for s in stages(pipeline_id)]
    if any(kind not in kinds for kind in KINDS):
        raise Invalid({"kind": _("A pipeline needs at least one open, one won and one lost stage.")})


def add_stage(pipeline: Pipeline, data: dict) -> Stage:
    """A new stage; an open one goes before the won and lost stages."""
    values = _stage_fields(data)
    current = stages(pipeline.id, include_retired=True)
    closed = [s for s in current if s.kind != "open" and s.active]
    at = closed[0].position if values["kind"] == "open" and closed else len(current)
    for stage in current:
        if stage.position >= at:
            stage.position += 1
    stage = Stage(pipeline_id=pipeline.id, position=at, active=True, **values)
    db.session.add(stage)
    db.session.flush()
    record("create", "stage", stage.id, summary=f"{pipeline.name_en}: {stage.name_en}")
    return stage


def update_stage(stage: Stage, data: dict) -> Stage:
    """Rename a stage, change its probability (deals that follow it follow) or its kind (only when empty)."""
    values = _stage_fields(data)
    if values["kind"] != stage.kind:
        _check_kinds_remain(stage.pipeline_id, stage, values["kind"])
        if stage_deal_counts(stage.pipeline_id).get(stage.id):
            raise Invalid({"kind": _("Move this stage's deals to another stage before changing its kind.")})
    with audited(stage, entity="stage", fields=("name_en", "name_zh", "probability", "kind"),
                 summary=lambda s: s.name_en):
        for name, value in values.items():
            setattr(stage, name, value)
    db.session.execute(update(Deal).where(Deal.stage_id == stage.id, Deal.probability_set.is_(False))
                       .values(probability=stage.probability))
    db.session.flush()
    return stage


def move_stage(stage: Stage, step: int) -> None:
    """Swap a stage with its neighbour among the active stages (step -1 = up, 1 = down)."""
    order = stages(stage.pipeline_id)
    at = next(i for i, s in enumerate(order) if s.id == stage.id)
    other = at + step
    if 0 <= other < len(order):
        order[at], order[other] = order[other], order[at]
        for position, each in enumerate(order):
            each.position = position
        db.session.flush()


def retire_stage(viewer: Member, stage: Stage, to_stage_id) -> int:
    """Retire a stage; its deals first move to `to_stage_id` (same pipeline and kind). Returns how many moved."""
    if not stage.active:
        raise Invalid({"to_stage_id": _("This stage is already retired.")})
    _check_kinds_remain(stage.pipeline_id, stage, None)
    moved = 0
    if stage_deal_counts(stage.pipeline_id).get(stage.id):
        target = find_stage(to_stage_id)
        if (target is None or not target.active or target.id == stage.id or target.pipeline_id != stage.pipeline_id
                or target.kind != stage.kind):
            raise Invalid({"to_stage_id": _("Choose another active stage of the same kind for its deals.")})
        moved = _move_all(viewer, stage, target)
    stage.active = False
    record("update", "stage", stage.id, summary=stage.name_en, changes={"active": [True, False]})
    db.session.flush()
    return moved


def _move_all(viewer: Member, stage: Stage, target: Stage) -> int:
    """Move every deal of `stage` to `target` in three statements: history, timeline, the deals."""
    now = utcnow()
    deals = select(Deal.id, Deal.customer_id, Deal.title).where(Deal.stage_id == stage.id).subquery()
    db.session.execute(insert(DealStageChange).from_select(
        ["deal_id", "from_stage_id", "to_stage_id", "at", "actor_id"],
        select(deals.c.id, literal(stage.id), literal(target.id), literal(now), literal(viewer.id))))
    payload = func.jsonb_build_object(
        "deal", deals.c.title, "from", literal(stage.names, JSONB), "to", literal(target.names, JSONB),
        "link", func.jsonb_build_array("pipelines.show", func.jsonb_build_object("deal_id", deals.c.id)))
    db.session.execute(insert(TimelineEvent).from_select(
        ["at", "customer_id", "deal_id", "kind", "actor_id", "actor_name", "payload"],
        select(literal(now), deals.c.customer_id, deals.c.id, literal("deal_stage"), literal(viewer.id),
               literal(viewer.name), payload)))
    result = db.session.execute(
        update(Deal).where(Deal.stage_id == stage.id)
        .values(stage_id=target.id, updated_at=now,
                probability=case((Deal.probability_set, Deal.probability), else_=target.probability)),
        execution_options={"synchronize_session": False})
    db.session.expire_all()
    return result.rowcount


# Deals: queries

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
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this board or list with `changes`."""
        values = {"pipeline_id": self.pipeline_id, "owner": self.owner, "tag": self.tag,
                  "close_from": self.close_from.isoformat() if self.close_from else "",
                  "close_to": self.close_to.isoformat() if self.close_to else "", "status": self.status,
                  "sort": self.sort if self.sort != "newest" else "", "after": ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.owner or self.tag or self.close_from or self.close_to or self.status)


def visible(viewer: Member, action: str = "view"):
    """Deals the viewer may act on (the role's scope on deals, by owner)."""
    return scoped(select(Deal), viewer, "deals", action, Deal)


def _filtered(stmt, viewer: Member, query: DealQuery):
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
    return stmt


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
    top = (_filtered(visible(viewer), viewer, query)
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
    stmt = (_filtered(visible(viewer), viewer, query).where(Deal.stage_id.in_(list(columns)))
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
    stmt = (_filtered(visible(viewer), viewer, query)
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


def list_deals(viewer: Member, query: DealQuery, limit: int = LIST_SIZE) -> tuple[list[Deal], str]:
    """One page of the deal list and the cursor of the next page ('' on the last one)."""
    stmt = _filtered(visible(viewer), viewer, query)
    if query.pipeline_id:
        stmt = stmt.where(Deal.pipeline_id == query.pipeline_id)
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


def default_currency() -> str:
    """The workspace's currency (Settings: "currency")."""
    row = db.session.get(Setting, "currency")
    return row.value if row is not None and isinstance(row.value, str) else "CNY"


# Deals: validation and writes

def _clean_field(viewer: Member, name: str, value, deal: Deal | None):
    if name == "title":
        return validation.text(value, name, 200, required=True)
    if name in ("source", "notes", "lost_reason"):
        return validation.text(value, name, {"source": 60, "notes": 5000, "lost_reason": 250}[name])
    if name == "customer_id":
        customer = chooser.chosen(viewer, value)
        if customer is None:
            raise Invalid({name: _("Choose a customer.")})
        return customer.id
    if name == "stage_id":
        return _form_stage(value, deal)
    if name == "amount":
        return validation.money(value, name) or Decimal("0.00")
    if name == "currency":
        return validation.currency(value, name, default=default_currency())
    if name == "expected_close":
        return validation.day(value, name, EARLIEST, LATEST)
    if name == "owner_id":
        return validation.owner(value)
    if name == "probability":
        return validation.percent(value, name)
    return None


EDITABLE = ("title", "customer_id", "stage_id", "amount", "currency", "expected_close", "owner_id", "probability",
            "source", "notes", "lost_reason")


def clean(viewer: Member, data: dict, deal: Deal | None = None) -> dict:
    """Validate the deal form; every problem is reported at once, at its field."""
    cleaned, errors = {}, {}
    names = EDITABLE if deal is None else [name for name in EDITABLE if name in data]
    for name in names:
        cleaned[name] = validation.collect(errors, _clean_field, viewer, name, data.get(name), deal)
    if errors:
        raise Invalid(errors)
    return cleaned


def _form_stage(value, deal: Deal | None) -> Stage:
    stage = find_stage(value)
    if stage is None or not stage.active or not get_pipeline(stage.pipeline_id).active:
        raise Invalid({"stage_id": _("Choose a stage.")})
    if deal is not None and stage.pipeline_id != deal.pipeline_id:
        raise Invalid({"stage_id": _("Choose a stage of this deal's pipeline.")})
    return stage


def _check_owner(viewer: Member, owner_id: int | None, action: str) -> None:
    """A role without "all" scope gives deals only to members it reaches (itself, its team)."""
    if viewer.role.scope("deals", action) == "all":
        return
    if not in_reach(viewer, "deals", action, owner_id):
        raise Invalid({"owner_id": _("You can only give deals to members of your own team.")})


def _set_probability(deal: Deal, typed: int | None, stage: Stage) -> None:
    """Empty follows the stage; a typed number other than the stage's is kept through later moves."""
    deal.probability_set = typed is not None and typed != stage.probability
    deal.probability = typed if deal.probability_set else stage.probability


def _enter_stage(deal: Deal, stage: Stage, reason: str | None) -> None:
    """Put the deal in `stage`, keeping status, close time and lost reason in step with the stage's kind."""
    if stage.kind == "lost":
        reason = validation.text(reason, "lost_reason", 250, required=_("Say why the deal was lost."))
    if stage.kind != "open" and (deal.status != stage.kind or deal.closed_at is None):
        deal.closed_at = utcnow()
    elif stage.kind == "open":
        deal.closed_at = None
    deal.stage, deal.stage_id, deal.pipeline_id, deal.status = stage, stage.id, stage.pipeline_id, stage.kind
    deal.lost_reason = reason if stage.kind == "lost" else None
    if not deal.probability_set:
        deal.probability = stage.probability


def _link(deal: Deal) -> tuple:
    return ("pipelines.show", {"deal_id": deal.id})


def _clean_with_custom(viewer: Member, data: dict, custom: dict | None, deal: Deal | None) -> tuple[dict, dict, dict]:
    """The deal's own fields and its custom fields validated together, so the form shows every problem at once:
    (cleaned fields, the `custom` dict to store, custom changes for the audit log). Nothing is changed yet."""
    errors = {}
    cleaned = validation.collect(errors, clean, viewer, data, deal)
    checked = validation.collect(errors, fields.checked_values, deal, custom or {}, creating=deal is None, entity="deal")
    if errors:
        raise Invalid(errors)
    return (cleaned, *checked)


def create_deal(viewer: Member, data: dict, custom: dict | None = None) -> Deal:
    """A new deal, owned by the viewer unless another owner (within reach) is chosen.

    `custom` holds the raw custom field values by key (fields.read_form); required ones must be there."""
    cleaned, values, custom_changes = _clean_with_custom(viewer, data, custom, None)
    stage = cleaned.pop("stage_id")
    typed, reason = cleaned.pop("probability"), cleaned.pop("lost_reason")
    cleaned["owner_id"] = cleaned.get("owner_id") or viewer.id
    _check_owner(viewer, cleaned["owner_id"], "create")
    deal = Deal(**cleaned, status="open", custom=values)
    _set_probability(deal, typed, stage)
    _enter_stage(deal, stage, reason)
    db.session.add(deal)
    db.session.flush()
    db.session.add(DealStageChange(deal_id=deal.id, from_stage_id=None, to_stage_id=stage.id, actor_id=viewer.id))
    timeline.log("deal_created", customer_id=deal.customer_id, deal_id=deal.id, link=_link(deal), actor=viewer,
                 deal=deal.title, stage=stage.names)
    record("create", "deal", deal.id, summary=deal.title,
           changes={f"custom.{key}": change for key, change in custom_changes.items()})
    return deal


def update_deal(viewer: Member, deal: Deal, data: dict, custom: dict | None = None) -> Deal:
    """Save the deal form; a stage change is a move (history and timeline), and all is audited.

    `custom` holds the raw custom field values the form carried (fields.read_form); others stay as they are."""
    with audited(deal, entity="deal", fields=AUDITED, state=fields.audit_state, summary=lambda d: d.title) as change:
        cleaned, values, _changes = _clean_with_custom(viewer, data, custom, deal)
        if values != (deal.custom or {}):
            deal.custom = values
        stage, reason = cleaned.pop("stage_id", deal.stage), cleaned.pop("lost_reason", deal.lost_reason)
        typed = cleaned.pop("probability", deal.probability if deal.probability_set else None)
        if "owner_id" in cleaned and cleaned["owner_id"] != deal.owner_id:
            _check_owner(viewer, cleaned["owner_id"], "edit")
        for name, value in cleaned.items():
            setattr(deal, name, value)
        _set_probability(deal, typed, stage)
        if stage.id != deal.stage_id:
            _move(viewer, deal, stage, reason)
        elif deal.status == "lost":
            _enter_stage(deal, stage, reason)
    if change:
        deal.updated_at = utcnow()
    db.session.flush()
    return deal


def _target_stage(deal: Deal, stage_id) -> Stage:
    """The stage a deal is moved to, or why it may not go there."""
    stage = find_stage(stage_id)
    if stage is None:
        raise Invalid({"stage_id": _("Choose a stage.")})
    if stage.pipeline_id != deal.pipeline_id:
        raise Invalid({"stage_id": _("A deal can only move between stages of its own pipeline.")})
    if not stage.active:
        raise Invalid({"stage_id": _("The stage %(stage)s is retired; choose another one.", stage=stage.name)})
    return stage


def _move(viewer: Member, deal: Deal, stage: Stage, reason: str | None) -> None:
    old = deal.stage
    _enter_stage(deal, stage, reason)
    deal.updated_at = utcnow()
    db.session.add(DealStageChange(deal_id=deal.id, from_stage_id=old.id, to_stage_id=stage.id, actor_id=viewer.id))
    where = {"customer_id": deal.customer_id, "deal_id": deal.id, "link": _link(deal), "actor": viewer}
    if stage.kind == "won":
        timeline.log("deal_won", **where, deal=deal.title)
    elif stage.kind == "lost":
        timeline.log("deal_lost", **where, deal=deal.title, reason=deal.lost_reason)
    else:
        timeline.log("deal_stage", **where, deal=deal.title, **{"from": old.names, "to": stage.names})


def move_deal_to_stage(viewer: Member, deal: Deal, stage_id, reason: str | None = None) -> Deal:
    """Move a deal to another active stage of its pipeline; a lost stage needs a reason."""
    stage = _target_stage(deal, stage_id)
    if stage.id == deal.stage_id:
        return deal
    old = deal.stage
    _move(viewer, deal, stage, reason)
    record("update", "deal", deal.id, summary=deal.title, changes={"stage_id": [old.id, stage.id]})
    db.session.flush()
    return deal


def _closing_stage(deal: Deal, kind: str, stage_id=None) -> Stage:
    if stage_id:
        stage = _target_stage(deal, stage_id)
        if stage.kind == kind:
            return stage
    stage = next((s for s in stages(deal.pipeline_id) if s.kind == kind), None)
    if stage is None:
        raise Invalid({"stage_id": _("This pipeline has no stage for that.")})
    return stage


def mark_won(viewer: Member, deal: Deal) -> Deal:
    """Move the deal to its pipeline's won stage."""
    return move_deal_to_stage(viewer, deal, _closing_stage(deal, "won").id)


def mark_lost(viewer: Member, deal: Deal, reason: str | None, stage_id=None) -> Deal:
    """Move the deal to a lost stage (the one given, else the pipeline's first) with its reason."""
    reason = validation.text(reason, "lost_reason", 250, required=_("Say why the deal was lost."))
    stage = _closing_stage(deal, "lost", stage_id)
    if stage.id == deal.stage_id:
        deal.lost_reason = reason
        return deal
    return move_deal_to_stage(viewer, deal, stage.id, reason)


def delete_deal(deal: Deal) -> None:
    """Delete a deal with its stage history and its timeline events."""
    timeline.forget_deal(deal.id)
    record("delete", "deal", deal.id, summary=deal.title)
    db.session.delete(deal)
    db.session.flush()
