"""/api/v1/orders: the order list with the list page's filters (and created/updated since, for an ERP's sync), one
order with its lines, totals and status history, placing an order, changing it (PATCH), and moving it along the
status workflow; all through crm/orders' services, so the scope, the workflow (MOVES), the totals and the
messages are the pages' own.
Orders are never deleted (the pages have no delete either): a placed order is cancelled by a status move."""
from flask import g, request, url_for
from flask_babel import gettext as _
from marshmallow import fields
from marshmallow.validate import Length, OneOf, Range

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
from crm.errors import Invalid
from crm.members.access import require
from crm.orders import queries, service
from crm.orders.forms import LineInput, new_key
from crm.orders.lines import MAX_LINES
from crm.orders.models import STATUSES, Order
from crm.payments.state import STATES, payment_state

bp = resource_blueprint("orders", __name__, "/orders",
                        "Orders with their lines, totals and status history; status moves along the workflow.")
STATUS_ENUM = {"enum": list(STATUSES)}


class LineOut(schemas.Schema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    product_id = fields.Integer(allow_none=True, required=True)
    description = fields.String(required=True)
    unit = fields.String(allow_none=True, required=True)
    quantity = fields.String(required=True, metadata={"description": "A decimal string, up to three decimals."})
    unit_price = schemas.money(required=True)
    discount = fields.String(required=True, metadata={"description": "Percent, a decimal string."})
    total = schemas.money(required=True)


class StatusChangeOut(schemas.Schema):
    from_status = fields.String(allow_none=True, required=True, metadata={"description": "null: the order was placed."})
    to_status = fields.String(required=True, metadata=STATUS_ENUM)
    at = fields.DateTime(required=True)
    actor_name = fields.String(required=True)
    note = fields.String(allow_none=True, required=True)
    amount = schemas.money(allow_none=True, required=True)


class OrderOut(schemas.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "SO-000042"})
    status = fields.String(required=True, metadata=STATUS_ENUM)
    next_statuses = fields.List(fields.String(metadata=STATUS_ENUM), required=True, metadata={
        "description": "Where POST .../status may move it now."})
    customer_id = fields.Integer(required=True)
    contact_id = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Who ordered: one of the customer's contacts; null: none."})
    customer_name = fields.String(required=True)
    owner_id = fields.Integer(required=True)
    currency = fields.String(required=True, metadata={"description": "Of every amount of the order."})
    subtotal = schemas.money(required=True)
    discount_total = schemas.money(required=True)
    total = schemas.money(required=True)
    refunded_amount = schemas.money(allow_none=True, required=True)
    paid_amount = schemas.money(required=True)  # paid online (Stripe) so far, refunds taken off
    payment_state = fields.String(required=True, metadata={"enum": list(STATES)})
    delivery_date = fields.Date(allow_none=True, required=True)
    notes = fields.String(allow_none=True, required=True)
    custom = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    lines = fields.List(fields.Nested(LineOut), required=True)
    status_history = fields.List(fields.Nested(StatusChangeOut), required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class OrderPage(schemas.Page):
    data = fields.List(fields.Nested(OrderOut), required=True)


class ListArgs(schemas.Schema):
    status = fields.String(validate=OneOf(STATUSES))
    customer_id = fields.Integer(validate=Range(1, schemas.MAX_ID))
    customer = fields.String(metadata={"description": "Part of the customer's name, phone, email or company."})
    owner = fields.String(metadata={"description": "A member id or `me`."})
    since = fields.Date(metadata={"description": "Placed on or after this day (the workspace's calendar)."})
    until = fields.Date(metadata={"description": "Placed on or before this day."})
    created_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Placed at or after this time (ISO 8601 with an offset): new orders since the last pull."})
    updated_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Changed at or after this time (a status move, an edit), ISO 8601 with an offset."})
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 25)."})


class LineWrite(schemas.Request):
    """One line of the order form: a product (its name, unit and price are taken where left out) or free text."""

    product_id = schemas.record_id(allow_none=True)
    description = schemas.text(metadata={"example": "A4 paper, 80 g"})
    unit = schemas.text(metadata={"example": "box"})
    quantity = schemas.decimal(metadata={"example": "10"})
    unit_price = schemas.decimal(metadata={"example": "35.00"})
    discount = schemas.decimal(metadata={"description": "Percent, 0-100.", "example": "5"})


class OrderWrite(schemas.Request):
    customer_id = schemas.record_id(required=True)
    contact_id = schemas.record_id(allow_none=True, metadata={"description": "One of the customer's contacts (who ordered; the order's news goes to them); null: none."})
    owner_id = schemas.record_id(allow_none=True, metadata={"description": "Default: the token's member."})
    currency = schemas.text(metadata={"description": "Default: the workspace's.", "example": "CNY"})
    delivery_date = schemas.text(metadata={"format": "date", "example": "2026-12-24"})
    notes = schemas.text()
    custom = schemas.custom_values()
    lines = fields.List(fields.Nested(LineWrite), required=True, validate=Length(max=MAX_LINES))


