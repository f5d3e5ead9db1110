"""Members, invitations, teams and roles: the rules a tenant admin works with."""
import hashlib
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update

from crm import validation
from crm.accounts.models import Account
from crm.audit.service import diff, record
from crm.billing.service import check_room
from crm.customers.models import Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.members.models import Member, Role, Team
from crm.members.permissions import ACTIONS, OFFERED, RESOURCES, SCOPES, matrix
from crm.validation import record_id
from tenants.binding import current_tenant
from tenants.models import Invitation, Membership
from tenants.roles import acting_as

INVITATION_DAYS = 7


# Members

def members(include_inactive: bool = True) -> list[Member]:
    """The workspace's people (integrations are listed with their tokens, crm/api/integrations.py)."""
    stmt = select(Member).where(Member.kind == "person").order_by(Member.active.desc(), Member.name)
    if not include_inactive:
        stmt = stmt.where(Member.active)
    return list(db.session.scalars(stmt).unique())


def add_first_admin(schema: str, account: Account) -> None:
    """A new workspace's first member, with the Admin role, in the same transaction that built its schema."""
    with acting_as(schema) as in_schema:  # the new tenant is not bound yet
        db.session.execute(
            insert(Member).from_select(
                ["account_id", "role_id", "name", "email", "active"],
                select(db.literal(account.id), Role.id, db.literal(account.name), db.literal(account.email),
                       db.literal(True)).where(Role.key == "admin"),
            ),
            execution_options=in_schema,
        )


def member_name(member_id) -> str:
    """A member's name for the audit log (removed members keep theirs); `#id` when there is none."""
    member = db.session.get(Member, record_id(member_id) or 0)
    return member.name if member else f"#{member_id}"


def get_member(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound()
    return member


def customer_counts() -> dict[int, int]:
    """How many live customers each member owns."""
    stmt = (select(Customer.owner_id, func.count(Customer.id)).where(Customer.deleted_at.is_(None))
            .group_by(Customer.owner_id))
    return dict(db.session.execute(stmt).all())


def _active_admins() -> int:
    # An integration with the Admin role is no admin anyone can sign in as: it does not keep the workspace run.
    return db.session.scalar(select(func.count(Member.id)).join(Role).where(Member.active, Member.kind == "person",
                                                                            Role.key == "admin"))


def _keep_an_admin(member: Member, new_role: Role | None = None, deactivating: bool = False) -> None:
    losing = member.active and member.role.key == "admin" and (deactivating or (new_role and new_role.key != "admin"))
    if losing and _active_admins() <= 1:
        raise Invalid({"role_id": _("The workspace needs at least one active admin.")})


def change_member(member: Member, role_id, team_id) -> Member:
    """Give a member another role and/or team."""
    role = db.session.get(Role, record_id(role_id)) if record_id(role_id) else None
    if role is None:
        raise Invalid({"role_id": _("Choose a role.")})
    team = _team_or_none(team_id)
    _keep_an_admin(member, new_role=role)
    before = {"role": member.role.name, "team": _team_name(member.team_id)}
    member.role, member.team_id = role, team.id if team else None
    after = {"role": role.name, "team": team.name if team else None}
    record("permission", "member", member.id, summary=member.name, changes=diff(before, after))
    db.session.flush()
    return member


def set_active(member: Member, active: bool) -> None:
    """Deactivate (access ends at the next request; records stay) or reactivate a member."""
    if not active:
        _keep_an_admin(member, deactivating=True)
    elif not member.active:
        check_room("seats", seats_taken)
    member.active = active
    record("reactivate" if active else "deactivate", "member", member.id, summary=member.name)


def reassign_customers(from_member: Member, to_member_id) -> int:
    """Give every customer of one member to another active member (or to nobody, the shared pool)."""
    target = None
    if to_member_id:
        target = db.session.scalar(select(Member).where(Member.id == record_id(to_member_id), Member.active)) \
            if record_id(to_member_id) else None
        if target is None:
            raise Invalid({"to_member_id": _("Choose an active member.")})
    result = db.session.execute(update(Customer).where(Customer.owner_id == from_member.id)
                                .values(owner_id=target.id if target else None, updated_at=utcnow(),
                                        owned_since=utcnow() if target else None,
                                        pooled_at=None if target else utcnow(), pool_reason=None,
                                        recycle_warned_at=None))
    record("update", "member", from_member.id, summary=_("Customers of %(from)s given to %(to)s",
                                                         **{"from": from_member.name,
                                                            "to": target.name if target else _("no owner")}),
           changes={"customers": [result.rowcount, 0]})
    return result.rowcount


def seats_taken() -> int:
    """What a plan's seats count: active members and open invitations (each holds its seat)."""
    seats = seat_count()
    return seats["active"] + seats["pending"]


def seat_count() -> dict:
    pending = db.session.scalar(select(func.count(Invitation.id)).where(
        Invitation.tenant_id == current_tenant().id, Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow()))
    active = db.session.scalar(select(func.count(Member.id)).where(Member.active, Member.kind == "person"))
    return {"active": active, "pending": pending}  # integrations hold no seat


# Invitations

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitations() -> list[Invitation]:
    stmt = (select(Invitation).where(Invitation.tenant_id == current_tenant().id, Invitation.accepted_at.is_(None),
                                     Invitation.revoked_at.is_(None)).order_by(Invitation.created_at.desc()))
    return list(db.session.scalars(stmt))


def get_invitation(invitation_id: int) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(Invitation.id == invitation_id,
                                                            Invitation.tenant_id == current_tenant().id))
    if invitation is None:
        raise NotFound()
    return invitation


