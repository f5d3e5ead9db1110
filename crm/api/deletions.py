"""/api/v1/deletions: the records deleted since a time, for a client that syncs by `updated_since` (which cannot
see what is gone); read from the trash and the audit log (crm/audit/deletions.py), scoped by the token's role."""
from flask import g
from marshmallow import fields
from marshmallow.validate import OneOf, Range

from crm.api import schemas
from crm.api.core import answer, documented, resource_blueprint
from crm.audit import deletions

bp = resource_blueprint("deletions", __name__, "/deletions",
                        "Records deleted since a time: customers (trashed or deleted for good), deals, cancelled "
                        "follow-ups, tags, and what an import's undo removed.")


class DeletionOut(schemas.Schema):
    type = fields.String(required=True, metadata={"enum": list(deletions.TYPES)})
    id = fields.Integer(required=True, metadata={"description": "The deleted record's id."})
    deleted_at = fields.DateTime(required=True)


class DeletionPage(schemas.Page):
    data = fields.List(fields.Nested(DeletionOut), required=True)


class ListArgs(schemas.Schema):
    since = fields.AwareDateTime(required=True, default_timezone=None, metadata={
        "description": "Deleted at or after this time (ISO 8601 with an offset): the time of the last sync."})
    type = fields.List(fields.String(validate=OneOf(list(deletions.TYPES))), metadata={
        "description": "Only these kinds (repeat the parameter); default: every kind the token's role may see."})
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 100)."})


@bp.route("/", methods=["GET"])
@documented(bp)
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=DeletionPage, success=True,
                 description="One page of deletions, oldest first. A kind the role may not view is left out.")
def index(since, type=(), after: str = "", limit: int = deletions.PAGE):  # noqa: A002 - the query's name
    """What was deleted at or after `since`: apply these, then fetch the records changed since by `updated_since`
    (a restored customer comes back there)."""
    rows, next_cursor = deletions.deletions(g.member, since, type, after, limit)
    return answer(DeletionPage, {"data": rows, "next_cursor": next_cursor or None})
