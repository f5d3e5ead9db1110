"""/api/v1 contacts: a customer's contacts (`/customers/{id}/contacts`: the list, primary first, and adding one) and
one contact (`/contacts/{id}`: read, change with If-Match, remove); all through crm/contacts' service, so a contact
goes exactly as far as its customer (its view scope to read, its edit scope to change), with the pages' rules and
messages. `ContactOut` and `shown` are also what the outgoing webhooks' `contact.*` events carry."""
from flask import g, url_for
from flask_babel import gettext as _
from marshmallow import fields
from sqlalchemy import select

from crm.api import schemas
from crm.api.core import (
    IDEMPOTENCY,
    IF_MATCH,
    answer,
    check_if_match,
    documented,
    found_first,
    resource_blueprint,
    write,
)
from crm.contacts import service
from crm.contacts.models import Contact
from crm.customers import queries as customers
from crm.errors import Invalid
from crm.extensions import db
from crm.members.access import require

bp = resource_blueprint("contacts", __name__, "", "Contacts: the people of a customer, seen and changed as far as "
                                                  "their customer is.")
PHONE = {"description": "Read in the workspace's country unless it starts with +; shown as E.164.",
         "example": "13800138000"}


class ContactOut(schemas.Schema):
    id = fields.Integer(required=True)
    customer_id = fields.Integer(required=True)
    name = fields.String(required=True)
    title = fields.String(allow_none=True, required=True)
    mobile = fields.String(allow_none=True, required=True, metadata={"description": "E.164"})
    phone = fields.String(allow_none=True, required=True, metadata={"description": "An office line, E.164."})
    email = fields.String(allow_none=True, required=True)
    wechat = fields.String(allow_none=True, required=True, metadata={"description": "WeChat ID."})
    notes = fields.String(allow_none=True, required=True)
    is_primary = fields.Boolean(required=True, metadata={
        "description": "The one the customer's messages go to when nobody else is chosen; one per customer."})
    marketing_opt_out = fields.Boolean(required=True, metadata={"description": "true: no campaign reaches them."})
    marketing_opt_out_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ContactList(schemas.Schema):
    data = fields.List(fields.Nested(ContactOut), required=True)


class ContactWrite(schemas.Request):
    """The contact form's fields; validated by the same service, with the same messages."""

    name = schemas.text(metadata={"description": "Required when adding.", "example": "李娜"})
    title = schemas.text(metadata={"example": "采购经理"})
    mobile = schemas.text(metadata=PHONE)
    phone = schemas.text(metadata={**PHONE, "description": "An office line. " + PHONE["description"],
                                   "example": "02161234567"})
    email = schemas.text(metadata={"example": "li.na@example.com"})
    wechat = schemas.text()
    notes = schemas.text()
    is_primary = fields.Boolean(allow_none=False, metadata={
        "description": "true makes this the customer's primary contact (the one before stops being it); the first "
                       "contact of a customer is primary anyway. A primary contact stops being it only when "
                       "another is made primary."})
    marketing_opt_out = fields.Boolean(allow_none=False, metadata={"description": "true: send them no campaigns."})


def shown(contact: Contact) -> dict:
    """Every field of the schema, as the contact has it."""
    return {**{name: getattr(contact, name) for name in ContactOut._declared_fields if name != "marketing_opt_out"},
            "marketing_opt_out": contact.marketing_opt_out_at is not None}


def _one(contact_id: int, action: str = "view") -> Contact:
    return service.get_contact(g.member, contact_id, action)


def _locked(contact_id: int) -> Contact:
    """The contact the member may edit, its row locked for this transaction (before it is read, so its ETag is the
    stored one)."""
    db.session.execute(select(Contact.id).where(Contact.id == contact_id).with_for_update())
    return _one(contact_id, "edit")


@bp.route("/customers/<id:customer_id>/contacts", methods=["GET"])
@documented(bp)
@require("customers", "view")
@bp.alt_response(200, schema=ContactList, success=True, description="The customer's contacts, primary first.")
def index(customer_id: int):
    """A customer's contacts, the primary one first, then as they were added; a customer outside the member's
    scope, deleted or unknown is 404."""
    customer = customers.get_customer(g.member, customer_id)
    return answer(ContactList, {"data": [shown(c) for c in service.of_customer(customer.id)]})


@bp.route("/customers/<id:customer_id>/contacts", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("customers", "edit")
@found_first(lambda customer_id: customers.get_customer(g.member, customer_id, "edit"))
@bp.arguments(ContactWrite)
@bp.alt_response(201, schema=ContactOut, success=True,
                 description="Added; `Location` and `ETag` say where and which.")
def create(data: dict, customer_id: int):
    """Add a contact to a customer the member may edit, as the customer page's form does."""
    customer = customers.get_customer(g.member, customer_id, "edit")
    primary, no_marketing = data.pop("is_primary", False), data.pop("marketing_opt_out", False)
    contact = service.create_contact(customer, data, primary=primary, no_marketing=no_marketing)
    return answer(ContactOut, shown(contact), 201, etag=True,
                  headers={"Location": url_for("api_contacts.show", contact_id=contact.id)})


@bp.route("/contacts/<id:contact_id>", methods=["GET"])
@documented(bp)
@require("customers", "view")
@bp.alt_response(200, schema=ContactOut, success=True, description="The contact; `ETag` for If-Match.")
def show(contact_id: int):
    """One contact; one whose customer is outside the member's scope, deleted, or unknown is 404."""
    return answer(ContactOut, shown(_one(contact_id)), etag=True)


@bp.route("/contacts/<id:contact_id>", methods=["PATCH"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("customers", "edit")
@found_first(lambda contact_id: _locked(contact_id))
@bp.arguments(ContactWrite)
@bp.alt_response(200, schema=ContactOut, success=True, description="Changed; the new `ETag`.")
def update(data: dict, contact_id: int):
    """Change the fields sent (the others stay) as the contact form does; `is_primary: true` makes it the primary
    contact, `marketing_opt_out` switches campaigns off or on. With `If-Match: <ETag>` a stale write is refused
    (412)."""
    contact = _locked(contact_id)
    check_if_match(ContactOut, shown(contact))
    primary = data.pop("is_primary", None)
    if primary is False and contact.is_primary:
        raise Invalid({"is_primary": _("Make another contact primary instead.")})
    no_marketing = data.pop("marketing_opt_out", contact.marketing_opt_out_at is not None)
    service.update_contact(contact, {name: getattr(contact, name) for name in service.FIELDS} | data,
                           no_marketing=no_marketing)
    if primary:
        service.make_primary(contact)
    return answer(ContactOut, shown(contact), etag=True)


@bp.route("/contacts/<id:contact_id>", methods=["DELETE"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("customers", "edit")
@bp.alt_response(204, success=True, description="Removed for good; a primary one passes the part to the oldest "
                                                  "contact left.")
def delete(contact_id: int):
    """Remove a contact, as the customer page's Remove does; `If-Match` is honoured as on PATCH."""
    contact = _locked(contact_id)
    check_if_match(ContactOut, shown(contact))
    service.delete_contact(contact)
    return "", 204
