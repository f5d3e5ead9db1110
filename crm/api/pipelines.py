"""/api/v1/pipelines: the deal pipelines and their stages, in their order (read)."""
from marshmallow import fields

from crm import names
from crm.api import schemas
from crm.api.core import answer, documented, resource_blueprint
from crm.deals import stages
from crm.deals.models import KINDS, Pipeline
from crm.members.access import require

bp = resource_blueprint("pipelines", __name__, "/pipelines", "Deal pipelines and their stages.")


class StageOut(schemas.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "In the caller's language (Accept-Language)."})
    name_en = fields.String(required=True)
    name_zh = fields.String(required=True)
    position = fields.Integer(required=True)
    probability = fields.Integer(required=True, metadata={"description": "Percent, 0-100."})
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})


class PipelineOut(schemas.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    name_en = fields.String(required=True)
    name_zh = fields.String(required=True)
    position = fields.Integer(required=True)
    active = fields.Boolean(required=True)
    stages = fields.List(fields.Nested(StageOut), required=True)


class PipelineList(schemas.Schema):
    data = fields.List(fields.Nested(PipelineOut), required=True)


def shown(pipeline: Pipeline) -> dict:
    """A pipeline with its stages in use (retired stages keep their deals' history but take no new deals)."""
    def named(thing) -> dict:
        return {"name": names.in_language(thing.name_en, thing.name_zh), "name_en": thing.name_en,
                "name_zh": thing.name_zh}
    return {"id": pipeline.id, "position": pipeline.position, "active": pipeline.active, **named(pipeline),
            "stages": [{"id": s.id, "position": s.position, "probability": s.probability, "kind": s.kind, **named(s)}
                       for s in stages.stages(pipeline.id)]}


@bp.route("/", methods=["GET"])
@documented(bp)
@require("deals", "view")
@bp.alt_response(200, schema=PipelineList, success=True, description="The pipelines in use, in their order.")
def index():
    """The pipelines in use and their stages."""
    return answer(PipelineList, {"data": [shown(p) for p in stages.pipelines()]})


@bp.route("/<id:pipeline_id>", methods=["GET"])
@documented(bp)
@require("deals", "view")
@bp.alt_response(200, schema=PipelineOut, success=True, description="One pipeline (a hidden one too).")
def show(pipeline_id: int):
    """One pipeline and its stages."""
    return answer(PipelineOut, shown(stages.get_pipeline(pipeline_id)))
