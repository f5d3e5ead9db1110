"""Writing and reading the audit log. Services call record(); the actor comes from the bound member."""
from flask import g, has_request_context, request

from crm.audit.models import AuditEntry
from crm.extensions import db

MASK = "••••"


def record(action: str, entity: str, entity_id: int | None = None, *, summary: str = "",
           changes: dict | None = None, actor=None) -> AuditEntry:
    """Add one entry in the current transaction (so it is kept exactly when the change is)."""
    actor = actor if actor is not None else g.get("member")
    entry = AuditEntry(actor_id=actor.id if actor else None, actor_name=actor.name if actor else "system",
                       ip=request.remote_addr if has_request_context() else None, action=action, entity=entity,
                       entity_id=entity_id, summary=summary[:250], changes=changes or {})
    db.session.add(entry)
    return entry


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


def _plain(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
