"""Record events for outgoing webhooks, emitted by the services in the transaction of the change.

A service calls `emit("customer.created", customer)` after its flush; an import calls `emit_many` with the ids it
wrote. Nothing is written then: the transaction's events gather on the session and, just before it commits, each
becomes one delivery row per enabled subscription that chose its type (crm/webhooks/outbox.py), carrying the record
as the API shows it at that moment, so what a call changed after the emit (a new customer's tags) is in it. One
change emits its type once per transaction, and an `updated` is dropped when the same transaction created the
record. A rolled-back transaction writes nothing; a commit that fails takes its deliveries with it.

This module is what services import: it names no feature. The API's schemas that show each kind of record are
found by name (OBJECTS) when an event is written, since those modules import the services that emit."""
import functools
import importlib
import secrets
from collections.abc import Iterable

from sqlalchemy import event, select

from crm.extensions import db, utcnow
from crm.webhooks import outbox
from crm.webhooks.models import WebhookSubscription

API_VERSION = "v1"
# Every event type, and the kind of record its `data.object` is.
EVENTS = {
    "customer.created": "customer", "customer.updated": "customer", "customer.deleted": "customer",
    "deal.created": "deal", "deal.stage_changed": "deal", "deal.won": "deal", "deal.lost": "deal",
    "order.created": "order", "order.status_changed": "order", "order.paid": "order",
    "ticket.created": "ticket", "ticket.closed": "ticket",
    "followup.done": "followup",
    "contact.created": "contact", "contact.updated": "contact", "contact.deleted": "contact",
}
# Per kind: the API module and the schema it answers with; the module's `shown(record)` (when it has one) gives
# what the schema dumps.
OBJECTS = {
    "customer": ("crm.api.customers", "CustomerOut"),
    "deal": ("crm.api.deals", "DealOut"),
    "order": ("crm.api.orders", "OrderOut"),
    "ticket": ("crm.api.tickets", "TicketOut"),
    "followup": ("crm.api.activities", "ActivityOut"),
    "contact": ("crm.api.contacts", "ContactOut"),
}
PENDING = "webhook_events"
WANTED = "webhook_types_wanted"
BATCH = 500  # records of an import loaded at once


def emit(type_: str, record) -> None:
    """Send `type_` about `record` (flushed, so it has its id) to every subscription that chose it, once this
    transaction commits."""
    if type_ not in EVENTS:
        raise ValueError(f"unknown webhook event {type_}")
    _pending()[(type_, record.id)] = record


def emit_many(type_: str, model, ids: Iterable[int]) -> None:
    """`type_` for each record of `model` with these ids (an import's rows), loaded at commit."""
    pending = _pending()
    for record_id in ids:
        pending.setdefault((type_, record_id), model)


def wanted(type_: str) -> bool:
    """Whether an enabled subscription chose `type_`: an import asks before it gathers thousands of ids."""
    if WANTED not in db.session.info:
        chosen = db.session.scalars(select(WebhookSubscription.events).where(WebhookSubscription.enabled)).all()
        db.session.info[WANTED] = {name for events in chosen for name in events}
    return type_ in db.session.info[WANTED]


def _pending() -> dict:
    return db.session.info.setdefault(PENDING, {})



@functools.cache
def _shower(kind: str):
    """(the API's schema instance, its `shown` or None) for a kind of record; made once, a schema being costly to
    build (~2 ms) and stateless to dump with."""
    module, schema_name = OBJECTS[kind]
    api = importlib.import_module(module)
    return getattr(api, schema_name)(), getattr(api, "shown", None)


def envelope(event_id: str, type_: str, record) -> dict:
    """The versioned payload: the record as the API shows it, under data.object."""
    schema, shown = _shower(EVENTS[type_])
    body = schema.dump(shown(record) if shown else record)
    return {"id": event_id, "type": type_, "api_version": API_VERSION,
            "created": utcnow().isoformat().replace("+00:00", "Z"), "data": {"object": body}}


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def _records(pending: dict, types: set[str]) -> Iterable[tuple[str, object]]:
    """(type, record) for each pending event of these types; ids an import gave are loaded in batches."""
    by_model: dict = {}
    for (type_, record_id), record in pending.items():
        if type_ not in types:
            continue
        if isinstance(record, type):
            by_model.setdefault(record, []).append((type_, record_id))
            continue
        if type_.endswith(".updated") and (type_.replace(".updated", ".created"), record_id) in pending:
            continue  # created in this transaction: the created event already shows its final state
        yield type_, record
    for model, keys in by_model.items():
        for start in range(0, len(keys), BATCH):
            batch = keys[start:start + BATCH]
            loaded = {r.id: r for r in db.session.scalars(select(model).where(model.id.in_([i for _t, i in batch])))}
            for type_, record_id in batch:
                if record_id in loaded:
                    yield type_, loaded[record_id]


@event.listens_for(db.session, "before_commit")
def _write_deliveries(session) -> None:
    pending = session.info.pop(PENDING, None)
    session.info.pop(WANTED, None)
    if not pending:
        return
    subscriptions = outbox.enabled_subscriptions()
    types = {name for subscription in subscriptions for name in subscription.events}
    deliveries = []
    for type_, record in _records(pending, types):
        payload = envelope(new_event_id(), type_, record)
        deliveries.extend((s.id, payload) for s in subscriptions if type_ in s.events)
    outbox.add(deliveries)


@event.listens_for(db.session, "after_rollback")
def _drop_pending(session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(WANTED, None)
