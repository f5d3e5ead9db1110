"""Merging duplicate customers: one survivor keeps the chosen value of each field and every record of the others
(deals, orders, tickets, follow-ups, contacts, files, timeline, tags); the others go to the trash pointing at it. One audit
entry (action `merge`) holds what undo needs, and undo is allowed while the survivor is unchanged since."""
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from crm.attachments.models import Attachment
from crm.audit.models import AuditEntry
from crm.audit.service import record
from crm.contacts import service as contacts
from crm.contacts.models import Contact
from crm.customers import addresses
from crm.customers.models import SENSITIVE, Customer, customer_tags
from crm.customers.writes import EDITABLE
from crm.deals.models import Deal
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields import definitions as fields
from crm.followups.models import Activity
from crm.members.access import scoped
from crm.members.models import Member
from crm.orders.models import Order
from crm.tickets.models import Ticket
from crm.timeline.models import TimelineEvent
from crm.validation import record_id
from crm.webhooks import events as webhooks

# The records that follow their customer, by the name the audit entry keeps their ids under.
MOVED = {"deals": Deal, "orders": Order, "tickets": Ticket, "activities": Activity, "contacts": Contact,
         "attachments": Attachment, "timeline_events": TimelineEvent}
# The survivor's columns a merge may change, so undo can put them back (the sensitive ones as stored tokens).
KEPT_COLUMNS = (*EDITABLE, *(f"{name}_{part}" for name in SENSITIVE for part in ("enc", "idx")), "custom",
                "custom_sensitive", "first_ordered_at", "last_contact_at")
MAX_MERGED = 3


def customers_to_merge(viewer: Member, ids) -> list[Customer]:
    """The 2-3 live customers picked, oldest first, each one the viewer may edit and delete; any other id is not
    found."""
    wanted = list(dict.fromkeys(i for i in map(record_id, ids) if i))
    if not 2 <= len(wanted) <= MAX_MERGED:
        raise Invalid({"ids": _("Choose 2 or 3 customers to merge.")})
    found = _reached(viewer, select(Customer).where(Customer.deleted_at.is_(None), Customer.id.in_(wanted)))
    if len(found) != len(wanted):
        raise NotFound()
    return [found[i] for i in sorted(wanted)]  # oldest first: the page offers to keep the original


def _reached(viewer: Member, stmt) -> dict[int, Customer]:
    """The customers of `stmt` the viewer may both edit and delete, by id. Two queries: a team scope is a
    recursive CTE of one fixed name, which one statement cannot hold twice."""
    editable = {c.id: c for c in db.session.scalars(scoped(stmt, viewer, "customers", "edit", Customer)).unique()}
    deletable = set(db.session.scalars(scoped(stmt.with_only_columns(Customer.id), viewer, "customers", "delete",
                                              Customer)))
    return {i: c for i, c in editable.items() if i in deletable}


def may_merge(viewer: Member) -> bool:
    """Whether the viewer's role may merge at all (each customer is still checked for its scope)."""
    return viewer.can("customers", "edit") and viewer.can("customers", "delete")


def duplicates_of(viewer: Member, customer: Customer, limit: int = 3) -> list[Customer]:
    """Live customers with the customer's phone or email that the viewer could merge with it (the customer page
    offers "compare and merge"). Two index lookups (phone, email)."""
    same = [column == value for column, value in ((Customer.phone, customer.phone), (Customer.email, customer.email))
            if value]
    if not same:
        return []
    stmt = (select(Customer).where(Customer.deleted_at.is_(None), Customer.id != customer.id, or_(*same))
            .order_by(Customer.id).limit(limit))
    return list(_reached(viewer, stmt).values())


def field_choices(customers: list[Customer]) -> list[dict]:
    """The fields whose values differ between the customers: {"name", "label" or "field" (custom), "sensitive"}."""
    # The address is one choice: a province of one customer with the city of another would be no place at all.
    rows = [{"name": name, "sensitive": False} for name in EDITABLE if name not in addresses.PARTS]
    rows.append({"name": "address", "sensitive": False})
    rows += [{"name": name, "sensitive": True} for name in SENSITIVE]
    for field in fields.fields():
        rows.append({"name": f"{'secret' if field.sensitive else 'custom'}.{field.key}", "field": field,
                     "sensitive": field.sensitive})
    return [row for row in rows if len({_comparable(c, row["name"]) for c in customers}) > 1]


def _comparable(customer: Customer, name: str):
    """A field's stored value, comparable between customers (sensitive ones by their keyed hash or token)."""
    if name in SENSITIVE:
        return getattr(customer, f"{name}_idx")
    if name.startswith("custom."):
        return repr((customer.custom or {}).get(name[7:]))
    if name.startswith("secret."):
        return (customer.custom_sensitive or {}).get(name[7:])
    if name == "address":
        return tuple(getattr(customer, part) for part in addresses.PARTS)
    return getattr(customer, name)


