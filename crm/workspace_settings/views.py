"""Settings > Workspace: the company's name, logo, language, country, currency, time zone and week start; and
the logo itself, which the top bar shows."""
from flask import Response, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.members.access import require
from crm.security.headers import kept_by_browser
from crm.web import check_form, on_invalid, render, saved, see_other
from crm.workspace_settings import places, service
from crm.workspace_settings.forms import FIELD_LABELS, WorkspaceForm
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("workspace_settings", __name__, "/settings/workspace")
registry.plug(
    bp, registry.SettingsTab("workspace_settings.index", _l("Workspace"), order=5, permission=("settings", "view"),
                             current=("workspace_settings.index", "workspace_settings.save")),
    registry.AuditEntity("workspace", _l("Workspace"), fields=FIELD_LABELS, values={
        "language": places.LANGUAGE_LABELS, "week_start": places.WEEK_START_LABELS,
        "phone_region": places.region_name, "currency": places.currency_name,
        "logo": lambda version: _("Image %(version)s", version=version)}))


def _page(form: WorkspaceForm):
    return render("workspace_settings/index.html", form=form.set_choices(), logo=logo_url(),
                  can_edit=g.member.can("settings", "edit"))


@bp.get("/")
@require("settings", "view")
def index():
    """The workspace's settings; only those who may edit settings can change them."""
    return _page(WorkspaceForm(formdata=None, data=service.current()))


@bp.post("/")
@require("settings", "edit")
def save():
    """Save the workspace's settings, all of them or none."""
    form = WorkspaceForm()
    on_invalid(lambda error: _page(error.apply_to(form)))
    check_form(form)
    service.update_workspace(form.data_for_service(), form.upload(), remove_logo=form.remove_logo.data)
    return saved(_("Workspace settings saved."), "workspace_settings.index")


@bp.get("/logo")
@kept_by_browser
def logo():
    """The logo, kept by the browser for good at its versioned URL; another version goes to the current one."""
    found = service.logo_png()
    if found is None or request.args.get("v") != found[0]:
        response = see_other(url_for("workspace_settings.logo", v=found[0]) if found
                             else url_for("static", filename="favicon.svg"))
        response.headers["Cache-Control"] = "no-store"
        return response
    response = Response(found[1], mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@bp.app_template_global()
def logo_url() -> str | None:
    """Where the bound workspace's logo is, for the top bar; None when it has none."""
    version = service.logo_version() if g.get("member") else None
    return url_for("workspace_settings.logo", v=version) if version else None
