"""Saved views: who sees, shares and changes them, what they store, and what opening one asks the list for.

A view stores its list's own query-string arguments (`registry.SavedList.read`), so opening it is opening the list
with them; nothing about a list's filters is known here but the two things a filter may name that can be deleted:
tags (`tag`) and custom fields (`cf_<key>`, `cf_<key>_min`, `cf_<key>_max`).

Who may share: admins (the role may edit settings) and managers, read from the permission model as a member whose
role sees the list's records of a team (scope team or sub-teams, the default Sales manager) or who manages a team.
A member sees their own views and the shared ones; a private view of another member is not found (404).
"""
from sqlalchemy import String, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from flask_babel import gettext as _

from crm import registry, validation
from crm.customers.models import Tag
from crm.errors import Forbidden, Invalid, NotFound
from crm.extensions import db
from crm.fields import definitions
from crm.members.models import Member, Team
from crm.saved_views.models import SavedView
from crm.validation import record_id

NAME_LIMIT = 60
MAX_ARGUMENTS = 60  # a list's own arguments are a few dozen at most; the rest of a hostile query is dropped
MAX_VALUES = 20
MANAGER_SCOPES = ("team", "subteams")


def saved_list(name) -> registry.SavedList:
    """The list called `name` that takes saved views."""
    found = registry.saved_lists().get(name)
    if found is None:
        raise Invalid({"list": _("This list has no saved views.")})
    return found


def may_share(member: Member, list_name: str) -> bool:
    """Admins and managers (see the module's docstring) may share a view of this list with the workspace."""
    if member.can("settings", "edit") or member.role.scope(list_name, "view") in MANAGER_SCOPES:
        return True
    return bool(db.session.scalar(select(exists().where(Team.manager_id == member.id))))


def may_change(member: Member, view: SavedView) -> bool:
    """A member renames, shares and deletes their own views, and shared ones when they may share."""
    return view.owner_id == member.id or (view.shared and may_share(member, view.list))


def _seen_by(member: Member):
    return select(SavedView).where(or_(SavedView.owner_id == member.id, SavedView.shared))


def views_of(member: Member, list_name: str) -> list[SavedView]:
    """The views of a list the member sees: their own and the shared ones, by name."""
    stmt = _seen_by(member).where(SavedView.list == list_name)
    return list(db.session.scalars(stmt.order_by(func.lower(SavedView.name), SavedView.id)))


def get_view(member: Member, view_id: int) -> SavedView:
    """A view the member sees, of a list their role may view; anything else is not found."""
    view = db.session.scalar(_seen_by(member).where(SavedView.id == view_id))
    if view is None or view.list not in registry.saved_lists() or not member.can(view.list, "view"):
        raise NotFound()
    return view


def default_of(member: Member, list_name: str) -> SavedView | None:
    """The member's default view of the list, while they still see it (a shared one may have been made private)."""
    view_id = record_id((member.default_views or {}).get(list_name))
    if view_id is None:
        return None
    return db.session.scalar(_seen_by(member).where(SavedView.id == view_id, SavedView.list == list_name))


def read_query(listed: registry.SavedList, args) -> dict[str, list[str]]:
    """The list's own arguments for `args` (a MultiDict), as stored: every value a string, no cursor, no blanks."""
    query = {}
    for name, values in list(listed.read(args).items())[:MAX_ARGUMENTS]:
        values = [str(v) for v in (values if isinstance(values, list | tuple) else [values]) if v not in ("", None)]
        if values and name != "after":
            query[name] = values[:MAX_VALUES]
    return query


def create_view(member: Member, list_name: str, data: dict, args) -> SavedView:
    """Save the list's current arguments `args` under a name; `data`: name, shared, default."""
    listed = saved_list(list_name)
    view = SavedView(list=listed.name, owner_id=member.id, query=read_query(listed, args))
    view.names = _names(view.query)
    _set(member, view, data)
    db.session.add(view)
    db.session.flush()
    set_default(member, view, data.get("default", False))
    return view


