"""Settings > Integration tokens: an admin's tokens for integrations (an ERP, a finance tool), each acting as a
member of its own with the role the admin picks: no sign-in, no seat, named in the audit log (crm/api/tokens.py)."""
from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.api import tokens
from crm.extensions import db, utcnow
from crm.members import service as members
from crm.members.access import require
from crm.web import on_invalid, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("integrations", __name__, "/settings/integrations/tokens")
registry.plug(
    bp, registry.SettingsTab("integrations.index", _l("Integration tokens"), order=86,
                             permission=("members", "view"), current=("integrations.*",)),
    registry.AuditEntity("integration", _l("Integration"), fields={"role": _l("Role")}))


def _page(new=None, errors: dict | None = None):
    return render("api/integrations.html", tokens=tokens.integrations(), roles=members.roles(), new=new,
                  errors=errors or {}, typed=request.form if errors else None, lifetimes=tokens.LIFETIMES,
                  now=utcnow())


@bp.get("/")
@require("members", "view")
def index():
    """The integrations' tokens: name, role, expiry, last use; a form for a new one."""
    return _page()


@bp.post("/")
@require("members", "create")
def create():
    """Make an integration with the chosen role and show its token this once."""
    on_invalid(lambda error: _page(errors=error.errors))
    new = tokens.create_integration(g.tenant.id, request.form.get("name"), request.form.get("role_id"),
                                    request.form.get("lifetime"))
    db.session.commit()
    return _page(new=new)


@bp.post("/<id:integration_id>/revoke")
@require("members", "edit")
def revoke(integration_id: int):
    """End an integration (named by its token's id) at once: the next call with its token gets 401."""
    token = tokens.revoke_integration(integration_id)
    return saved(_("Integration %(name)s revoked.", name=token.name), "integrations.index")
