"""What was deleted since a time, for a client that syncs by `updated_since` (GET /api/v1/deletions), read from what
the app already keeps, with no table of its own:

- customers in the trash: `customers.deleted_at` (the pages, the API and an import's undo all trash that way);
- customers deleted for good from the trash, deals deleted, follow-ups cancelled, tags deleted: their audit entry
  (`purge` or `delete`), which names the owner the record had (`changes.owner_id`), so the list is scoped by the
  role like the records themselves. An entry written before owners were noted has none: a role that sees all the
  records of that kind lists it, an own/team-scoped role does not (nothing leaks, at the price of a gap);
- deals, orders and follow-ups a linked import added and its undo removed (one audit entry for the whole undo):
  the import's rows that created a record which no longer exists, at the undo's time, owned as the import gave
  them (the row's owner, else the importer's).

A restored customer leaves the list (it is not deleted any more) and its restore changes its `updated_at`, so the
client finds it again. The order is (deleted_at, type, id), oldest first, in keyset pages."""
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Integer, String, and_, exists, func, literal, select, union_all
from sqlalchemy.orm import aliased

from crm import listing
from crm.audit.models import AuditEntry
from crm.customers.models import Customer
from crm.deals.models import Deal
from crm.extensions import db
from crm.followups.models import Activity
from crm.imports.models import Import, ImportRow
from crm.members.access import scoped
from crm.members.models import Member
from crm.orders.models import Order

# type -> (the permission resource that decides who sees it, the audit entity, the audit action of its deletion)
TYPES = {
    "customer": ("customers", "customer", "purge"),
    "deal": ("deals", "deal", "delete"),
    "order": ("orders", "order", "delete"),  # only an import's undo removes orders: the pages cancel them
    "followup": ("activities", "activity", "delete"),
    "tag": ("customers", "tag", "delete"),  # tags are shared: whoever sees customers sees them (as GET /tags)
}
OWNED = {"customer", "deal", "order", "followup"}  # kinds whose records have an owner that scopes them
UNDONE = {"deal": ("deals", Deal), "order": ("orders", Order), "followup": ("activities", Activity)}  # import kinds
PAGE = 100


def deletions(viewer: Member, since: datetime, types=(), after: str = "", limit: int = PAGE) -> tuple[list, str]:
    """(type, id, deleted_at) rows of the records of `types` (default: all) deleted at or after `since` that the
    viewer's role may see, one keyset page after the cursor, and the next page's cursor ('' on the last)."""
    parts = [part for type_ in (types or TYPES) for part in _parts(viewer, type_, since)]
    if not parts:
        return [], ""
    rows = union_all(*parts).subquery("deletions")
    keys = [listing.Key(rows.c.deleted_at, datetime), listing.Key(rows.c.type, str), listing.Key(rows.c.id)]
    found = db.session.execute(listing.keyset(select(rows), keys, after, limit)).all()
    return listing.next_page(found, keys, limit)


def _parts(viewer: Member, type_: str, since: datetime) -> list:
    resource, entity, action = TYPES[type_]
    owners = _owners_in_reach(viewer, resource)
    if owners == []:
        return []
    kind = literal(type_, String).label("type")
    logged = select(kind, AuditEntry.entity_id.label("id"), AuditEntry.at.label("deleted_at")).where(
        AuditEntry.entity == entity, AuditEntry.action == action, AuditEntry.at >= since,
        AuditEntry.entity_id.is_not(None))
    if type_ in OWNED and owners is not None:
        logged = logged.where(AuditEntry.changes["owner_id"][0].as_integer().in_(owners))
    if type_ in UNDONE:
        return [logged, _undone(type_, kind, since, owners)]
    if type_ != "customer":
        return [logged]
    trashed = select(kind, Customer.id.label("id"), Customer.deleted_at.label("deleted_at")).where(
        Customer.deleted_at >= since)
    if owners is not None:
        trashed = trashed.where(Customer.owner_id.in_(owners))
    return [trashed, logged]


def _undone(type_: str, kind, since: datetime, owners: list[int] | None):
    """The records of `type_` a linked import added and its undo removed, at the undo's time (its audit entry). A
    record the undo skipped and someone deleted later is left to its own audit entry."""
    import_kind, model = UNDONE[type_]
    entity = TYPES[type_][1]
    undo, deleted = aliased(AuditEntry), aliased(AuditEntry)
    stmt = (select(kind, ImportRow.record_id.label("id"), undo.at.label("deleted_at"))
            .join(Import, Import.id == ImportRow.import_id)
            .join(undo, and_(undo.entity == "import", undo.action == "delete", undo.entity_id == Import.id))
            .where(Import.kind == import_kind, Import.status == "undone", ImportRow.action == "create",
                   ImportRow.record_id.is_not(None), undo.at >= since,
                   ~exists().where(model.id == ImportRow.record_id),
                   ~exists().where(deleted.entity == entity, deleted.action == "delete",
                                   deleted.entity_id == ImportRow.record_id))
            .group_by(ImportRow.record_id, undo.at, Import.member_id))  # an order's lines are rows of one record
    if owners is not None:  # the owner the import gave it, as linking.py inserted it
        owner = func.coalesce(func.min(ImportRow.data["owner_id"].astext.cast(Integer)), Import.member_id)
        stmt = stmt.having(owner.in_(owners))
    return stmt


def _owners_in_reach(viewer: Member, resource: str) -> list[int] | None:
    """None: the role sees every record of `resource`; else the ids of the members whose records it sees (by the
    role's scope, as `scoped` reads it). Read once: the parts of the union cannot each repeat the team query."""
    if viewer.role.scope(resource, "view") == "all":
        return None
    members = scoped(select(Member.id), viewer, resource, "view", SimpleNamespace(owner_id=Member.id))
    return list(db.session.scalars(members))
