"""Saved views: the tabs above the lists that plug a `registry.SavedList`, saving, opening, changing a view, and
each member's default view, which a list asked for without arguments opens with."""
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import flash, g, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from crm import registry
from crm.extensions import db
from crm.saved_views import service
from crm.saved_views.forms import SavedViewForm
from crm.validation import record_id
from crm.web import came_from, check_form, is_htmx, on_invalid, render, saved, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("saved_views", __name__, "/views")


@bp.app_context_processor
def tabs():
    return {"saved_view_tabs": saved_view_tabs}


def saved_view_tabs(list_name: str) -> dict:
    """What the tabs above a list show: the member's views of it, the default, the one opened (`?saved=`). Asked
    twice a page (the tabs, and their fold on a phone): read once."""
    known = g.setdefault("saved_view_tabs", {})
    if list_name not in known:
        known[list_name] = _tabs_of(list_name)
    return known[list_name]


def _tabs_of(list_name: str) -> dict:
    views = service.views_of(g.member, list_name)
    default = service.default_of(g.member, list_name)
    return {"list": service.saved_list(list_name), "views": views, "default_id": default.id if default else None,
            "active_id": record_id(request.args.get("saved"))}


@bp.before_app_request
def open_default_view():
    """A list asked for without arguments (the menu, a bookmark) opens with the member's default view; not when
    the request comes from the list itself (its "All" tab, "Clear filters"), nor for htmx's partial swaps."""
    listed = next((lst for lst in registry.saved_lists().values() if lst.endpoint == request.endpoint), None)
    member = g.get("member")
    if (listed is None or member is None or request.method != "GET" or request.args
            or not member.can(listed.name, "view") or (is_htmx() and not request.headers.get("HX-Boosted"))
            or urlsplit(came_from() or "").path == request.path):
        return None
    view = service.default_of(member, listed.name)
    return see_other(url_for("saved_views.open", view_id=view.id)) if view else None


@bp.get("/<id:view_id>", endpoint="open")
def open_view(view_id: int):
    """The list with the view's filters, sort and columns; a filter on a tag or field deleted since is left out,
    and a notice says so."""
    view = service.get_view(g.member, view_id)
    query, removed = service.opened(view)
    for name in removed:
        flash(_("“%(name)s” no longer exists: this view opens without its filter.", name=name), "error")
    return see_other(url_for(service.saved_list(view.list).endpoint, **query, saved=view.id))


@bp.get("/new")
def new():
    """The form that saves the list's current filters (htmx sends the list's filter form with the request)."""
    listed = service.saved_list(request.args.get("list"))
    form = SavedViewForm(list=listed.name, query=urlencode(service.read_query(listed, request.args), doseq=True))
    return _form_page(form, None)


@bp.post("/")
def create():
    form = SavedViewForm()
    on_invalid(lambda error: _form_page(error.apply_to(form), None))
    check_form(form)
    view = service.create_view(g.member, form.list.data, form.data_for_service(),
                               MultiDict(parse_qsl(form.query.data or "")))
    db.session.commit()
    flash(_("View %(name)s saved.", name=view.name))
    return see_other(url_for("saved_views.open", view_id=view.id))


@bp.get("/<id:view_id>/edit")
def edit(view_id: int):
    view = service.get_view(g.member, view_id)
    form = SavedViewForm(name=view.name, shared=view.shared, default=view == service.default_of(g.member, view.list))
    return _form_page(form, view)


@bp.post("/<id:view_id>")
def update(view_id: int):
    """Rename or (un)share the view (its owner, or for a shared one whoever may share) and choose it as default."""
    view = service.get_view(g.member, view_id)
    form = SavedViewForm()
    on_invalid(lambda error: _form_page(error.apply_to(form), view))
    check_form(form)
    if service.may_change(g.member, view):
        service.update_view(g.member, view, form.data_for_service())
    else:
        service.set_default(g.member, view, form.default.data)
    return saved(_("View %(name)s saved.", name=view.name), "saved_views.open", view_id=view.id)


@bp.post("/<id:view_id>/delete")
def delete(view_id: int):
    view = service.get_view(g.member, view_id)
    service.delete_view(g.member, view)
    return saved(_("View %(name)s deleted.", name=view.name), service.saved_list(view.list).endpoint)


def _form_page(form: SavedViewForm, view):
    list_name = view.list if view else form.list.data
    return render("saved_views/form.html", block="form", form=form, view=view,
                  may_share=service.may_share(g.member, list_name),
                  may_change=view is None or service.may_change(g.member, view))