def invite(inviter: Member, email: str, name: str, role_id, team_id, accept_url) -> Invitation:
    """Invite someone by email; the link in the email works once, for a week."""
    email = validation.normalise_email(email, required=True)
    role = db.session.get(Role, record_id(role_id)) if record_id(role_id) else None
    if role is None:
        raise Invalid({"role_id": _("Choose a role.")})
    team = _team_or_none(team_id)
    if db.session.scalar(select(Member.id).where(func.lower(Member.email) == email, Member.active)):
        raise Invalid({"email": _("This person is already a member.")})
    for pending in invitations():
        if pending.email == email:
            raise Invalid({"email": _("This person is already invited. Resend the invitation instead.")})
    check_room("seats", seats_taken)
    invitation = Invitation(tenant_id=current_tenant().id, email=email, name=validation.clipped(name, 120),
                            role_id=role.id, team_id=team.id if team else None, token_hash="",
                            invited_by=inviter.name, expires_at=utcnow() + timedelta(days=INVITATION_DAYS))
    db.session.add(invitation)
    _send(invitation, accept_url)
    record("invite", "invitation", invitation.id, summary=email, changes={"role": [None, role.name]})
    return invitation


def _send(invitation: Invitation, accept_url) -> None:
    """A fresh token (the previous link stops working) and the email carrying it, through the outbox."""
    from flask_babel import get_locale

    from crm.notify import outbox

    token = secrets.token_urlsafe(32)
    invitation.token_hash = _token_hash(token)
    invitation.sent_at = utcnow()
    invitation.expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    db.session.flush()
    source = f"invitation:{invitation.id}"
    outbox.cancel(source)  # a resend replaces the unsent one
    outbox.schedule(channel="email", kind="invitation", recipient=invitation.email, source=source,
                    key=f"{source}:{invitation.token_hash[:16]}", language=get_locale().language,
                    payload={"inviter": invitation.invited_by, "workspace": current_tenant().name,
                             "days": INVITATION_DAYS, "link": accept_url(token)})


def resend(invitation: Invitation, accept_url) -> None:
    if invitation.status not in ("pending", "expired"):
        raise Invalid({"invitation": _("This invitation can no longer be sent.")})
    _send(invitation, accept_url)
    record("invite", "invitation", invitation.id, summary=_("Resent to %(email)s", email=invitation.email))


def revoke(invitation: Invitation) -> None:
    """The link stops working, and an invitation email not yet sent is not sent."""
    from crm.notify import outbox

    invitation.revoked_at = utcnow()
    outbox.cancel(f"invitation:{invitation.id}")
    record("delete", "invitation", invitation.id, summary=invitation.email)