class OrderPatch(schemas.Request):
    """The order form's fields, each optional; customer, currency and lines change only while the order is placed."""

    customer_id = schemas.record_id()
    contact_id = schemas.record_id(allow_none=True, metadata={"description": "One of the customer's contacts (who ordered; the order's news goes to them); null: none."})
    owner_id = schemas.record_id()
    currency = schemas.text()
    delivery_date = schemas.text(metadata={"format": "date"})
    notes = schemas.text()
    custom = schemas.custom_values()
    lines = fields.List(fields.Nested(LineWrite), validate=Length(max=MAX_LINES), metadata={
        "description": "The order's whole set of lines (only while it is placed)."})


class StatusMove(schemas.Request):
    status = fields.String(required=True, metadata={**STATUS_ENUM, "description": "The status to move to; a "
                           "refund is `refunded` (the amount decides whether it becomes partially_refunded)."})
    note = schemas.text(metadata={"description": "Kept in the status history, e.g. a tracking number."})
    amount = schemas.decimal(metadata={"description": "A refund's amount (default: the whole total)."})


def shown(order: Order) -> dict:
    """What the API shows of an order: every field, its lines and its status history."""
    return {**{name: getattr(order, name) for name in (
        "id", "number", "status", "customer_id", "contact_id", "owner_id", "currency", "subtotal", "discount_total", "total",
        "refunded_amount", "paid_amount", "delivery_date", "notes", "custom", "lines", "created_at", "updated_at")},
        "payment_state": payment_state(order),
        "custom": order.custom or {}, "customer_name": order.customer.name, "next_statuses": list(order.next_moves),
        "status_history": order.changes}


@bp.route("/", methods=["GET"])
@documented(bp)
@require("orders", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=OrderPage, success=True, description="One page of orders, newest first.")
def index(limit: int = queries.PAGE_SIZE, created_since=None, updated_since=None, **_filters):
    """Orders the token's member may see, filtered as the order list filters, one keyset page at a time."""
    query = queries.OrderQuery.from_args(request.args)
    query.created_since, query.updated_since = created_since, updated_since
    rows, next_cursor = queries.list_orders(g.member, query, limit, whole_rows=True)
    return answer(OrderPage, {"data": [shown(o) for o in rows], "next_cursor": next_cursor or None})


@bp.route("/", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("orders", "create")
@bp.arguments(OrderWrite)
@bp.alt_response(201, schema=OrderOut, success=True, description="Placed; `Location` and `ETag` say where and which.")
def create(data: dict):
    """Place an order (status `placed`); its totals are worked out from the lines, as on the order form."""
    rows = [_row(line) for line in data.pop("lines")]
    custom = data.pop("custom", {})
    refuse_unknown_custom(custom, "order")
    order = service.create_order(g.member, {k: v for k, v in data.items() if v is not None}, rows, custom=custom)
    order = queries.get_order(g.member, order.id)
    return answer(OrderOut, shown(order), 201, etag=True,
                  headers={"Location": url_for("api_orders.show", order_id=order.id)})


@bp.route("/<id:order_id>", methods=["GET"])
@documented(bp)
@require("orders", "view")
@bp.alt_response(200, schema=OrderOut, success=True, description="The order; `ETag` for If-Match.")
def show(order_id: int):
    """One order; an order outside the member's scope or unknown is 404."""
    return answer(OrderOut, shown(queries.get_order(g.member, order_id)), etag=True)


@bp.route("/<id:order_id>", methods=["PATCH"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("orders", "edit")
@found_first(lambda order_id: _locked(order_id))
@bp.arguments(OrderPatch)
@bp.alt_response(200, schema=OrderOut, success=True, description="Changed; the new `ETag`.")
def update(data: dict, order_id: int):
    """Change the fields sent (the others stay), as the order form does; with `If-Match: <ETag>` a stale write is
    refused (412). Once the order has shipped its customer and currency stay, and lines are refused."""
    order = _locked(order_id)
    check_if_match(OrderOut, shown(order))
    lines, custom = data.pop("lines", None), data.pop("custom", {})
    if lines is not None and order.status != "placed":
        raise Invalid({"lines": _("Only a placed order can change its lines.")})
    refuse_unknown_custom(custom, "order")
    rows = [_row(line) for line in lines] if lines is not None else None
    service.update_order(g.member, order, data, rows, custom=custom)
    return answer(OrderOut, shown(order), etag=True)


@bp.route("/<id:order_id>/status", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY, IF_MATCH])
@write
@require("orders", "edit")
@found_first(lambda order_id: _locked(order_id))
@bp.arguments(StatusMove)
@bp.alt_response(200, schema=OrderOut, success=True, description="Moved; the order as it is now.")
def move(data: dict, order_id: int):
    """Move the order along the workflow (placed → shipped → received → completed, refunds, cancelling), as the
    order page's buttons do; a move the workflow does not allow from its status is refused (422) with the page's
    message, and the customer hears of it as from the page."""
    order = _locked(order_id)
    check_if_match(OrderOut, shown(order))
    service.move_order(g.member, order, data["status"], data.get("note") or "", data.get("amount"))
    return answer(OrderOut, shown(order), etag=True)


def _locked(order_id: int) -> Order:
    """The order, its row locked for this transaction (the move's rules read its status)."""
    return queries.get_order(g.member, order_id, "edit", lock=True)


def _row(line: dict) -> LineInput:
    """A line as the order form would have sent it."""
    return LineInput(key=new_key(), **{name: str(line[name]) if line.get(name) is not None else ""
                                       for name in ("product_id", "description", "unit", "quantity", "unit_price",
                                                    "discount")})
