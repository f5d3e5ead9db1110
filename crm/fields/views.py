"""Settings > Fields: custom fields for customers, and which built-in fields are required or hidden."""
from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.errors import Invalid
from crm.extensions import db
from crm.fields import service
from crm.fields.models import TYPES
from crm.members.access import require
from crm.web import saved, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("fields", __name__, "/settings/fields")

TYPE_LABELS = {"text": _l("Text"), "long_text": _l("Long text"), "number": _l("Number"), "money": _l("Money"),
               "date": _l("Date"), "datetime": _l("Date and time"), "select": _l("Single select"),
               "multiselect": _l("Multi select"), "checkbox": _l("Checkbox"), "email": _l("Email"),
               "phone": _l("Phone"), "url": _l("Web address")}


@bp.app_context_processor
def labels():
    return {"field_type_labels": TYPE_LABELS}


@bp.get("/")
@require("settings", "view")
def index():
    """Custom fields in their order, archived ones, and the built-in fields' rules."""
    return render_template("fields/index.html", fields=service.fields(),
                           archived=[f for f in service.fields(include_archived=True) if f.archived_at],
                           builtin=service.BUILTIN_CONFIGURABLE, rules=service.builtin_rules())


@bp.get("/new")
@require("settings", "edit")
def new():
    return render_template("fields/edit.html", field=None, types=TYPES, errors={}, form=request.form)


@bp.post("/")
@require("settings", "edit")
def create():
    """Add a custom field to customers."""
    try:
        field = service.save_field(None, request.form)
    except Invalid as error:
        db.session.rollback()
        return render_template("fields/edit.html", field=None, types=TYPES, errors=error.errors,
                               form=request.form), 422
    return saved(_("Field %(name)s added.", name=field.label_en), "fields.index")


@bp.get("/<id:field_id>")
@require("settings", "view")
def edit(field_id: int):
    return render_template("fields/edit.html", field=service.get_field(field_id), types=TYPES, errors={},
                           form={})


@bp.post("/<id:field_id>")
@require("settings", "edit")
def update(field_id: int):
    """Save a field; a type change is refused with a report when stored values would not fit."""
    field = service.get_field(field_id)
    try:
        service.save_field(field, request.form)
    except Invalid as error:
        db.session.rollback()
        return render_template("fields/edit.html", field=service.get_field(field_id), types=TYPES,
                               errors=error.errors, form=request.form), 422
    return saved(_("Field %(name)s saved.", name=field.label_en), "fields.index")


@bp.post("/<id:field_id>/archive")
@require("settings", "edit")
def archive(field_id: int):
    """Archive (the values stay, and come back on restore)."""
    field = service.get_field(field_id)
    service.archive(field)
    return saved(_("Field %(name)s archived. Its values are kept.", name=field.label_en), "fields.index")


@bp.post("/<id:field_id>/restore")
@require("settings", "edit")
def restore(field_id: int):
    field = service.get_field(field_id)
    service.restore(field)
    return saved(_("Field %(name)s restored.", name=field.label_en), "fields.index")


@bp.post("/<id:field_id>/move")
@require("settings", "edit")
def move(field_id: int):
    service.move(service.get_field(field_id), -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return see_other(url_for("fields.index"))


@bp.post("/builtin")
@require("settings", "edit")
def builtin():
    """Make built-in customer fields required or hidden for this workspace."""
    service.save_builtin_rules(request.form)
    return saved(_("Built-in fields saved."), "fields.index")
