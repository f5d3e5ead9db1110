"""Tenant settings for people: members and invitations, teams, roles; and the public invitation page."""
from flask import Blueprint, flash, g, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm import registry
from crm.accounts import service as accounts
from crm.accounts.views import finish_sign_in
from crm.errors import Invalid
from crm.members import service
from crm.members.access import require
from crm.members.labels import audit_entities, template_labels
from crm.members.permissions import OFFERED, OFFERED_ACTIONS, SCOPES
from crm.validation import record_id
from crm.web import absolute_url, on_invalid, on_invalid_go_to, saved, see_other
from tenants.binding import tenant_bound
from tenants.resolver import tenant_blueprint
from tenants.service import tenant_ref

bp = tenant_blueprint("members", __name__, "/settings")
public = Blueprint("invitations", __name__)
registry.plug(
    bp, registry.SettingsTab("members.index", _l("Members"), order=10, permission=("members", "view"),
                             current=("members.index",)),
    registry.SettingsTab("members.teams", _l("Teams"), order=20, permission=("members", "view"),
                         current=("members.teams",)),
    registry.SettingsTab("members.roles", _l("Roles"), order=30, permission=("settings", "view"),
                         current=("members.roles", "members.role")),
    *audit_entities())


@bp.app_context_processor
def labels():
    return template_labels()


def _accept_url(token: str) -> str:
    return absolute_url("invitations.accept", token=token)


@bp.get("/members")
@require("members", "view")
def index():
    """Members with their role, team and customers; pending invitations; the seat count."""
    return render_template("members/index.html", members=service.members(), invitations=service.invitations(),
                           roles=service.roles(), teams=service.teams(), counts=service.customer_counts(),
                           seats=service.seat_count())


@bp.post("/members/<id:member_id>")
@require("members", "edit")
def update(member_id: int):
    """Change a member's role and team."""
    member = service.get_member(member_id)
    on_invalid_go_to("members.index")
    service.change_member(member, request.form.get("role_id"), request.form.get("team_id"))
    return saved(_("%(name)s updated.", name=member.name), "members.index")


@bp.post("/members/<id:member_id>/active")
@require("members", "edit")
def set_active(member_id: int):
    """Deactivate (access ends at once, records stay) or reactivate a member."""
    member = service.get_member(member_id)
    active = request.form.get("active") == "1"
    on_invalid_go_to("members.index")
    service.set_active(member, active)
    return saved(_("%(name)s reactivated.", name=member.name) if active
                 else _("%(name)s deactivated.", name=member.name), "members.index")


@bp.post("/members/<id:member_id>/reassign")
@require("customers", "edit")
@require("members", "edit")
def reassign(member_id: int):
    """Give all of a member's customers to another member."""
    member = service.get_member(member_id)
    on_invalid_go_to("members.index")
    moved = service.reassign_customers(member, request.form.get("to_member_id"))
    return saved(_("%(n)d customers reassigned.", n=moved), "members.index")


@bp.post("/invitations")
@require("members", "create")
def invite():
    """Invite someone by email."""
    form = request.form
    on_invalid_go_to("members.index")
    invitation = service.invite(g.member, form.get("email", ""), form.get("name", ""), form.get("role_id"),
                                form.get("team_id"), _accept_url)
    return saved(_("Invitation sent to %(email)s.", email=invitation.email), "members.index")


@bp.post("/invitations/<id:invitation_id>/resend")
@require("members", "create")
def resend(invitation_id: int):
    invitation = service.get_invitation(invitation_id)
    on_invalid_go_to("members.index")
    service.resend(invitation, _accept_url)
    return saved(_("Invitation sent again to %(email)s.", email=invitation.email), "members.index")


@bp.post("/invitations/<id:invitation_id>/revoke")
@require("members", "create")
def revoke(invitation_id: int):
    invitation = service.get_invitation(invitation_id)
    service.revoke(invitation)
    return saved(_("Invitation to %(email)s revoked.", email=invitation.email), "members.index")


@bp.get("/teams")
@require("members", "view")
def teams():
    """Teams, their parent team, manager and members."""
    return render_template("members/teams.html", teams=service.teams(), members=service.members(False))


@bp.post("/teams")
@require("members", "edit")
def create_team():
    on_invalid_go_to("members.teams")
    team = service.save_team(None, request.form.get("name"), request.form.get("parent_id"),
                             request.form.get("manager_id"))
    return saved(_("Team %(name)s saved.", name=team.name), "members.teams")


