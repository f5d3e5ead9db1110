"""Who may do what: a decorator for "may do this at all", a scope for "which rows"."""
import functools

from flask import abort, g
from sqlalchemy import false

from crm.members.models import Member


def require(resource: str, action: str):
    """Refuse (403) a view the signed-in member's role may not use at all."""

    def decorator(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if not g.member.can(resource, action):
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorator


def scoped(stmt, viewer: Member, resource: str, action: str, model):
    """Restrict `stmt` to the rows of `model` the viewer's role reaches for this action."""
    scope = viewer.role.scope(resource, action)
    if scope == "all":
        return stmt
    if scope in ("own", "team"):  # teams arrive with tenant administration; until then a team is its member
        return stmt.where(model.owner_id == viewer.id)
    return stmt.where(false())
