"""Who may do what: a decorator for "may do this at all", a scope for "which rows"."""
import functools

from flask import abort, g
from sqlalchemy import false, or_, select
from sqlalchemy.orm import lazyload

from crm.extensions import db
from crm.members.models import Member, Team
from tenants.resolver import member_finder


@member_finder
def active_member(account_id: int) -> Member | None:
    """The account's active member row in the bound tenant: who the resolver lets in."""
    return db.session.scalar(select(Member).where(Member.account_id == account_id, Member.active))


def require(resource: str, action: str):
    """Refuse (403) a view the signed-in member's role may not use at all."""

    def decorator(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if not g.member.can(resource, action):
                abort(403)
            return view(*args, **kwargs)

        # What the view needs, readable by the permission tests that walk the URL map.
        checked.permissions = [*getattr(view, "permissions", []), (resource, action)]
        return checked

    return decorator


def reached_teams(viewer: Member, with_subteams: bool):
    """Ids of the teams the viewer belongs to or manages, and (with_subteams) every team below them."""
    start = select(Team.id).where(or_(Team.id == viewer.team_id, Team.manager_id == viewer.id))
    if not with_subteams:
        return start
    reach = start.cte("reach", recursive=True)
    reach = reach.union(select(Team.id).join(reach, Team.parent_id == reach.c.id))
    return select(reach.c.id)


def reached_members(viewer: Member, with_subteams: bool):
    """Ids of the members whose records a team-scoped viewer reaches (the viewer always included)."""
    return select(Member.id).where(or_(Member.id == viewer.id,
                                       Member.team_id.in_(reached_teams(viewer, with_subteams))))


def scoped(stmt, viewer: Member, resource: str, action: str, model):
    """Restrict `stmt` to the rows of `model` the viewer's role reaches for this action."""
    scope = viewer.role.scope(resource, action)
    if scope == "all":
        return stmt
    if scope == "own":
        return stmt.where(model.owner_id == viewer.id)
    if scope in ("team", "subteams"):
        return stmt.where(model.owner_id.in_(reached_members(viewer, scope == "subteams")))
    return stmt.where(false())


def members_in_reach(viewer: Member, resource: str, action: str) -> list[Member]:
    """Active members who may own (or be assigned) a `resource` record the viewer creates or edits, and whom
    its owner filter lists: itself under "own", its team's under team scopes, anyone under "all"."""
    scope = viewer.role.scope(resource, action)
    # Integrations own what they create, but are nobody's choice of owner on the pages.
    stmt = (select(Member).where(Member.active, or_(Member.kind == "person", Member.id == viewer.id))
            .order_by(Member.name))
    if scope == "own":
        stmt = stmt.where(Member.id == viewer.id)
    elif scope in ("team", "subteams"):
        stmt = stmt.where(Member.id.in_(reached_members(viewer, scope == "subteams")))
    elif scope != "all":
        return []
    return list(db.session.scalars(stmt.options(lazyload(Member.role))))


def in_reach(viewer: Member, resource: str, action: str, owner_id: int | None) -> bool:
    """Whether the viewer may give a `resource` record to this member (see members_in_reach)."""
    return owner_id is not None and owner_id in {m.id for m in members_in_reach(viewer, resource, action)}