def merge(viewer: Member, survivor_id, ids, chosen: dict) -> Customer:
    """Merge the customers `ids` into `survivor_id`, taking each field of `chosen` ({field: customer id}) from
    that customer; audited once, undoable (see undo)."""
    # Checked first: without a customer to keep there is nothing to look up.
    if record_id(survivor_id) is None or record_id(survivor_id) not in map(record_id, ids):
        raise Invalid({"survivor_id": _("Choose which customer to keep among those merged.")})
    customers = customers_to_merge(viewer, ids)
    survivor = next(c for c in customers if c.id == record_id(survivor_id))
    others = [c for c in customers if c is not survivor]
    by_id = {c.id: c for c in customers}
    known = {row["name"] for row in field_choices(customers)}
    before = {name: _json(getattr(survivor, name)) for name in KEPT_COLUMNS}
    for name, source_id in chosen.items():
        source = by_id.get(record_id(source_id))
        if name not in known or source is None:
            raise Invalid({name: _("Choose one of the merged customers' values.")})
        if source is not survivor and _is_sensitive(name) and not viewer.can("sensitive", "edit"):
            raise Invalid({name: _("Your role may not change sensitive values.")})
        if source is not survivor:
            _take(survivor, source, name)
    survivor.first_ordered_at = min((c.first_ordered_at for c in customers if c.first_ordered_at), default=None)
    survivor.last_contact_at = max((c.last_contact_at for c in customers if c.last_contact_at), default=None)
    survivor_primary = contacts.primary_id(survivor.id)
    moved = _move(survivor, others)
    demoted = contacts.keep_one_primary(survivor.id, survivor_primary)
    added_tags = _union_tags(survivor, others)
    now = utcnow()
    for other in others:
        other.deleted_at, other.merged_into_id = now, survivor.id
        webhooks.emit("customer.deleted", other)
    survivor.updated_at = now
    db.session.flush()
    record("merge", "customer", survivor.id, summary=survivor.name, changes={
        "merged": [None, ", ".join(f"{c.name} (#{c.id})" for c in others)],
        "_undo": {"ids": [c.id for c in others], "before": before, "moved": moved, "tags": added_tags,
                  "primaries": demoted,
                  "updated_at": now.isoformat()}})
    webhooks.emit("customer.updated", survivor)
    return survivor


def _is_sensitive(name: str) -> bool:
    return name in SENSITIVE or name.startswith("secret.")


def _take(survivor: Customer, source: Customer, name: str) -> None:
    """Copy one field's stored value (sensitive ones encrypted, with their keyed hash, as they are)."""
    if name in SENSITIVE:
        for part in ("enc", "idx"):
            setattr(survivor, f"{name}_{part}", getattr(source, f"{name}_{part}"))
    elif name.startswith(("custom.", "secret.")):
        column = "custom" if name.startswith("custom.") else "custom_sensitive"
        values, key = dict(getattr(survivor, column) or {}), name[7:]
        value = (getattr(source, column) or {}).get(key)
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        setattr(survivor, column, values)
    elif name == "address":
        for part in addresses.PARTS:
            setattr(survivor, part, getattr(source, part))
    else:
        setattr(survivor, name, getattr(source, name))


def _move(survivor: Customer, others: list[Customer]) -> dict:
    """Every record of the others to the survivor, one UPDATE per table and customer: {table: {from id: [ids]}}."""
    moved = {}
    for table, model in MOVED.items():
        for other in others:
            ids = db.session.scalars(update(model).where(model.customer_id == other.id)
                                     .values(customer_id=survivor.id).returning(model.id)).all()
            if ids:
                moved.setdefault(table, {})[str(other.id)] = list(ids)
    return moved


def _union_tags(survivor: Customer, others: list[Customer]) -> list[int]:
    """The others' tags added to the survivor (the others keep theirs, for undo); the tag ids it gained."""
    have = set(survivor.tag_ids or [])
    added = sorted({t for other in others for t in (other.tag_ids or [])} - have)
    if added:
        db.session.execute(insert(customer_tags).values([{"customer_id": survivor.id, "tag_id": t} for t in added])
                           .on_conflict_do_nothing())
        survivor.tag_ids = [*(survivor.tag_ids or []), *added]
    return added


def last_merge(customer: Customer) -> AuditEntry | None:
    """The latest merge into this customer, unless undone since."""
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.entity == "customer", AuditEntry.entity_id == customer.id,
        AuditEntry.action.in_(("merge", "unmerge"))).order_by(AuditEntry.id.desc()).limit(1))
    return entry if entry is not None and entry.action == "merge" else None


def undoable(customer: Customer) -> AuditEntry | None:
    """The merge into this customer that can still be undone: its latest, with the customer unchanged since and
    every merged customer still in the trash, merged into it."""
    entry = last_merge(customer)
    if entry is None or "_undo" not in entry.changes:
        return None
    undo = entry.changes["_undo"]
    if customer.updated_at != datetime.fromisoformat(undo["updated_at"]):
        return None
    still = db.session.scalar(select(func.count(Customer.id)).where(
        Customer.id.in_(undo["ids"]), Customer.deleted_at.is_not(None), Customer.merged_into_id == customer.id))
    return entry if still == len(undo["ids"]) else None


