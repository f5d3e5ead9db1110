"""/api/v1/tags: the workspace's tags (read); customers carry their tag ids."""
from marshmallow import fields

from crm.api import schemas
from crm.api.core import answer, documented, resource_blueprint
from crm.members.access import require
from crm.tags import service as tags

bp = resource_blueprint("tags", __name__, "/tags", "Tags customers carry.")


class TagOut(schemas.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    color = fields.String(required=True)


class TagList(schemas.Schema):
    data = fields.List(fields.Nested(TagOut), required=True)


@bp.route("/", methods=["GET"])
@documented(bp)
@require("customers", "view")
@bp.alt_response(200, schema=TagList, success=True, description="Every tag, by name.")
def index():
    """Every tag of the workspace (tags are shared by all its members)."""
    return answer(TagList, {"data": tags.all_tags()})
