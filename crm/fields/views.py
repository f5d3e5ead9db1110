"""Settings > Fields: custom fields for customers, deals and orders (?entity=), and which built-in customer
fields are required or hidden."""
from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.extensions import db
from crm.fields import definitions
from crm.fields.models import ENTITIES, SENSITIVE_ENTITIES, TYPES
from crm.members.access import require
from crm.web import on_invalid, saved, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("fields", __name__, "/settings/fields")

TYPE_LABELS = {"text": _l("Text"), "long_text": _l("Long text"), "number": _l("Number"), "money": _l("Money"),
               "date": _l("Date"), "datetime": _l("Date and time"), "select": _l("Single select"),
               "multiselect": _l("Multi select"), "checkbox": _l("Checkbox"), "email": _l("Email"),
               "phone": _l("Phone"), "url": _l("Web address")}
ENTITY_LABELS = {"customer": _l("Customers"), "deal": _l("Deals"), "order": _l("Orders")}
registry.plug(
    bp, registry.SettingsTab("fields.index", _l("Fields"), order=40, permission=("settings", "view"),
                             current=("fields.*",)),
    registry.AuditEntity("field", _l("Custom field"),
                         fields={"type": _l("Type"), "label": _l("Label"), "label_en": _l("Label (English)"),
                                 "label_zh": _l("Label (Chinese)"), "required": _l("Required")},
                         values={"type": TYPE_LABELS}))


@bp.app_context_processor
def labels():
    return {"field_type_labels": TYPE_LABELS}


def _entity(value) -> str:
    """The record kind asked for (customer, deal or order); customers when none or another is named."""
    return value if value in ENTITIES else "customer"


def _tab(entity: str) -> dict:
    """URL arguments of the Fields page showing `entity`'s fields (customers need none)."""
    return {} if entity == "customer" else {"entity": entity}


def _edit_page(field, entity: str, errors: dict, form):
    return render_template("fields/edit.html", field=field, entity=entity, types=TYPES, errors=errors, form=form,
                           tab=_tab(entity), entity_labels=ENTITY_LABELS,
                           listed=entity in definitions.LISTED_ENTITIES, can_be_sensitive=entity in SENSITIVE_ENTITIES)


@bp.get("/")
@require("settings", "view")
def index():
    """One record kind's custom fields in their order, its archived ones, and (customers) the built-in rules."""
    entity = _entity(request.args.get("entity"))
    return render_template("fields/index.html", fields=definitions.fields(entity), entity=entity,
                           entity_labels=ENTITY_LABELS, tab=_tab(entity),
                           listed=entity in definitions.LISTED_ENTITIES,
                           archived=[f for f in definitions.fields(entity, include_archived=True) if f.archived_at],
                           builtin=definitions.BUILTIN_CONFIGURABLE, rules=definitions.builtin_rules())


@bp.get("/new")
@require("settings", "edit")
def new():
    """The form for a new field of the kind named by ?entity= (customers when none)."""
    return _edit_page(None, _entity(request.args.get("entity")), {}, request.form)


@bp.post("/")
@require("settings", "edit")
def create():
    """Add a custom field to customers, deals or orders (the form's `entity`)."""
    entity = _entity(request.form.get("entity"))
    on_invalid(lambda error: _edit_page(None, entity, error.errors, request.form))
    field = definitions.save_field(None, request.form, entity)
    return saved(_("Field %(name)s added.", name=field.label()), "fields.index", **_tab(entity))


@bp.get("/<id:field_id>")
@require("settings", "view")
def edit(field_id: int):
    field = definitions.get_field(field_id)
    return _edit_page(field, field.entity, {}, {})


@bp.post("/<id:field_id>")
@require("settings", "edit")
def update(field_id: int):
    """Save a field; a type change is refused with a report when stored values would not fit."""
    field = definitions.get_field(field_id)
    entity = field.entity
    on_invalid(lambda error: _edit_page(field, entity, error.errors, request.form))
    definitions.save_field(field, request.form)
    return saved(_("Field %(name)s saved.", name=field.label()), "fields.index", **_tab(entity))


@bp.post("/<id:field_id>/archive")
@require("settings", "edit")
def archive(field_id: int):
    """Archive (the values stay, and come back on restore)."""
    field = definitions.get_field(field_id)
    definitions.archive(field)
    return saved(_("Field %(name)s archived. Its values are kept.", name=field.label()), "fields.index",
                 **_tab(field.entity))


@bp.post("/<id:field_id>/restore")
@require("settings", "edit")
def restore(field_id: int):
    field = definitions.get_field(field_id)
    definitions.restore(field)
    return saved(_("Field %(name)s restored.", name=field.label()), "fields.index", **_tab(field.entity))


@bp.post("/<id:field_id>/move")
@require("settings", "edit")
def move(field_id: int):
    field = definitions.get_field(field_id)
    definitions.move(field, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return see_other(url_for("fields.index", **_tab(field.entity)))


@bp.post("/builtin")
@require("settings", "edit")
def builtin():
    """Make built-in customer fields required or hidden for this workspace."""
    definitions.save_builtin_rules(request.form)
    return saved(_("Built-in fields saved."), "fields.index")
