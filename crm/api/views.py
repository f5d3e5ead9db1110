"""Pages of the API: the member's API tokens (from the profile page), and the API reference at /api/v1/docs (the
vendored Swagger UI reading /api/v1/openapi.json)."""
from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.api import tokens
from crm.api.core import PREFIX
from crm.extensions import db, utcnow
from crm.web import on_invalid, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("api_tokens", __name__, "/profile/tokens")
registry.plug(bp, registry.AuditEntity("api_token", _l("API token"), fields={"name": _l("Name")}))
docs = Blueprint("api_docs", __name__, url_prefix=PREFIX)


def _page(new=None, errors: dict | None = None):
    return render("api/tokens.html", tokens=tokens.tokens_of(g.member), new=new, errors=errors or {},
                  typed=request.form if errors else None, lifetimes=tokens.LIFETIMES, now=utcnow())


@bp.get("/")
def index():
    """The member's API tokens: name, expiry, last use; a form for a new one."""
    return _page()


@bp.post("/")
def create():
    """Make a token and show its secret this once (it is stored only as a hash)."""
    on_invalid(lambda error: _page(errors=error.errors))
    new = tokens.create_token(g.member, g.tenant.id, request.form.get("name"), request.form.get("lifetime"))
    db.session.commit()
    return _page(new=new)


@bp.post("/<id:token_id>/revoke")
def revoke(token_id: int):
    """End a token at once: the next call with it gets 401."""
    token = tokens.revoke(g.member, token_id)
    return saved(_("Token %(name)s revoked.", name=token.name), "api_tokens.index")


@docs.get("/docs")
def reference():
    """The API reference, read from the OpenAPI document (no sign-in: it shows no data)."""
    return render_template("api/docs.html")