def update_view(member: Member, view: SavedView, data: dict) -> None:
    """Rename or (un)share a view, and make it the member's default or not."""
    if not may_change(member, view):
        raise Forbidden()
    was_shared = view.shared
    _set(member, view, data)
    if was_shared and not view.shared:  # the others no longer see it, so it is no longer their default
        _forget_default(view, Member.id != view.owner_id)
    db.session.flush()
    set_default(member, view, data.get("default", False))


def _set(member: Member, view: SavedView, data: dict) -> None:
    name = validation.text(data.get("name"), "name", NAME_LIMIT, required=_("Name the view."))
    taken = select(exists().where(SavedView.list == view.list, SavedView.owner_id == view.owner_id,
                                  func.lower(SavedView.name) == name.lower(), SavedView.id != (view.id or 0)))
    if db.session.scalar(taken):
        raise Invalid({"name": _("A view of this list already has this name.")})
    shared = bool(data.get("shared"))
    if shared and not view.shared and not may_share(member, view.list):
        raise Invalid({"shared": _("Only admins and managers may share views with the workspace.")})
    view.name, view.shared = name, shared


def set_default(member: Member, view: SavedView, on: bool) -> None:
    """Make the view the member's default for its list, or stop it being so."""
    defaults = dict(member.default_views or {})
    if on:
        defaults[view.list] = view.id
    elif defaults.get(view.list) == view.id:
        del defaults[view.list]
    member.default_views = defaults
    db.session.flush()


def _forget_default(view: SavedView, *members) -> None:
    """The view stops being the default of the members `members` select (all, when none given)."""
    without = Member.default_views.op("-", return_type=JSONB)(literal(view.list, String))  # jsonb - key
    db.session.execute(update(Member).where(Member.default_views[view.list].astext == str(view.id), *members)
                       .values(default_views=without).execution_options(synchronize_session="fetch"))


def delete_view(member: Member, view: SavedView) -> None:
    if not may_change(member, view):
        raise Forbidden()
    _forget_default(view)
    db.session.delete(view)
    db.session.flush()


def opened(view: SavedView) -> tuple[dict[str, list[str]], list[str]]:
    """The view's arguments without filters on tags or custom fields deleted since it was saved, and the names of
    those (as they were called when it was saved)."""
    query, removed = dict(view.query), []
    tag_ids = [tag_id for tag_id in map(record_id, query.get("tag", [])) if tag_id]
    if tag_ids:
        live = set(db.session.scalars(select(Tag.id).where(Tag.id.in_(tag_ids))))
        removed += [view.names.get(f"tag:{tag_id}", f"#{tag_id}") for tag_id in tag_ids if tag_id not in live]
        query["tag"] = [str(tag_id) for tag_id in tag_ids if tag_id in live]
    fields = _filterable_fields()
    for name in [name for name in query if name.startswith("cf_")]:
        if _field_of(name, fields) is None:
            del query[name]
            label = view.names.get(name) or view.names.get(name[:-4]) or name[3:]
            removed += [] if label in removed else [label]
    return {name: values for name, values in query.items() if values}, removed


def _names(query: dict) -> dict[str, str]:
    """What the tags and custom fields the arguments name are called now, in the saver's language."""
    names = {}
    tag_ids = [tag_id for tag_id in map(record_id, query.get("tag", [])) if tag_id]
    for tag in db.session.scalars(select(Tag).where(Tag.id.in_(tag_ids))) if tag_ids else []:
        names[f"tag:{tag.id}"] = tag.name
    fields = _filterable_fields()
    for name in query:
        field = _field_of(name, fields) if name.startswith("cf_") else None
        if field is not None:
            names[f"cf_{field.key}"] = field.label()
    return names


def _filterable_fields() -> dict:
    return {field.key: field for field in definitions.fields() if field.filterable and not field.sensitive}


def _field_of(argument: str, fields: dict):
    """The live custom field a `cf_...` argument filters on (ranges end in _min and _max), or None."""
    key = argument[3:]
    if key in fields:
        return fields[key]
    return fields.get(key[:-4]) if key.endswith(("_min", "_max")) else None
