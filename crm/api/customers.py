"""/api/v1/customers: the customer list with the list page's filters, one customer, create, change (PATCH with
If-Match), delete to the trash, reveal a sensitive value; all through crm/customers' services, so the scope, the
rules and the messages are the pages' own."""
from flask import g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import fields
from marshmallow.validate import Length, OneOf, Range
from sqlalchemy import select

from crm import validation
from crm.api import schemas
from crm.api.core import IDEMPOTENCY, IF_MATCH, answer, check_if_match, documented, resource_blueprint, write
from crm.customers import addresses, queries, sensitive, writes
from crm.customers.models import CHANNELS, KINDS, LEVELS, SENSITIVE, STAGES, Customer, Tag
from crm.errors import Invalid
from crm.extensions import db
from crm.fields import definitions as field_definitions
from crm.fields import filters, record_values
from crm.members.access import require
from crm.web import open_when_read_only

bp = resource_blueprint("customers", __name__, "/customers", "Customers, with their tags and custom fields.")


class TagRef(schemas.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    color = fields.String(required=True)


class CustomerOut(schemas.Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    name = fields.String(required=True)
    phone = fields.String(allow_none=True, required=True, metadata={"description": "E.164"})
    email = fields.String(allow_none=True, required=True)
    company = fields.String(allow_none=True, required=True)
    title = fields.String(allow_none=True, required=True)
    country = fields.String(allow_none=True, required=True, metadata={"description": "ISO 3166 alpha-2", "example": "CN"})
    region = fields.String(allow_none=True, required=True, metadata={
        "description": "Province (China, as the region list names it) or state / region", "example": "广东省"})
    city = fields.String(allow_none=True, required=True, metadata={"example": "深圳市"})
    district = fields.String(allow_none=True, required=True, metadata={"example": "南山区"})
    postcode = fields.String(allow_none=True, required=True)
    street = fields.String(allow_none=True, required=True, metadata={"example": "科技园路1号"})
    address = fields.String(allow_none=True, required=True, metadata={
        "deprecated": True, "description": "The street line (`street`), as the one free-text address was called."})
    source = fields.String(allow_none=True, required=True)
    level = fields.String(allow_none=True, required=True)
    stage = fields.String(required=True, metadata={"enum": list(STAGES)})
    owner_id = fields.Integer(allow_none=True, required=True)
    notes = fields.String(allow_none=True, required=True)
    preferred_channel = fields.String(required=True, metadata={"enum": list(CHANNELS)})
    tags = fields.List(fields.Nested(TagRef), required=True)
    custom = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    sensitive = fields.Dict(keys=fields.String(), values=fields.String(), required=True, metadata={
        "description": "ID number, bank account and sensitive custom fields (`custom_<key>`), masked; "
                       "POST .../reveal/{name} shows one in full to a role that may (audited)."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class CustomerPage(schemas.Page):
    data = fields.List(fields.Nested(CustomerOut), required=True)


class CustomerWrite(schemas.Request):
    """The fields of the customer form; validated by the same service, with the same messages."""

    name = schemas.text(metadata={"description": "Required when creating.", "example": "张伟"})
    kind = schemas.text(metadata={"enum": [*KINDS, None]})
    phone = schemas.text(metadata={"description": "Read in the workspace's country unless it starts with +.",
                                   "example": "13800138000"})
    email = schemas.text(metadata={"example": "zhang.wei@example.com"})
    company = schemas.text(metadata={"example": "上海华东贸易有限公司"})
    title = schemas.text()
    country = schemas.text(metadata={
        "description": "ISO 3166 alpha-2 (or the country's name in English or Chinese); when left out and another "
                       "part of the address is given, the workspace's country.", "example": "CN"})
    region = schemas.text(metadata={"description": "In China a province of the region list (广东省; 广东 and "
                                                   "Guangdong are read as it), elsewhere as written.",
                                    "example": "广东省"})
    city = schemas.text(metadata={"description": "In China a city of that province.", "example": "深圳市"})
    district = schemas.text(metadata={"description": "In China a district of that city.", "example": "南山区"})
    postcode = schemas.text()
    street = schemas.text(metadata={"example": "科技园路1号"})
    address = schemas.text(metadata={"deprecated": True, "description": "The same as `street`."})
    source = schemas.text()
    level = schemas.text(metadata={"enum": [*LEVELS, "", None]})
    stage = schemas.text(metadata={"enum": [*STAGES, None]})
    owner_id = schemas.record_id(allow_none=True)
    notes = schemas.text()
    preferred_channel = schemas.text(metadata={"enum": [*CHANNELS, None]})
    id_number = schemas.text(metadata={"description": "Needs the role's sensitive / edit."})
    bank_account = schemas.text(metadata={"description": "Needs the role's sensitive / edit."})
    tags = fields.List(schemas.record_id(), validate=Length(max=50),
                       error_messages={"invalid": _l("Send a list of ids.")},
                       metadata={"description": "Tag ids: the customer's tags become exactly these."})
    custom = schemas.custom_values()


class ListArgs(schemas.Schema):
    q = fields.String(metadata={"description": "Search: name, phone, email, company; exact ID number or bank account."})
    tag = fields.List(fields.Integer(), metadata={"description": "Tag ids (repeat the parameter)."})
    tag_mode = fields.String(validate=OneOf(["all", "any"]))
    level = fields.String(validate=OneOf(LEVELS))
    stage = fields.String(validate=OneOf(STAGES))
    owner = fields.String(metadata={"description": "A member id, `me` or `none`."})
    sort = fields.String(validate=OneOf(list(queries.SORTS)))
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 25)."})
    updated_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Only customers changed at or after this time (ISO 8601 with an offset)."})
    source = fields.String()
    team = fields.Integer()
    created_from = fields.Date()
    created_to = fields.Date()
    quiet = fields.Integer(validate=Range(1, 3650))
    country = fields.String(metadata={"description": "ISO 3166 alpha-2."})
    region = fields.String(metadata={"description": "Province or region, as stored (广东省)."})
    city = fields.String()


def shown(customer: Customer) -> dict:
    """What the API shows of a customer: every field, sensitive ones masked."""
    secret = {name: sensitive.masked(customer, name) for name in SENSITIVE if getattr(customer, f"{name}_enc")}
    secret.update({f"custom_{key}": record_values.masked_custom(customer, key)
                   for key in (customer.custom_sensitive or {})})
    return {**{name: getattr(customer, name) for name in (
        "id", "kind", "name", "phone", "email", "company", "title", *addresses.PARTS, "source", "level", "stage",
        "owner_id", "notes", "preferred_channel", "custom", "created_at", "updated_at")},
        "address": customer.street, "tags": customer.tags, "sensitive": secret}


def _one(customer_id: int, action: str = "view") -> Customer:
    return queries.get_customer(g.member, customer_id, action)


@bp.route("/", methods=["GET"])
@documented(bp)
@require("customers", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=CustomerPage, success=True, description="One page of customers, newest first.")
def index(limit: int = queries.PAGE_SIZE, updated_since=None, **_filters):
    """Customers the token's member may see, filtered as the customer list filters (custom fields: `cf_<key>`,
    `cf_<key>_min`, `cf_<key>_max`), one keyset page at a time."""
    query = queries.CustomerQuery.from_args(request.args)
    query.custom = filters.filter_args(request.args, field_definitions.fields())
    query.updated_since = updated_since
    rows, next_cursor, _total = queries.list_customers(g.member, query, limit=limit, whole_rows=True)
    return answer(CustomerPage, {"data": [shown(c) for c in rows], "next_cursor": next_cursor or None})


@bp.route("/", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("customers", "create")
@bp.arguments(CustomerWrite)
@bp.alt_response(201, schema=CustomerOut, success=True,
                 description="Created; `Location` and `ETag` say where and which.")
def create(data: dict):
    """Add a customer, owned by the token's member unless `owner_id` names another within reach."""
    custom, tag_ids = data.pop("custom", {}), data.pop("tags", None)
    errors, wanted = _refused(data, custom, tag_ids)
    customer = validation.collect(errors, writes.create_customer, g.member, data, custom=custom)
    if errors:
        raise Invalid(errors)
    if wanted is not None:
        _set_tags(customer, wanted)
    customer = _one(customer.id)
    return answer(CustomerOut, shown(customer), 201, etag=True,
                  headers={"Location": url_for("api_customers.show", customer_id=customer.id)})


@bp.route("/<id:customer_id>", methods=["GET"])
@documented(bp)
@require("customers", "view")
@bp.alt_response(200, schema=CustomerOut, success=True, description="The customer; `ETag` for If-Match.")
def show(customer_id: int):
    """One customer; a customer outside the member's scope, deleted or unknown is 404."""
    return answer(CustomerOut, shown(_one(customer_id)), etag=True)


@bp.route("/<id:customer_id>", methods=["PATCH"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("customers", "edit")
@bp.arguments(CustomerWrite)
@bp.alt_response(200, schema=CustomerOut, success=True, description="Changed; the new `ETag`.")
def update(data: dict, customer_id: int):
    """Change the fields sent (the others stay); with `If-Match: <ETag>` a stale write is refused (412)."""
    customer = _locked(customer_id, "edit")
    custom, tag_ids = data.pop("custom", {}), data.pop("tags", None)
    errors, wanted = _refused(data, custom, tag_ids)
    validation.collect(errors, writes.update_customer, g.member, customer, data, partial=True, custom=custom)
    if errors:
        raise Invalid(errors)
    if wanted is not None:
        _set_tags(customer, wanted)
    return answer(CustomerOut, shown(_one(customer_id)), etag=True)


@bp.route("/<id:customer_id>", methods=["DELETE"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("customers", "delete")
@bp.alt_response(204, success=True, description="Moved to the trash (restorable on the trash page).")
def delete(customer_id: int):
    """Move a customer to the trash; `If-Match` is honoured as on PATCH."""
    writes.move_to_trash([_locked(customer_id, "delete")])
    return "", 204


class Revealed(schemas.Schema):
    name = fields.String(required=True)
    value = fields.String(required=True)


@bp.route("/<id:customer_id>/reveal/<name>", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("sensitive", "view")
@bp.alt_response(200, schema=Revealed, success=True, description="The value in full; the reveal is audited.")
@open_when_read_only
def reveal(customer_id: int, name: str):
    """Show one sensitive value (`id_number`, `bank_account` or `custom_<key>`) in full, as the page's Reveal button
    does: for a role that may, on a customer in its scope, written to the audit log."""
    return answer(Revealed, {"name": name, "value": sensitive.reveal(g.member, customer_id, name)})


def _locked(customer_id: int, action: str) -> Customer:
    """The customer, its row locked for this transaction, after its If-Match (if any) is checked."""
    db.session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    customer = _one(customer_id, action)
    check_if_match(CustomerOut, shown(customer))
    return customer


def _refused(data: dict, custom: dict, tag_ids: list[int] | None) -> tuple[dict, list[Tag] | None]:
    """What the API refuses beside the service's own rules, so one answer names every problem: sensitive fields
    the role may not enter (the form leaves them out; here they are refused, not ignored), custom fields nobody
    defined (dropped from `custom`), tags that do not exist. Returns the messages and the wanted tags."""
    errors = {name: _("Your role may not enter this field.") for name in SENSITIVE
              if data.get(name) and not g.member.can("sensitive", "edit")}
    known = {f.key for f in field_definitions.fields()}
    for key in [key for key in custom if key not in known]:
        errors[f"custom_{key}"] = _("Unknown field.")
        del custom[key]
    wanted = None
    if tag_ids is not None:
        wanted = list(db.session.scalars(select(Tag).where(Tag.id.in_(set(tag_ids)))))
        if len(wanted) != len(set(tag_ids)):
            errors["tags"] = _("Choose one of the listed values.")
    return errors, wanted


def _set_tags(customer: Customer, wanted: list[Tag]) -> None:
    """The customer's tags become exactly `wanted`, through the services the customer page uses."""
    for tag in wanted:
        writes.add_tag([customer], tag)
    for tag in [t for t in customer.tags if t not in wanted]:
        writes.remove_tag([customer], tag)
