"""/api/v1/deals: the deal list with the list page's filters (and updated since), one deal, create, change (PATCH
with If-Match), move to another stage (a lost stage needs a reason, as on the board), delete; all through
crm/deals' services, so the scope, the rules and the messages are the pages' own."""
from flask import g, request, url_for
from marshmallow import fields
from marshmallow.validate import OneOf, Range
from sqlalchemy import select

from crm.api import schemas
from crm.api.core import (
    IDEMPOTENCY,
    IF_MATCH,
    answer,
    check_if_match,
    documented,
    found_first,
    refuse_unknown_custom,
    resource_blueprint,
    write,
)
from crm.deals import deal_queries, deals
from crm.deals.models import KINDS, Deal
from crm.extensions import db
from crm.members.access import require

bp = resource_blueprint("deals", __name__, "/deals", "Deals in their pipelines' stages; stage moves.")


class DealOut(schemas.Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    customer_id = fields.Integer(required=True)
    contact_id = fields.Integer(allow_none=True, required=True, metadata={"description": "The person at the customer; null: none."})
    pipeline_id = fields.Integer(required=True)
    stage_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(KINDS), "description": "The stage's kind."})
    amount = schemas.money(required=True)
    currency = fields.String(required=True)
    probability = fields.Integer(required=True, metadata={"description": "Percent, 0-100."})
    probability_set = fields.Boolean(required=True, metadata={
        "description": "false: the probability follows the stage's."})
    expected_close = fields.Date(allow_none=True, required=True)
    owner_id = fields.Integer(allow_none=True, required=True)
    source = fields.String(allow_none=True, required=True)
    notes = fields.String(allow_none=True, required=True)
    lost_reason = fields.String(allow_none=True, required=True)
    custom = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DealPage(schemas.Page):
    data = fields.List(fields.Nested(DealOut), required=True)


class ListArgs(schemas.Schema):
    pipeline_id = fields.Integer(validate=Range(1, schemas.MAX_ID))
    stage = fields.Integer(validate=Range(1, schemas.MAX_ID), metadata={"description": "In this stage now."})
    status = fields.String(validate=OneOf(KINDS))
    owner = fields.String(metadata={"description": "A member id or `me`."})
    tag = fields.Integer(validate=Range(1, schemas.MAX_ID), metadata={"description": "The customer has this tag."})
    close_from = fields.Date(metadata={"description": "Expected to close on or after this day."})
    close_to = fields.Date()
    sort = fields.String(validate=OneOf(list(deal_queries.SORTS)))
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 50)."})
    updated_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Only deals changed (or moved) at or after this time (ISO 8601 with an offset)."})


class DealWrite(schemas.Request):
    """The fields of the deal form; validated by the same service, with the same messages."""

    title = schemas.text(metadata={"description": "Required when creating.", "example": "200 boxes of paper"})
    customer_id = schemas.record_id(allow_none=True, metadata={"description": "Required when creating."})
    contact_id = schemas.record_id(allow_none=True, metadata={"description": "One of the customer's contacts (the person the deal is with); null: none."})
    stage_id = schemas.record_id(allow_none=True, metadata={
        "description": "Required when creating (it names the pipeline); on PATCH a move like POST .../move."})
    amount = schemas.decimal(metadata={"example": "12000.00"})
    currency = schemas.text(metadata={"description": "Default: the workspace's.", "example": "CNY"})
    expected_close = schemas.text(metadata={"format": "date", "example": "2026-12-31"})
    owner_id = schemas.record_id(allow_none=True, metadata={"description": "Default: the token's member."})
    probability = schemas.decimal(metadata={"description": "Percent, 0-100; empty: the stage's."})
    source = schemas.text()
    notes = schemas.text()
    lost_reason = schemas.text(metadata={"description": "Needed in a lost stage."})
    custom = schemas.custom_values()


class StageMove(schemas.Request):
    stage_id = schemas.record_id(required=True, metadata={"description": "A stage of the deal's pipeline."})
    lost_reason = schemas.text(metadata={"description": "Needed when the stage is a lost one."})


