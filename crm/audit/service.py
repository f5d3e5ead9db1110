"""Writing and reading the audit log. Services call record(), or change a record inside audited(); the actor
comes from the bound member."""
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from flask import g, has_request_context, request
from sqlalchemy import insert, select

from crm import listing, registry, validation
from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.settings import on_local_days
from crm.validation import record_id

MASK = "••••"
ACTIONS = ("create", "update", "delete", "restore", "purge", "reveal", "login", "invite", "permission", "deactivate",
           "reactivate", "merge", "unmerge")
PAGE_SIZE = 50
EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)  # a day later must still be a valid date
NEWEST = (listing.Key(AuditEntry.id, descending=True),)


def record(action: str, entity: str, entity_id: int | None = None, *, summary: str = "",
           changes: dict | None = None, actor=None) -> AuditEntry:
    """Add one entry in the current transaction (so it is kept exactly when the change is)."""
    actor = actor if actor is not None else g.get("member")
    entry = AuditEntry(**_entry(action, entity, entity_id, summary, changes, actor))
    db.session.add(entry)
    return entry


def record_in(schema: str, action: str, entity: str, entity_id: int | None = None, *, summary: str = "",
              changes: dict | None = None, actor=None) -> None:
    """record() into the log of the tenant whose schema is `schema`, bound or not, in the current transaction: for
    a change of the account (its second factor) that every workspace of the account logs."""
    db.session.execute(insert(AuditEntry).values(**_entry(action, entity, entity_id, summary, changes, actor)),
                       execution_options={"schema_translate_map": {"tenant": schema}})


def _entry(action: str, entity: str, entity_id: int | None, summary: str, changes: dict | None, actor) -> dict:
    name = actor.name if actor else "system"
    if actor is not None and g.get("audit_via"):  # a call of the API: the token it came with (crm/api/core.py)
        name = f"{name} · API: {g.audit_via}"
    return {"actor_id": actor.id if actor else None, "actor_name": name[:120],
            "ip": request.remote_addr if has_request_context() else None, "action": action, "entity": entity,
            "entity_id": entity_id, "summary": summary[:250], "changes": changes or {}}


def snapshot(obj, fields) -> dict:
    """The values of `fields` on `obj`, as JSON-safe text, for a before/after comparison."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def diff(before: dict, after: dict, sensitive=()) -> dict:
    """{field: [before, after]} for the fields that changed; sensitive values are masked."""
    changed = {}
    for name, old in before.items():
        new = after.get(name)
        if old != new:
            changed[name] = [MASK, MASK] if name in sensitive else [old, new]
    return changed


@dataclass
class Change:
    """What audited() found changed: {field: [before, after]}, empty (and false) when nothing did."""

    changes: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)


@contextmanager
def audited(obj, action: str = "update", *, entity: str, summary: Callable[[object], str], fields=(),
            state: Callable[[object], dict] | None = None, sensitive=()):
    """Snapshot `obj` (its `fields` and what `state(obj)` adds), let the block change it, then record what changed.

    Recorded in the caller's transaction, only when the block ends without an error and something changed.
    `sensitive`: names whose values are masked, or prefixes ending in "." ("secret.") for whole groups.
    The summary is `summary(obj)` after the change."""

    def now() -> dict:
        return {**snapshot(obj, fields), **(state(obj) if state else {})}

    before, change = now(), Change()
    yield change
    after = now()
    before.update({key: None for key in after.keys() - before.keys()})
    masked = {key for key in after if key in sensitive or any(key.startswith(p) for p in sensitive if p[-1:] == ".")}
    change.changes = diff(before, after, sensitive=masked)
    if change:
        record(action, entity, obj.id, summary=summary(obj), changes=change.changes)


def _plain(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass
class AuditQuery:
    """What the audit log was asked for: filters and the keyset cursor."""

    action: str = ""
    entity: str = ""
    actor: int | None = None
    since: date | None = None
    until: date | None = None
    q: str = ""
    after: str = ""

    @classmethod
    def from_args(cls, args) -> "AuditQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        return cls(
            action=args.get("action", "") if args.get("action") in ACTIONS else "",
            entity=args.get("entity", "") if args.get("entity") in entity_names() else "",
            actor=record_id(args.get("actor")),
            since=validation.or_none(validation.day, args.get("since"), "since", EARLIEST, LATEST),
            until=validation.or_none(validation.day, args.get("until"), "until", EARLIEST, LATEST),
            q=validation.clipped(args.get("q"), 100),
            after=args.get("after", ""),
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this log with `changes`."""
        values = {"action": self.action, "entity": self.entity, "actor": self.actor,
                  "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "q": self.q, "after": ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.action or self.entity or self.actor or self.since or self.until or self.q)


def entity_names() -> list[str]:
    """The record kinds the log can be filtered by (each feature registers its own)."""
    return [kind.name for kind in registry.audit_entities()]


def list_entries(query: AuditQuery, limit: int = PAGE_SIZE) -> tuple[list[AuditEntry], str]:
    """One page of matching entries, newest first, and the cursor of the next page ('' on the last one)."""
    stmt = select(AuditEntry)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.entity:
        stmt = stmt.where(AuditEntry.entity == query.entity)
    if query.actor:
        stmt = stmt.where(AuditEntry.actor_id == query.actor)
    stmt = stmt.where(*on_local_days(AuditEntry.at, query.since, query.until))
    if query.q:
        stmt = stmt.where(AuditEntry.summary.icontains(query.q, autoescape=True))
    return listing.page(stmt, NEWEST, query.after, limit)


def history(entity: str, entity_id: int, limit: int = PAGE_SIZE) -> list[AuditEntry]:
    """The latest entries about one record, newest first."""
    stmt = select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
    return list(db.session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def readable_changes(entry: AuditEntry) -> list[tuple[str, object, object]]:
    """(field label, before, after) of an entry, labelled and read the way its record kind's feature says."""
    kind = registry.audit_entity(entry.entity)
    return [(kind.field_label(name), kind.show(name, before), kind.show(name, after))
            for name, before, after in changed_fields(entry.changes)]


def changed_fields(changes) -> list[tuple[str, object, object]]:
    """(field, before, after) for each recorded change; a value stored on its own counts as the new one."""
    if not isinstance(changes, dict):
        return []
    rows = []
    for name, change in changes.items():
        if str(name).startswith("_"):  # kept for the feature itself (a merge's undo data), not a field
            continue
        if isinstance(change, (list, tuple)) and len(change) == 2:
            rows.append((str(name), change[0], change[1]))
        else:
            rows.append((str(name), None, change))
    return rows