def merged_count(customer: Customer) -> int:
    """How many customers the latest merge put into this one."""
    entry = last_merge(customer)
    return len(entry.changes["_undo"]["ids"]) if entry is not None else 0


def merge_note(customer: Customer) -> dict | None:
    """What the survivor's page says of its latest merge: how many were merged, and whether undo is offered."""
    entry = last_merge(customer)
    if entry is None or "_undo" not in entry.changes:
        return None
    return {"count": len(entry.changes["_undo"]["ids"]), "at": entry.at, "undoable": undoable(customer) is not None}


def survivors(viewer: Member, customers: list[Customer]) -> dict[int, Customer]:
    """The live customers the viewer sees that these trashed ones were merged into, by id."""
    ids = {c.merged_into_id for c in customers if c.merged_into_id}
    if not ids:
        return {}
    stmt = scoped(select(Customer).where(Customer.id.in_(ids), Customer.deleted_at.is_(None)),
                  viewer, "customers", "view", Customer)
    return {c.id: c for c in db.session.scalars(stmt).unique()}


def merged_into(viewer: Member, customer_id: int) -> Customer | None:
    """The live customer that this trashed one was merged into, when the viewer sees both."""
    merged = db.session.scalar(scoped(select(Customer.merged_into_id).where(
        Customer.id == customer_id, Customer.deleted_at.is_not(None)), viewer, "customers", "view", Customer))
    if merged is None:
        return None
    return db.session.scalar(scoped(select(Customer).where(Customer.id == merged, Customer.deleted_at.is_(None)),
                                    viewer, "customers", "view", Customer))


def undo(viewer: Member, customer: Customer) -> list[Customer]:
    """Undo the latest merge into `customer` (which the viewer may edit): records, tags and fields back, the
    merged customers out of the trash. Refused once the survivor changed."""
    entry = undoable(customer)
    if entry is None:
        raise Invalid({"undo": _("This merge can no longer be undone: the customer has changed since.")
                       if last_merge(customer) else _("There is no merge to undo.")})
    data = entry.changes["_undo"]
    merged = list(_reached(viewer, select(Customer).where(Customer.id.in_(data["ids"]))).values())
    if len(merged) != len(data["ids"]):
        raise NotFound()
    for table, by_customer in data["moved"].items():
        model = MOVED[table]
        for customer_id, ids in by_customer.items():
            db.session.execute(update(model).where(model.id.in_(ids), model.customer_id == customer.id)
                               .values(customer_id=int(customer_id)))
    contacts.restore_primaries(data.get("primaries", []))
    if data["tags"]:
        db.session.execute(customer_tags.delete().where(customer_tags.c.customer_id == customer.id,
                                                        customer_tags.c.tag_id.in_(data["tags"])))
        customer.tag_ids = [t for t in customer.tag_ids if t not in set(data["tags"])]
    for name, value in data["before"].items():
        setattr(customer, name, _from_json(name, value))
    customer.updated_at = utcnow()
    for other in merged:
        other.deleted_at, other.merged_into_id = None, None
        webhooks.emit("customer.updated", other)
    record("unmerge", "customer", customer.id, summary=customer.name,
           changes={"merged": [", ".join(f"{c.name} (#{c.id})" for c in merged), None]})
    webhooks.emit("customer.updated", customer)
    db.session.flush()
    db.session.expire(customer, ["tags"])
    return merged


def _json(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(name: str, value):
    return datetime.fromisoformat(value) if value and name in ("first_ordered_at", "last_contact_at") else value


# What makes two live customers look like the same one, for the "Possible duplicates" list.
DUPLICATE_KEYS = {"phone": (Customer.phone,), "email": (Customer.email,),
                  "name_company": (func.lower(Customer.name), func.lower(Customer.company))}


def duplicate_groups(viewer: Member, limit: int = 50) -> list[dict]:
    """Groups of live customers the viewer may merge that share a phone, an email, or a name and company:
    {"kind", "customers" (the first 3, oldest first: what one merge takes), "count"}, at most `limit`."""
    found = []
    for kind, columns in DUPLICATE_KEYS.items():
        stmt = (select(func.array_agg(aggregate_order_by(Customer.id, Customer.id)), func.count(Customer.id))
                .where(Customer.deleted_at.is_(None), *(column.is_not(None) for column in columns),
                       *(column != "" for column in columns)))
        stmt = scoped(stmt, viewer, "customers", "edit", Customer).group_by(*columns)
        found += [(kind, ids, count) for ids, count in db.session.execute(
            stmt.having(func.count(Customer.id) > 1).order_by(func.min(Customer.id)).limit(limit))]
    found = found[:limit]
    wanted = {i for _kind, ids, _count in found for i in ids[:MAX_MERGED]}
    customers = _reached(viewer, select(Customer).where(Customer.id.in_(wanted))) if wanted else {}
    groups = []
    for kind, ids, count in found:
        shown = [customers[i] for i in ids[:MAX_MERGED] if i in customers]
        if len(shown) > 1:  # the ones the viewer may also delete
            groups.append({"kind": kind, "customers": shown, "count": count})
    return groups