def shown(deal: Deal) -> dict:
    """What the API shows of a deal: every field."""
    return {name: getattr(deal, name) for name in DealOut._declared_fields} | {"custom": deal.custom or {}}


def _locked(deal_id: int, action: str = "edit") -> Deal:
    """The deal, its row locked for this transaction (before it is read, so its ETag is the stored one)."""
    db.session.execute(select(Deal.id).where(Deal.id == deal_id).with_for_update())
    return deal_queries.get_deal(g.member, deal_id, action)


@bp.route("/", methods=["GET"])
@documented(bp)
@require("deals", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=DealPage, success=True, description="One page of deals, newest first (or `sort`).")
def index(limit: int = deal_queries.LIST_SIZE, updated_since=None, **_filters):
    """Deals the token's member may see, filtered as the deal list filters, one keyset page at a time."""
    query = deal_queries.DealQuery.from_args(request.args)
    query.updated_since = updated_since
    rows, next_cursor = deal_queries.list_deals(g.member, query, limit, whole_rows=True)
    return answer(DealPage, {"data": [shown(d) for d in rows], "next_cursor": next_cursor or None})


@bp.route("/", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("deals", "create")
@bp.arguments(DealWrite)
@bp.alt_response(201, schema=DealOut, success=True, description="Created; `Location` and `ETag` say where and which.")
def create(data: dict):
    """Add a deal in a stage, owned by the token's member unless `owner_id` names another within reach."""
    custom = data.pop("custom", {})
    refuse_unknown_custom(custom, "deal")
    deal = deals.create_deal(g.member, data, custom=custom)
    return answer(DealOut, shown(deal), 201, etag=True,
                  headers={"Location": url_for("api_deals.show", deal_id=deal.id)})


@bp.route("/<id:deal_id>", methods=["GET"])
@documented(bp)
@require("deals", "view")
@bp.alt_response(200, schema=DealOut, success=True, description="The deal; `ETag` for If-Match.")
def show(deal_id: int):
    """One deal; a deal outside the member's scope or unknown is 404."""
    return answer(DealOut, shown(deal_queries.get_deal(g.member, deal_id)), etag=True)


@bp.route("/<id:deal_id>", methods=["PATCH"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("deals", "edit")
@found_first(lambda deal_id: _locked(deal_id))
@bp.arguments(DealWrite)
@bp.alt_response(200, schema=DealOut, success=True, description="Changed; the new `ETag`.")
def update(data: dict, deal_id: int):
    """Change the fields sent (the others stay); with `If-Match: <ETag>` a stale write is refused (412)."""
    deal = _locked(deal_id)
    check_if_match(DealOut, shown(deal))
    custom = data.pop("custom", {})
    refuse_unknown_custom(custom, "deal")
    deals.update_deal(g.member, deal, data, custom=custom)
    return answer(DealOut, shown(deal), etag=True)


@bp.route("/<id:deal_id>/move", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY, IF_MATCH])
@write
@require("deals", "edit")
@found_first(lambda deal_id: _locked(deal_id))
@bp.arguments(StageMove)
@bp.alt_response(200, schema=DealOut, success=True, description="Moved; the deal as it is now.")
def move(data: dict, deal_id: int):
    """Move the deal to another active stage of its pipeline, as a drag on the board does; a lost stage needs
    `lost_reason` (422 at that field otherwise), a won or lost stage closes the deal."""
    deal = _locked(deal_id)
    check_if_match(DealOut, shown(deal))
    deals.move_deal_to_stage(g.member, deal, data["stage_id"], data.get("lost_reason"))
    return answer(DealOut, shown(deal), etag=True)


@bp.route("/<id:deal_id>", methods=["DELETE"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("deals", "delete")
@bp.alt_response(204, success=True, description="Deleted with its stage history, as on the deal page.")
def delete(deal_id: int):
    """Delete a deal (there is no trash for deals, as on the deal page); `If-Match` is honoured as on PATCH."""
    deal = _locked(deal_id, "delete")
    check_if_match(DealOut, shown(deal))
    deals.delete_deal(deal)
    return "", 204
