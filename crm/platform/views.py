"""/platform: the operator console. Operator accounts only (anyone else gets 404), and only with two-step sign-in
on: tenants with plan, state and usage counts; suspend, restore, extend a trial, change the plan."""
from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_login import current_user

from crm.billing import service as billing
from crm.platform import service
from crm.web import on_invalid_go_to, render, saved

bp = Blueprint("platform", __name__, url_prefix="/platform")


@bp.before_request
def operators_only():
    """Not found for anyone but an operator; an operator without a second factor is told to set it up."""
    if not current_user.is_authenticated or not current_user.is_operator:
        abort(404)
    if current_user.second_factor is None:
        return render("platform/needs_two_factor.html"), 403
    return None


@bp.get("/")
def index():
    """Every tenant with its plan, state and usage counts; searched by name or slug, sorted by any column."""
    search, sort = request.args.get("q", ""), request.args.get("sort", "created")
    descending = request.args.get("dir", "desc") != "asc"
    return render("platform/index.html", rows=service.tenants(search, sort, descending), q=search, sort=sort,
                  descending=descending, billing_on=billing.billing_on(), megabytes=billing.megabytes)


@bp.get("/tenants/<id:tenant_id>")
def show(tenant_id: int):
    """One tenant: its plan, state, usage counts, the operator's actions on it, its Stripe billing events and the
    forms to take more."""
    tenant = service.get_tenant(tenant_id)
    return render("platform/show.html", tenant=tenant, standing=billing.standing(tenant.id),
                  usage=service.usage_of(tenant.id), plans=billing.plans(), actions=service.actions(tenant.id),
                  billing_events=service.billing_events(tenant.id),
                  megabytes=billing.megabytes)


@bp.post("/tenants/<id:tenant_id>/suspend")
def suspend(tenant_id: int):
    """Stop the tenant's members from using it; nothing is deleted."""
    service.suspend(current_user, service.get_tenant(tenant_id), request.remote_addr)
    return saved(_("Workspace suspended."), "platform.show", tenant_id=tenant_id)


@bp.post("/tenants/<id:tenant_id>/restore")
def restore(tenant_id: int):
    service.restore(current_user, service.get_tenant(tenant_id), request.remote_addr)
    return saved(_("Workspace restored."), "platform.show", tenant_id=tenant_id)


@bp.post("/tenants/<id:tenant_id>/trial")
def extend_trial(tenant_id: int):
    """A trial some days longer."""
    on_invalid_go_to("platform.show", tenant_id=tenant_id)
    service.extend_trial(current_user, service.get_tenant(tenant_id), request.form.get("days"), request.remote_addr)
    return saved(_("Trial extended."), "platform.show", tenant_id=tenant_id)


@bp.post("/tenants/<id:tenant_id>/plan")
def change_plan(tenant_id: int):
    """Put the tenant on a plan by hand (active at once)."""
    on_invalid_go_to("platform.show", tenant_id=tenant_id)
    service.change_plan(current_user, service.get_tenant(tenant_id), request.form.get("plan"), request.remote_addr)
    return saved(_("Plan changed."), "platform.show", tenant_id=tenant_id)