@bp.post("/teams/<id:team_id>")
@require("members", "edit")
def update_team(team_id: int):
    team = service.get_team(team_id)
    on_invalid_go_to("members.teams")
    service.save_team(team, request.form.get("name"), request.form.get("parent_id"),
                      request.form.get("manager_id"))
    return saved(_("Team %(name)s saved.", name=team.name), "members.teams")


@bp.post("/teams/<id:team_id>/delete")
@require("members", "edit")
def delete_team(team_id: int):
    team = service.get_team(team_id)
    on_invalid_go_to("members.teams")
    service.delete_team(team)
    return saved(_("Team %(name)s deleted.", name=team.name), "members.teams")


@bp.get("/roles")
@require("settings", "view")
def roles():
    """Roles with how many members hold each."""
    return render_template("members/roles.html", roles=service.roles(), counts=service.role_member_counts())


@bp.post("/roles")
@require("settings", "edit")
def create_role():
    """A new role, empty or copied from another."""
    source = request.form.get("copy_from", "")
    on_invalid_go_to("members.roles")
    role = service.create_role(request.form.get("name"),
                               service.get_role(record_id(source)) if record_id(source) else None)
    return saved(_("Role %(name)s created.", name=role.name), "members.role", role_id=role.id)


@bp.get("/roles/<id:role_id>")
@require("settings", "view")
def role(role_id: int):
    """One role's permission matrix."""
    return render_template("members/role.html", role=service.get_role(role_id), offered=OFFERED,
                           actions=OFFERED_ACTIONS, scopes=SCOPES)


@bp.post("/roles/<id:role_id>")
@require("settings", "edit")
def save_role(role_id: int):
    role = service.get_role(role_id)
    on_invalid_go_to("members.role", role_id=role_id)
    changed = service.update_permissions(role, request.form)
    return saved(_("%(n)d permissions changed.", n=changed), "members.role", role_id=role_id)


@bp.post("/roles/<id:role_id>/pool-limit")
@require("settings", "edit")
def save_pool_limit(role_id: int):
    """The role's customer limit for pool claims and assignments; a bad value stays in the input with its message."""
    role = service.get_role(role_id)
    on_invalid(lambda error: render_template("members/role.html", role=role, offered=OFFERED, actions=OFFERED_ACTIONS,
                                             scopes=SCOPES, pool_limit_error=error.errors["pool_limit"],
                                             pool_limit_value=request.form.get("pool_limit", "")))
    service.set_pool_limit(role, request.form.get("pool_limit"))
    return saved(_("Customer limit saved."), "members.role", role_id=role_id)


@bp.post("/roles/<id:role_id>/delete")
@require("settings", "edit")
def delete_role(role_id: int):
    role = service.get_role(role_id)
    on_invalid_go_to("members.roles")
    service.delete_role(role)
    return saved(_("Role %(name)s deleted.", name=role.name), "members.roles")


@public.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str):
    """Join a workspace from an emailed invitation: sign in, or choose a name and password."""
    invitation = service.invitation_for_token(token)
    if invitation is None:
        return render_template("members/invitation_invalid.html"), 404
    existing = accounts.find_account(invitation.email)
    signed_in_as_invitee = current_user.is_authenticated and current_user.email == invitation.email
    if request.method == "POST" and (signed_in_as_invitee or existing is None):
        on_invalid(lambda error: _accept_page(invitation, existing, signed_in_as_invitee, error.errors))
        account = current_user if signed_in_as_invitee else _new_account(invitation.email)
        with tenant_bound(tenant_ref(invitation.tenant_id)) as tenant:
            service.accept(invitation, account)
        if not signed_in_as_invitee:
            finish_sign_in(account)
        flash(_("Welcome to %(workspace)s!", workspace=tenant.name))
        return see_other(url_for("workspace.index", slug=tenant.slug))
    return _accept_page(invitation, existing, signed_in_as_invitee)


def _accept_page(invitation, existing, signed_in_as_invitee: bool, errors: dict | None = None):
    return render_template("members/accept.html", invitation=invitation, tenant=tenant_ref(invitation.tenant_id),
                           existing=existing, signed_in_as_invitee=signed_in_as_invitee, errors=errors or {})


def _new_account(email: str):
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    errors = {}
    if not name:
        errors["name"] = _("Name is required.")
    try:
        accounts.check_password_strength(password)
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors)
    return accounts.create_account(email, name, password, str(get_locale()))
