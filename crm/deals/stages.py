"""Pipelines and their stages (settings): order, names, kinds, and retiring a stage with its deals moved."""
from flask_babel import gettext as _
from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB

from crm import names, validation
from crm.audit.service import audited, record
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.deals.models import DEFAULT_STAGES, KINDS, Deal, DealStageChange, Pipeline, Stage
from crm.timeline.models import TimelineEvent
from crm.validation import record_id


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
    """The English and Chinese names: one of them is enough."""
    return names.clean(data, "name_en", "name_zh", 60)


def create_pipeline(data: dict) -> Pipeline:
    """A new pipeline, with the default stages to rename or retire."""
    position = db.session.scalar(select(func.coalesce(func.max(Pipeline.position), -1) + 1))
    pipeline = Pipeline(**_names(data), position=position, active=True)
    db.session.add(pipeline)
    db.session.flush()
    db.session.add_all(Stage(**stage, pipeline_id=pipeline.id, position=i) for i, stage in enumerate(DEFAULT_STAGES))
    db.session.flush()
    record("create", "pipeline", pipeline.id, summary=pipeline.name)
    return pipeline


def update_pipeline(pipeline: Pipeline, data: dict) -> Pipeline:
    """Rename a pipeline, and show or hide it (the last shown one stays)."""
    typed = _names(data)
    active = str(data.get("active", "1")) not in ("", "0")
    if not active and pipeline.active and len(pipelines()) == 1:
        raise Invalid({"active": _("Keep at least one pipeline in use.")})
    with audited(pipeline, entity="pipeline", fields=("name_en", "name_zh", "active"), summary=lambda p: p.name):
        pipeline.name_en, pipeline.name_zh, pipeline.active = typed["name_en"], typed["name_zh"], active
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
    record("create", "stage", stage.id, summary=f"{pipeline.name}: {stage.name}")
    return stage


def update_stage(stage: Stage, data: dict) -> Stage:
    """Rename a stage, change its probability (deals that follow it follow) or its kind (only when empty)."""
    values = _stage_fields(data)
    if values["kind"] != stage.kind:
        _check_kinds_remain(stage.pipeline_id, stage, values["kind"])
        if stage_deal_counts(stage.pipeline_id).get(stage.id):
            raise Invalid({"kind": _("Move this stage's deals to another stage before changing its kind.")})
    with audited(stage, entity="stage", fields=("name_en", "name_zh", "probability", "kind"),
                 summary=lambda s: s.name):
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
    record("update", "stage", stage.id, summary=stage.name, changes={"active": [True, False]})
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
        "link", func.jsonb_build_array("deals.show", func.jsonb_build_object("deal_id", deals.c.id)))
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
