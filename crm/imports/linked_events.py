"""What an imported follow-up, deal, order or contact tells the rest of the CRM, as the pages' services do for one
made there (crm/followups/service.py, crm/deals/deals.py, crm/orders/service.py, crm/contacts/service.py),
set-based: the customer's timeline event, a plan's reminders, a new deal's, order's or contact's webhook; and the
first two removed when the import is undone. A contact has no timeline event (the page writes none).

Each event is the one the page writes, at the time the record happened (a follow-up's done time, a deal's or
order's created time), by the importer, and also names the import and the record (`import`, `record` in its
payload) so that undo removes exactly the events of the records it removes."""
import json

from sqlalchemy import select, text

from crm.contacts.models import Contact
from crm.deals.models import Deal
from crm.extensions import db
from crm.followups import reminders
from crm.followups.models import METHOD_LABELS
from crm.formatting import money
from crm.imports.models import ImportRow
from crm.imports.staging import table
from crm.members.models import Member
from crm.orders.models import Order
from crm.timeline.service import in_both_languages
from crm.webhooks import events as webhooks

# kind -> (the records' table, the page's event, the event's deal id, its payload besides the import's keys, the
# joins its payload needs, which records get one). `x` is the record, `s` a deal's stage, :labels what
# `_labels` gives.
EVENTS = {
    "activities": ("activities", "follow_up_logged", "NULL",
                   "'method', CAST(:labels AS jsonb) -> x.method, 'summary', x.summary", "", "x.done_at IS NOT NULL"),
    "deals": ("deals", "deal_created", "x.id",
              "'deal', x.title, 'stage', jsonb_build_object("
              "'en', coalesce(nullif(s.name_en, ''), nullif(s.name_zh, ''), ''), "
              "'zh', coalesce(nullif(s.name_zh, ''), nullif(s.name_en, ''), '')), "
              "'link', jsonb_build_array('deals.show', jsonb_build_object('deal_id', x.id))",
              "JOIN {stages} s ON s.id = x.stage_id", "true"),
    "orders": ("orders", "order_created", "NULL",
               "'number', x.number, 'total', CAST(:labels AS jsonb) -> (x.total::text), "
               "'link', jsonb_build_array('orders.show', jsonb_build_object('order_id', x.id))", "", "true"),
}
AT = {"activities": "x.done_at", "deals": "x.created_at", "orders": "x.created_at"}
WEBHOOKS = {"deals": ("deal.created", Deal), "orders": ("order.created", Order)}  # as the pages' services send


def _run(sql: str, **params):
    return db.session.execute(text(sql.format(
        rows=table("import_rows"), events=table("timeline_events"), stages=table("stages"),
        activities=table("activities"), deals=table("deals"), orders=table("orders"))), params)


def tell(import_id: int, viewer: Member, kind: str) -> None:
    """The timeline events of the import's new records, oldest first; a plan's reminders; webhooks."""
    added = select(ImportRow.record_id).where(ImportRow.import_id == import_id, ImportRow.action == "create")
    if kind == "contacts":
        _tell_contacts(import_id, added)
        return
    name, event, deal, payload, joins, which = EVENTS[kind]
    _run(f"""INSERT INTO {{events}} (at, customer_id, deal_id, kind, actor_id, actor_name, payload)
             SELECT {AT[kind]}, x.customer_id, {deal}, :event, :actor, :actor_name,
                    jsonb_build_object({payload}, 'import', CAST(:id AS int), 'record', x.id)
             FROM {{{name}}} x {joins}
             WHERE x.id IN (SELECT record_id FROM {{rows}} WHERE import_id = :id AND action = 'create') AND {which}
             ORDER BY {AT[kind]}, x.id""",
         id=import_id, event=event, actor=viewer.id, actor_name=viewer.name, labels=_labels(import_id, kind))
    if kind == "activities":
        reminders.schedule_many(added)
    elif webhooks.wanted(WEBHOOKS[kind][0]):  # nobody subscribed (the usual case): one small query
        webhooks.emit_many(*WEBHOOKS[kind], set(db.session.scalars(added)))


def _tell_contacts(import_id: int, added) -> None:
    """contact.created for each new contact, contact.updated for each one that stopped being primary."""
    if webhooks.wanted("contact.created"):
        webhooks.emit_many("contact.created", Contact, set(db.session.scalars(added)))
    if webhooks.wanted("contact.updated"):
        replaced = select(ImportRow.data["replaced_primary"].as_integer()).where(
            ImportRow.import_id == import_id, ImportRow.action == "create", ImportRow.data.has_key("replaced_primary"))
        webhooks.emit_many("contact.updated", Contact, set(db.session.scalars(replaced)))


def _labels(import_id: int, kind: str) -> str:
    """What the events show in either language, made once per value, not per record: a method's name, or an
    order total in the workspace's currency (by its text, as x.total::text gives it)."""
    if kind == "activities":
        return json.dumps({method: in_both_languages(lambda label=label: label)
                           for method, label in METHOD_LABELS.items()})
    if kind == "orders":
        totals = _run("""SELECT DISTINCT x.total::text, x.currency FROM {rows} r JOIN {orders} x ON x.id = r.record_id
                         WHERE r.import_id = :id AND r.action = 'create'""", id=import_id).all()
        return json.dumps({total: in_both_languages(lambda total=total, currency=currency: money(total, currency))
                           for total, currency in totals})
    return "{}"


def forget(import_id: int, kind: str, removed: list[int]) -> None:
    """Undo: the events of the records removed, and the reminders of the plans among them."""
    if not removed or kind not in EVENTS:
        return
    _run("""DELETE FROM {events} e WHERE e.payload @> jsonb_build_object('import', CAST(:id AS int))
              AND (e.payload ->> 'record')::bigint = ANY(:removed)
              AND e.customer_id IN (SELECT customer_id FROM {rows} WHERE import_id = :id AND action = 'create')""",
         id=import_id, removed=removed)
    if kind == "activities":
        reminders.cancel_many(removed)
