"""/api/v1/activities: follow-ups (planned ones and logged interactions): the list, one, plan or log one, mark one
done (with the next one); all through crm/followups' service, so the scope, the rules and the messages are the
pages' own. Follow-ups keep no time of change: the list offers `created_since` and `done_since`, not
`updated_since` (a plan moved to another time is not found by time)."""
from flask import g, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields
from marshmallow.validate import OneOf, Range

from crm.api import schemas
from crm.api.core import IDEMPOTENCY, answer, documented, found_first, resource_blueprint, write
from crm.errors import Invalid, NotFound
from crm.followups import service
from crm.followups.models import METHODS, Activity
from crm.members.access import require

bp = resource_blueprint("activities", __name__, "/activities",
                        "Follow-ups: plans with a due time and logged interactions; marking one done.")
TIME = {"format": "date-time", "description": "ISO 8601; without an offset, in the workspace's time zone.",
        "example": "2026-12-07T09:30:00+08:00"}


class ActivityOut(schemas.Schema):
    id = fields.Integer(required=True)
    customer_id = fields.Integer(allow_none=True, required=True)
    deal_id = fields.Integer(allow_none=True, required=True)
    contact_id = fields.Integer(allow_none=True, required=True, metadata={"description": "Who is called or met: one of the customer's contacts; null: none."})

    owner_id = fields.Integer(required=True, metadata={"description": "Who does it."})
    method = fields.String(required=True, metadata={"enum": list(METHODS)})
    summary = fields.String(required=True)
    due_at = fields.DateTime(allow_none=True, required=True, metadata={"description": "null: a logged interaction."})
    remind_minutes = fields.Integer(allow_none=True, required=True)
    done_at = fields.DateTime(allow_none=True, required=True)
    outcome = fields.String(required=True)
    created_by = fields.Integer(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)


class ActivityPage(schemas.Page):
    data = fields.List(fields.Nested(ActivityOut), required=True)


class Done(schemas.Schema):
    done = fields.Nested(ActivityOut, required=True)
    next = fields.Nested(ActivityOut, allow_none=True, required=True, metadata={
        "description": "The next follow-up, when `next_due_at` was sent."})


class ListArgs(schemas.Schema):
    customer_id = fields.Integer(validate=Range(1, schemas.MAX_ID))
    deal_id = fields.Integer(validate=Range(1, schemas.MAX_ID))
    owner = fields.Integer(validate=Range(1, schemas.MAX_ID), metadata={"description": "A member id."})
    done = fields.Boolean(metadata={"description": "true: done ones (logged or completed); false: open plans."})
    created_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Written at or after this time (ISO 8601 with an offset)."})
    done_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Done (or logged) at or after this time (ISO 8601 with an offset)."})
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 25)."})


class ActivityWrite(schemas.Request):
    """The follow-up form: a plan (`mode` plan: when, who, reminder) or an interaction that happened (`mode` log:
    its outcome; done now, by the token's member)."""

    mode = fields.String(load_default="plan", metadata={"enum": ["plan", "log"]},
                         validate=OneOf(["plan", "log"], error=_l("Choose one of the listed values.")))
    customer_id = schemas.record_id(allow_none=True)
    deal_id = schemas.record_id(allow_none=True, metadata={"description": "Its customer is the deal's."})
    contact_id = schemas.record_id(allow_none=True, metadata={"description": "One of the customer's contacts (who is called or met); null: none."})
    method = schemas.text(metadata={"enum": [*METHODS, None]})
    summary = schemas.text(metadata={"description": "What to do, or what was done.", "example": "Send the quote"})
    due_at = schemas.text(metadata=TIME)
    remind_minutes = fields.Integer(allow_none=True, strict=True, metadata={"enum": [*service.REMINDERS, None]})
    owner_id = schemas.record_id(allow_none=True, metadata={"description": "Default: the token's member."})
    outcome = schemas.text(metadata={"description": "A logged interaction's outcome."})


class DoneWrite(schemas.Request):
    outcome = schemas.text(metadata={"description": "Required."})
    next_due_at = schemas.text(metadata={**TIME, "description": "Plan the next follow-up at this time (optional)."})
    next_method = schemas.text(metadata={"enum": [*METHODS, None]})
    next_summary = schemas.text(metadata={"description": "Default: this one's summary."})


def _one(activity_id: int, action: str = "view") -> Activity:
    return service.get_activity(g.member, activity_id, action)


@bp.route("/", methods=["GET"])
@documented(bp)
@require("activities", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=ActivityPage, success=True, description="One page of follow-ups, newest first.")
def index(**filters):
    """Follow-ups the token's member may see (the role's activities scope), one keyset page at a time."""
    rows, next_cursor = service.list_activities(g.member, **filters)
    return answer(ActivityPage, {"data": rows, "next_cursor": next_cursor or None})


@bp.route("/", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("activities", "create")
@bp.arguments(ActivityWrite)
@bp.alt_response(201, schema=ActivityOut, success=True, description="Planned or logged; `Location` says where.")
def create(data: dict):
    """Plan a follow-up, or log an interaction that happened (`mode` log), about a customer and/or a deal."""
    try:
        activity = service.create(g.member, data)
    except NotFound:  # a customer or deal the member may not see is a choice refused, as on the form
        raise Invalid({"deal_id": _("Choose a deal.")} if data.get("deal_id")
                      else {"customer_id": _("Choose a customer.")}) from None
    return answer(ActivityOut, activity, 201, etag=True,
                  headers={"Location": url_for("api_activities.show", activity_id=activity.id)})


@bp.route("/<id:activity_id>", methods=["GET"])
@documented(bp)
@require("activities", "view")
@bp.alt_response(200, schema=ActivityOut, success=True, description="The follow-up.")
def show(activity_id: int):
    """One follow-up; one outside the member's scope or unknown is 404."""
    return answer(ActivityOut, _one(activity_id), etag=True)


@bp.route("/<id:activity_id>/done", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("activities", "edit")
@found_first(lambda activity_id: _one(activity_id, "edit"))
@bp.arguments(DoneWrite)
@bp.alt_response(200, schema=Done, success=True, description="Done; and the next one, when planned.")
def done(data: dict, activity_id: int):
    """Mark a planned follow-up done with its outcome, as My day does; plan the next one when `next_due_at` is
    sent. A follow-up already done is refused (422)."""
    activity = _one(activity_id, "edit")
    following = service.complete(g.member, activity, data)
    return answer(Done, {"done": activity, "next": following})