def invitation_for_token(token: str) -> Invitation | None:
    """The pending invitation this emailed token belongs to (any tenant), or None."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))
    return invitation if invitation is not None and invitation.status == "pending" else None


def accept(invitation: Invitation, account: Account) -> Member:
    """Join the invited tenant (bound by the caller) as `account`; returns the new (or revived) member."""
    member = db.session.scalar(select(Member).where(Member.account_id == account.id))
    if member is None:
        member = Member(account_id=account.id, role_id=invitation.role_id, team_id=invitation.team_id,
                        name=account.name, email=account.email)
        db.session.add(member)
    else:
        member.active, member.role_id, member.team_id = True, invitation.role_id, invitation.team_id
    if not db.session.scalar(select(Membership.id).where(Membership.account_id == account.id,
                                                         Membership.tenant_id == invitation.tenant_id)):
        db.session.add(Membership(account_id=account.id, tenant_id=invitation.tenant_id))
    invitation.accepted_at = utcnow()
    db.session.flush()
    record("create", "member", member.id, summary=_("%(name)s joined", name=member.name), actor=member)
    return member


# Teams

def teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(Team.name)))


def get_team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound()
    return team


def _team_or_none(team_id) -> Team | None:
    if not team_id:
        return None
    team = db.session.get(Team, record_id(team_id)) if record_id(team_id) else None
    if team is None:
        raise Invalid({"team_id": _("Choose a team.")})
    return team


def _team_name(team_id) -> str | None:
    team = db.session.get(Team, team_id) if team_id else None
    return team.name if team else None


def save_team(team: Team | None, name: str, parent_id, manager_id) -> Team:
    """Create or change a team; a team cannot sit below itself."""
    name = validation.text(name, "name", 80, required=_("Enter a name of 1 to 80 characters."))
    clash = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team is not None:
        clash = clash.where(Team.id != team.id)
    if db.session.scalar(clash):
        raise Invalid({"name": _("A team with this name exists.")})
    parent = _team_or_none(parent_id)
    if team is not None and parent is not None and team.id in _ancestors_and_self(parent):
        raise Invalid({"parent_id": _("A team cannot sit below itself or its own sub-team.")})
    manager = None
    if manager_id:
        manager = db.session.scalar(select(Member).where(Member.id == record_id(manager_id), Member.active)) \
            if record_id(manager_id) else None
        if manager is None:
            raise Invalid({"manager_id": _("Choose an active member.")})
    created = team is None
    team = team or Team()
    team.name, team.parent_id, team.manager_id = name, parent.id if parent else None, manager.id if manager else None
    db.session.add(team)
    db.session.flush()
    record("create" if created else "update", "team", team.id, summary=name)
    return team


def _ancestors_and_self(team: Team) -> set[int]:
    seen = set()
    while team is not None and team.id not in seen:
        seen.add(team.id)
        team = db.session.get(Team, team.parent_id) if team.parent_id else None
    return seen


def delete_team(team: Team) -> None:
    if db.session.scalar(select(func.count(Member.id)).where(Member.team_id == team.id)):
        raise Invalid({"team": _("Move this team's members to another team first.")})
    if db.session.scalar(select(func.count(Team.id)).where(Team.parent_id == team.id)):
        raise Invalid({"team": _("Move or delete this team's sub-teams first.")})
    record("delete", "team", team.id, summary=team.name)
    db.session.delete(team)


# Roles

def roles() -> list[Role]:
    return list(db.session.scalars(select(Role).order_by(Role.id)))


def role_member_counts() -> dict[int, int]:
    return dict(db.session.execute(select(Member.role_id, func.count(Member.id)).where(Member.active)
                                   .group_by(Member.role_id)).all())


def get_role(role_id: int) -> Role:
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound()
    return role


def create_role(name: str, copy_from: Role | None = None) -> Role:
    name = validation.text(name, "name", 80, required=_("Enter a name of 1 to 80 characters."))
    if db.session.scalar(select(Role.id).where(func.lower(Role.name) == name.lower())):
        raise Invalid({"name": _("A role with this name exists.")})
    permissions = dict(copy_from.permissions) if copy_from else matrix("none")
    role = Role(key=f"custom-{secrets.token_hex(6)}", name=name, permissions=permissions)
    db.session.add(role)
    db.session.flush()
    record("create", "role", role.id, summary=name)
    return role


def update_permissions(role: Role, form) -> int:
    """Save the matrix from a form of `resource.action = scope` fields; returns how many cells changed."""
    if role.key == "admin":
        raise Invalid({"role": _("The Admin role always has every permission.")})
    new = {r: {a: role.scope(r, a) for a in ACTIONS} for r in RESOURCES}
    for resource, actions in OFFERED.items():
        new[resource].update({a: form.get(f"{resource}.{a}", role.scope(resource, a)) for a in actions})
    if any(scope not in SCOPES for actions in new.values() for scope in actions.values()):
        raise Invalid({"role": _("Choose one of the listed values.")})
    changes = {f"{r}.{a}": [role.scope(r, a), new[r][a]] for r, actions in OFFERED.items() for a in actions
               if role.scope(r, a) != new[r][a]}
    role.permissions = new
    if changes:
        record("permission", "role", role.id, summary=role.name, changes=changes)
    return len(changes)


def set_pool_limit(role: Role, raw) -> None:
    """The most customers a member of this role may own through the pool (claims, assignments); empty: no limit."""
    limit = validation.or_none(validation.whole_number, raw, "pool_limit", 1, 100000, required=False)
    if limit is None and str(raw or "").strip():
        raise Invalid({"pool_limit": _("Enter a whole number from 1 to 100000, or leave it empty for no limit.")})
    if limit != role.pool_limit:
        record("update", "role", role.id, summary=role.name, changes={"pool_limit": [role.pool_limit, limit]})
    role.pool_limit = limit


def delete_role(role: Role) -> None:
    if role.key == "admin":
        raise Invalid({"role": _("The Admin role cannot be deleted.")})
    if db.session.scalar(select(func.count(Member.id)).where(Member.role_id == role.id)):
        raise Invalid({"role": _("Give this role's members another role first.")})
    record("delete", "role", role.id, summary=role.name)
    db.session.delete(role)

