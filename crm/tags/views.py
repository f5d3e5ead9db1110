"""The tags page: create, rename, recolour and delete tags."""
from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.members.access import require
from crm.tags import service
from crm.web import on_invalid, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("tags", __name__, "/tags")
registry.plug(bp, registry.MenuEntry("tags.index", _l("Tags"), order=100, current=("tags.*",), more=True),
              registry.AuditEntity("tag", _l("Tag"), fields={"name": _l("Name"), "color": _l("Colour")}))


def _page(error=None):
    return render("tags/index.html", rows=service.tags_with_counts(g.member), colors=service.COLORS,
                  color_labels=service.color_labels(), error=error)


@bp.get("/")
@require("customers", "view")
def index():
    """Every tag with how many customers carry it."""
    return _page()


@bp.post("/")
@require("customers", "edit")
def create():
    on_invalid(lambda error: _page(error.errors.get("name")))
    tag = service.create_tag(request.form.get("name", ""), request.form.get("color", "blue"))
    return saved(_("Tag %(name)s created.", name=tag.name), "tags.index")


@bp.post("/<id:tag_id>")
@require("settings", "edit")
def update(tag_id: int):
    """Rename or recolour a tag."""
    tag = service.get_tag(tag_id)
    on_invalid(lambda error: _page(error.errors.get("name")))
    service.update_tag(tag, request.form.get("name", ""), request.form.get("color", tag.color))
    return saved(_("Tag saved."), "tags.index")


@bp.post("/<id:tag_id>/delete")
@require("settings", "edit")
def delete(tag_id: int):
    """Delete a tag; customers keep everything else."""
    tag = service.get_tag(tag_id)
    service.delete_tag(tag)
    return saved(_("Tag %(name)s deleted.", name=tag.name), "tags.index")
