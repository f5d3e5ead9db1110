"""/api/v1/members: the workspace's members with their role and team (read), for roles that see the members
page; customers and deals name their owner by member id."""
from marshmallow import fields

from crm.api import schemas
from crm.api.core import answer, documented, resource_blueprint
from crm.members import service as members
from crm.members.access import require

bp = resource_blueprint("members", __name__, "/members", "Members of the workspace.")


class MemberOut(schemas.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True, attribute="role.key", metadata={"description": "The role's key."})
    role_name = fields.String(required=True, attribute="role.name")
    team_id = fields.Integer(allow_none=True, required=True)
    active = fields.Boolean(required=True)


class MemberList(schemas.Schema):
    data = fields.List(fields.Nested(MemberOut), required=True)


@bp.route("/", methods=["GET"])
@documented(bp)
@require("members", "view")
@bp.alt_response(200, schema=MemberList, success=True, description="Every member, deactivated ones too.")
def index():
    """Every member of the workspace."""
    return answer(MemberList, {"data": members.members()})
