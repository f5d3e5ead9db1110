"""/api/v1/fields: the custom field definitions of one record kind (read), as Settings → Fields defines them, so an
integration knows the keys, types and options of the `custom` values customers, deals and orders carry.
Reading them needs what reading the records needs: a role that may view customers, and deals or orders for
theirs (the forms of those records show the same labels); changing them stays on the admin page."""
from flask import g
from flask_babel import lazy_gettext as _l
from marshmallow import fields
from marshmallow.validate import OneOf
from werkzeug.exceptions import Forbidden

from crm.api import schemas
from crm.api.core import answer, documented, resource_blueprint
from crm.fields import definitions
from crm.fields.models import ENTITIES, TYPES
from crm.members.access import require

bp = resource_blueprint("fields", __name__, "/fields", "Custom field definitions of customers, deals and orders.")
# Who may read a record kind's definitions: whoever may view its records.
READ_WITH = {"customer": "customers", "deal": "deals", "order": "orders"}


class OptionOut(schemas.Schema):
    key = fields.String(required=True, metadata={"description": "What a value stores."})
    en = fields.String(required=True)
    zh = fields.String(required=True)
    retired = fields.Boolean(required=True, metadata={"description": "Kept on old values, not offered for new ones."})


class FieldOut(schemas.Schema):
    id = fields.Integer(required=True)
    entity = fields.String(required=True, metadata={"enum": list(ENTITIES)})
    key = fields.String(required=True, metadata={"description": "The value's key in a record's `custom`."})
    type = fields.String(required=True, metadata={"enum": list(TYPES)})
    label_en = fields.String(required=True)
    label_zh = fields.String(required=True)
    help_en = fields.String(required=True)
    help_zh = fields.String(required=True)
    required = fields.Boolean(required=True)
    default = fields.String(required=True, metadata={"description": "As typed on the admin page; empty: none."})
    options = fields.List(fields.Nested(OptionOut), required=True, metadata={
        "description": "A select's or multiselect's choices, in order."})
    position = fields.Integer(required=True)
    sensitive = fields.Boolean(required=True, metadata={"description": "Masked until revealed (customers)."})


class FieldList(schemas.Schema):
    data = fields.List(fields.Nested(FieldOut), required=True)


class ListArgs(schemas.Schema):
    entity = fields.String(load_default="customer", validate=OneOf(ENTITIES, error=_l(
        "Choose one of the listed values.")), metadata={"description": "Whose fields (default: customer)."})


def shown(field) -> dict:
    """A definition as the API shows it: options with both names, even where only one was given."""
    options = [{"key": o["key"], "en": o.get("en") or "", "zh": o.get("zh") or "", "retired": bool(o.get("retired"))}
               for o in field.options or []]
    return {name: getattr(field, name) for name in FieldOut._declared_fields} | {"options": options}


@bp.route("/", methods=["GET"])
@documented(bp)
@require("customers", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=FieldList, success=True, description="The kind's fields in their order (not archived).")
def index(entity: str):
    """The custom fields of customers, deals or orders (`entity`) in the order their forms show them; archived
    fields are left out (their values stay stored, not shown)."""
    if not g.member.can(READ_WITH[entity], "view"):
        raise Forbidden()
    return answer(FieldList, {"data": [shown(f) for f in definitions.fields(entity)]})
