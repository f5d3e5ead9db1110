"""The set-based passes of a follow-up, deal, order or contact import: each staged row linked to its customer by the
match key (applying's matching), checked against the importer's scopes, then the records added in a handful of
statements whatever the size, each with an audit entry naming the import; undo removes them again.

Hand-written SQL names the tenant's schema itself (staging.table), as in applying."""
import json

from flask_babel import gettext as _
from sqlalchemy import select, text, update

from crm.customers.models import Customer
from crm.extensions import db
from crm.fields.definitions import fields
from crm.fields.values import clean_value
from crm.followups.models import DEFAULT_REMINDER
from crm.imports import applying, linked_events
from crm.imports.kinds import KINDS, Kind
from crm.imports.mapping import field_label
from crm.imports.models import ImportRow
from crm.imports.staging import table
from crm.members.access import members_in_reach, scoped
from crm.members.models import Member
from crm.orders.service import refresh_first_orders
from crm.settings import workspace_currency

# The table each kind's records go to, and what their audit entries are called and summarised by.
TABLES = {"activities": ("activities", "activity", "left(x.summary, 250)"), "deals": ("deals", "deal", "x.title"),
          "orders": ("orders", "order", "x.number"),
          "contacts": ("contacts", "contact",  # as crm/contacts/service.py sums one up: "name · customer"
                       "x.name || ' · ' || (SELECT c.name FROM {customers} c WHERE c.id = x.customer_id)")}


def _run(sql: str, **params):
    return db.session.execute(text(sql.format(
        rows=table("import_rows"), customers=table("customers"), stages=table("stages"), orders=table("orders"),
        deals=table("deals"), activities=table("activities"), order_lines=table("order_lines"),
        contacts=table("contacts"), tickets=table("tickets"),
        deal_stage_changes=table("deal_stage_changes"), order_status_changes=table("order_status_changes"),
        audit_log=table("audit_log"))), params)


def _value(key: str) -> str:
    return f"(r.data ->> '{key}')"


def decide(import_id: int, viewer: Member, kind: str, options: dict, mapping: dict) -> dict[str, int]:
    """Each row's customer and whether its record may be added; returns the counts. Writes only `import_rows`."""
    applying._match(import_id, options["match_on"])
    if kind == "orders":
        _lines_take_their_orders_customer(import_id)
    needed = "name" if options["match_on"] == "name_company" else options["match_on"]
    applying._error(import_id, "r.action IS NULL AND r.customer_id IS NULL",
                    _("No customer matches this row (%(field)s).", field=field_label(needed, kind)))
    _scope(import_id, viewer, KINDS[kind])
    if KINDS[kind].entity:
        _required_custom(import_id, KINDS[kind].entity)
    if kind == "orders":
        _numbers(import_id, next((int(i) for i, key in mapping.items() if key == "number"), None))
    if kind == "contacts":
        _one_primary(import_id)
    _run("UPDATE {rows} SET action = 'create' WHERE import_id = :id AND action IS NULL", id=import_id)
    return applying.counts(import_id)


def _scope(import_id: int, viewer: Member, kind: Kind) -> None:
    """Records only for customers the importer may see (a contact: may edit), owned by members the importer may give
    them to, and only with the kind's permission (the resource's create; a contact's: customers edit)."""
    resource = kind.resource
    if not viewer.can(resource, kind.adds):
        applying._error(import_id, "r.action IS NULL", _("You may not add these records."))
        return
    if viewer.role.scope("customers", kind.customer_action) != "all":
        visible = scoped(select(Customer.id).where(Customer.deleted_at.is_(None)), viewer, "customers",
                         kind.customer_action, Customer)
        db.session.execute(update(ImportRow).where(ImportRow.import_id == import_id, ImportRow.action.is_(None),
                                                   ImportRow.customer_id.not_in(visible))
                           .values(action="error", reason=_("This customer is not one of yours.")))
    if "owner" in kind.fields and viewer.role.scope(resource, "create") != "all":
        reach = [m.id for m in members_in_reach(viewer, resource, "create")]
        applying._error(import_id, "r.action IS NULL AND r.data ? 'owner_id' "
                                   "AND NOT (r.data ->> 'owner_id')::int = ANY(:reach)",
                        f"{_('Owner')}: {_('You can only give records to members of your own team.')}", reach=reach)


# What the lines of one order (rows with the same order number) must agree on, when given: a later line may leave
# them empty. The SQL of each over a staged row `r`.
AGREED = {"customer": "r.customer_id", "status": _value("status"), "created_at": _value("created_at"),
          "owner": _value("owner_id"), "notes": _value("notes")}
NUMBER = "lower(r.data ->> 'number')"


def _record(row: str = "r") -> str:
    """The record a staged row adds, as SQL: an order's lines share one (by number), any other row is its own."""
    return f"coalesce(lower({row}.data ->> 'number'), '#' || {row}.line)"


RECORD = _record()


def _required_custom(import_id: int, entity: str) -> None:
    """A record needs the custom values its form requires (an order: on any of its lines), unless the field has
    a default."""
    for field in fields(entity):
        if field.required and not field.default and not field.sensitive:
            applying._error(import_id, f"""r.action IS NULL AND {RECORD} NOT IN (
                                SELECT {_record('o')} FROM {{rows}} o
                                WHERE o.import_id = :id AND o.action IS NULL AND o.data -> 'custom' ? :key)""",
                            f"{field.label()}: {_('This field is required.')}", key=field.key)


def _defaults(entity: str) -> str:
    """The custom values a new record of `entity` gets when not given (the form's defaults), as JSON."""
    return json.dumps({f.key: clean_value(f, f.default) for f in fields(entity) if f.default and not f.sensitive})


def _lines_take_their_orders_customer(import_id: int) -> None:
    """A line that does not name its customer is for the customer its order's other lines name."""
    _run(f"""UPDATE {{rows}} r SET customer_id = o.customer_id
             FROM (SELECT {NUMBER} AS number, min(r.customer_id) AS customer_id FROM {{rows}} r
                   WHERE r.import_id = :id AND r.action IS NULL AND r.customer_id IS NOT NULL AND r.data ? 'number'
                   GROUP BY 1) o
             WHERE r.import_id = :id AND r.action IS NULL AND r.match_key IS NULL AND r.customer_id IS NULL
               AND {NUMBER} = o.number""", id=import_id)


def _agreed() -> dict[str, str]:
    """What an order's lines must agree on: label -> the SQL of its value in a row."""
    custom = {field.label(): f"r.data -> 'custom' -> '{field.key}'" for field in fields("order")
              if not field.sensitive}  # keys are [a-z0-9_] (definitions.KEY_PATTERN)
    return {**{_("Customer") if key == "customer" else field_label(key, "orders"): value
               for key, value in AGREED.items()}, **custom}


def _numbers(import_id: int, number_column: int | None) -> None:
    """Rows with the same order number (in any case) are the lines of one order: they must agree on the order's
    customer, status, date, owner and notes, and one line's error is its whole order's (nothing half-saved).
    A number an order already has is refused."""
    applying._error(import_id, f"""r.action IS NULL AND r.data ? 'number' AND EXISTS (
                        SELECT 1 FROM {table('orders')} x WHERE lower(x.number) = {NUMBER})""",
                    _("Order number: an order already has this number."))
    for label, value in _agreed().items():
        _run(f"""UPDATE {{rows}} r
                 SET action = 'error', reason = replace(:reason, '{{{{number}}}}', r.data ->> 'number')
                 WHERE r.import_id = :id AND r.action IS NULL AND {NUMBER} IN (
                     SELECT {NUMBER} FROM {{rows}} r WHERE r.import_id = :id AND r.data ? 'number'
                     GROUP BY 1 HAVING count(DISTINCT {value}) > 1)""",
             id=import_id, reason=_("The lines of order %(number)s give different values of %(field)s.",
                                    number="{number}", field=label))
    if number_column is not None:  # a row that failed cleaning has only its cells
        applying._error(import_id, f"""r.action IS NULL AND EXISTS (
                            SELECT 1 FROM {{rows}} o WHERE o.import_id = r.import_id AND o.action = 'error'
                              AND lower(trim(o.cells ->> {number_column})) = {NUMBER})""",
                        _("Another line of this order has an error."))


PRIMARY = "coalesce((r.data ->> 'primary')::boolean, false)"


def _one_primary(import_id: int) -> None:
    """One contact of a customer is primary: a second row marking another contact of the same customer primary is
    refused, naming the first."""
    _run(f"""UPDATE {{rows}} r SET action = 'error', reason = replace(:reason, '#LINE#', m.first::text)
             FROM (SELECT line, min(line) OVER (PARTITION BY customer_id) AS first FROM {{rows}} r
                   WHERE r.import_id = :id AND r.action IS NULL AND {PRIMARY}) m
             WHERE r.import_id = :id AND r.line = m.line AND m.line <> m.first""",
         id=import_id, reason=_("Line %(line)s already makes another contact of this customer primary.",
                                line="#LINE#"))


def apply(import_id: int, viewer: Member, kind: str) -> None:
    """Add the decided rows' records (ids drawn first, so each row knows its record) and an audit entry each."""
    name, entity, summary = TABLES[kind]
    _run(f"""WITH keys AS (SELECT {RECORD} AS key, min(r.line) AS first FROM {{rows}} r
                           WHERE r.import_id = :id AND r.action = 'create' GROUP BY 1 ORDER BY 2),
                  k AS MATERIALIZED (SELECT key, nextval(:ids) AS record_id
                                     FROM keys)
             UPDATE {{rows}} r SET record_id = k.record_id FROM k
             WHERE r.import_id = :id AND r.action = 'create' AND {RECORD} = k.key""",
         id=import_id, ids=table("ids"))
    {"activities": _activities, "deals": _deals, "orders": _orders, "contacts": _contacts}[kind](import_id, viewer)
    linked_events.tell(import_id, viewer, kind)
    _run(f"""INSERT INTO {{audit_log}} (at, actor_id, actor_name, action, entity, entity_id, summary, changes)
             SELECT now(), :actor, :actor_name, 'create', :entity, x.id, {summary},
                    jsonb_build_object('import', jsonb_build_array(NULL, :id))
             FROM {{{name}}} x
             WHERE x.id IN (SELECT record_id FROM {{rows}} WHERE import_id = :id AND action = 'create')
             ORDER BY x.id""",
         id=import_id, actor=viewer.id, actor_name=viewer.name, entity=entity)


def _owner() -> str:
    return f"coalesce({_value('owner_id')}::int, :viewer)"


def _created() -> str:
    return f"coalesce({_value('created_at')}::timestamptz, now())"


def _activities(import_id: int, viewer: Member) -> None:
    """Logged interactions and plans (a plan with the form's default reminder, planned by linked_events); the
    customers' last contact moves to the latest done one."""
    _run(f"""INSERT INTO {{activities}} (id, customer_id, owner_id, method, summary, due_at, remind_minutes, done_at,
                                        outcome, created_by, created_at)
             SELECT r.record_id, r.customer_id, {_owner()}, {_value('method')}, {_value('summary')},
                    {_value('due_at')}::timestamptz, CASE WHEN NOT r.data ? 'done_at' THEN :remind END,
                    {_value('done_at')}::timestamptz, {_value('outcome')}, :viewer,
                    coalesce({_value('created_at')}::timestamptz, {_value('done_at')}::timestamptz, now())
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create'""",
         id=import_id, viewer=viewer.id, remind=DEFAULT_REMINDER)
    _run("""UPDATE {customers} c SET last_contact_at = greatest(c.last_contact_at, d.done)
            FROM (SELECT customer_id, max((data ->> 'done_at')::timestamptz) AS done FROM {rows}
                  WHERE import_id = :id AND action = 'create' AND data ? 'done_at' GROUP BY customer_id) d
            WHERE c.id = d.customer_id""", id=import_id)


def _deals(import_id: int, viewer: Member) -> None:
    """Deals in their stage (status and probability the stage's; a closed one closed on its expected close date,
    else when created), each with its first stage history row."""
    closed = f"coalesce({_value('closed_at')}::timestamptz, {_created()})"
    _run(f"""INSERT INTO {{deals}} (id, title, customer_id, pipeline_id, stage_id, amount, currency, expected_close,
                                   owner_id, probability, probability_set, notes, custom, status, lost_reason,
                                   closed_at, created_at, updated_at)
             SELECT r.record_id, {_value('title')}, r.customer_id, s.pipeline_id, s.id,
                    coalesce({_value('amount')}::numeric, 0), :currency, {_value('expected_close')}::date,
                    {_owner()}, s.probability, false, {_value('notes')},
                    CAST(:defaults AS jsonb) || coalesce(r.data -> 'custom', '{{{{}}}}'), s.kind,
                    CASE WHEN s.kind = 'lost' THEN {_value('lost_reason')} END,
                    CASE WHEN s.kind <> 'open' THEN {closed} END, {_created()}, now()
             FROM {{rows}} r JOIN {{stages}} s ON s.id = {_value('stage_id')}::int
             WHERE r.import_id = :id AND r.action = 'create'""",
         id=import_id, viewer=viewer.id, currency=workspace_currency(), defaults=_defaults("deal"))
    _run(f"""INSERT INTO {{deal_stage_changes}} (deal_id, from_stage_id, to_stage_id, at, actor_id)
             SELECT r.record_id, NULL, {_value('stage_id')}::int, {_created()}, :viewer
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create'""", id=import_id, viewer=viewer.id)


def _orders(import_id: int, viewer: Member) -> None:
    """Orders of their rows' lines (the order's values from whichever line gives them; the number as its first
    line writes it), their first status row (when placed, by the importer), the customers' first order."""
    total, status = f"{_value('total')}::numeric", f"coalesce(min({_value('status')}), 'placed')"
    created = f"coalesce(min({_value('created_at')})::timestamptz, now())"
    _run(f"""WITH custom AS (SELECT r.record_id, jsonb_object_agg(e.key, e.value) AS custom
                             FROM {{rows}} r CROSS JOIN LATERAL jsonb_each(r.data -> 'custom') e
                             WHERE r.import_id = :id AND r.action = 'create' GROUP BY r.record_id)
             INSERT INTO {{orders}} (id, imported_number, customer_id, owner_id, status, currency, notes, custom,
                                    subtotal, discount_total, total, created_at, updated_at)
             SELECT r.record_id, (array_agg({_value('number')} ORDER BY r.line))[1], min(r.customer_id),
                    coalesce(min({_value('owner_id')}::int), :viewer), {status}, :currency, min({_value('notes')}),
                    CAST(:defaults AS jsonb) || coalesce(c.custom, '{{{{}}}}'), sum({total}), 0, sum({total}),
                    {created}, now()
             FROM {{rows}} r LEFT JOIN custom c ON c.record_id = r.record_id
             WHERE r.import_id = :id AND r.action = 'create' GROUP BY r.record_id, c.custom""",
         id=import_id, viewer=viewer.id, currency=workspace_currency(), defaults=_defaults("order"))
    _run(f"""INSERT INTO {{order_lines}} (order_id, position, product_id, description, unit, quantity, unit_price,
                                         discount, total)
             SELECT r.record_id, row_number() OVER (PARTITION BY r.record_id ORDER BY r.line),
                    {_value('product_id')}::int, {_value('description')}, {_value('unit')},
                    {_value('quantity')}::numeric, {_value('unit_price')}::numeric, 0, {total}
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create'""", id=import_id)
    _run(f"""INSERT INTO {{order_status_changes}} (order_id, from_status, to_status, at, actor_id, actor_name)
             SELECT r.record_id, NULL, {status}, {created}, :viewer, :name
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create' GROUP BY r.record_id""",
         id=import_id, viewer=viewer.id, name=viewer.name)
    refresh_first_orders(*_customers(import_id))


def _contacts(import_id: int, _viewer: Member) -> None:
    """Contacts as the contacts service adds them: one primary per customer, the row that says so (the one before
    stops being it; the row keeps its id for undo), else the customer's first when it has no primary yet."""
    _run("""SELECT id FROM {customers} WHERE id IN (SELECT customer_id FROM {rows} WHERE import_id = :id
                                                   AND action = 'create') ORDER BY id FOR UPDATE""", id=import_id)
    _run(f"""UPDATE {{rows}} r SET data = r.data || '{{{{"primary": true}}}}'
             FROM (SELECT line, row_number() OVER (PARTITION BY customer_id ORDER BY line) AS n,
                          bool_or({PRIMARY}) OVER (PARTITION BY customer_id) AS marked
                   FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create') f
             WHERE r.import_id = :id AND r.line = f.line AND f.n = 1 AND NOT f.marked
               AND NOT EXISTS (SELECT 1 FROM {{contacts}} c WHERE c.customer_id = r.customer_id AND c.is_primary)""",
         id=import_id)
    _run(f"""UPDATE {{rows}} r SET data = r.data || jsonb_build_object('replaced_primary', c.id)
             FROM {{contacts}} c
             WHERE r.import_id = :id AND r.action = 'create' AND {PRIMARY} AND c.customer_id = r.customer_id
               AND c.is_primary""", id=import_id)
    _run(f"""UPDATE {{contacts}} c SET is_primary = false, updated_at = now()
             WHERE c.is_primary AND c.customer_id IN (SELECT r.customer_id FROM {{rows}} r
                                                      WHERE r.import_id = :id AND r.action = 'create' AND {PRIMARY})""",
         id=import_id)
    _run(f"""INSERT INTO {{contacts}} (id, customer_id, name, title, mobile, phone, email, wechat, notes, is_primary,
                                      created_at, updated_at)
             SELECT r.record_id, r.customer_id, {_value('contact_name')}, {_value('title')}, {_value('mobile')},
                    {_value('contact_phone')}, {_value('contact_email')}, {_value('wechat')}, {_value('notes')},
                    {PRIMARY}, now(), now()
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create'""", id=import_id)


def _primaries_back(import_id: int, removed: list[int], customer_ids: list[int]) -> None:
    """Undo of contacts: a customer left without a primary gets back the one an import's contact took the part
    from, else its oldest contact (as removing a primary on the page)."""
    _run("""UPDATE {contacts} c SET is_primary = true, updated_at = now() FROM {rows} r
            WHERE r.import_id = :id AND r.action = 'create' AND r.record_id = ANY(:removed)
              AND c.id = (r.data ->> 'replaced_primary')::int
              AND NOT EXISTS (SELECT 1 FROM {contacts} p WHERE p.customer_id = c.customer_id AND p.is_primary)""",
         id=import_id, removed=removed)
    _run("""UPDATE {contacts} c SET is_primary = true, updated_at = now()
            WHERE c.id IN (SELECT min(o.id) FROM {contacts} o WHERE o.customer_id = ANY(:customers)
                           GROUP BY o.customer_id HAVING NOT bool_or(o.is_primary))""", customers=customer_ids)


def _customers(import_id: int) -> list[int]:
    return list(db.session.scalars(select(ImportRow.customer_id.distinct()).where(
        ImportRow.import_id == import_id, ImportRow.action == "create")))


def undo(import_id: int, kind: str, finished_at) -> dict[str, int]:
    """Remove the records the import added, except deals, orders and contacts changed since it finished (skipped)
    and follow-ups done since; returns the counts."""
    name, _entity, _summary = TABLES[kind]
    untouched = "x.done_at IS NOT DISTINCT FROM (r.data ->> 'done_at')::timestamptz" if kind == "activities" \
        else "x.updated_at <= :finished"
    gone = _run(f"""DELETE FROM {{{name}}} x USING {{rows}} r
                    WHERE r.import_id = :id AND r.action = 'create' AND x.id = r.record_id AND {untouched}
                    RETURNING x.id, x.customer_id""", id=import_id, finished=finished_at).all()
    linked_events.forget(import_id, kind, [record for record, _customer in gone])
    removed = [customer for _record, customer in gone]
    if kind == "activities":
        _run("""UPDATE {customers} c SET last_contact_at = (
                    SELECT max(a.done_at) FROM {activities} a WHERE a.customer_id = c.id)
                WHERE c.id = ANY(:ids) AND c.last_contact_at IS DISTINCT FROM (
                    SELECT max(a.done_at) FROM {activities} a WHERE a.customer_id = c.id)
                  AND c.last_contact_at IN (SELECT (data ->> 'done_at')::timestamptz FROM {rows}
                                            WHERE import_id = :id AND action = 'create')""",
             id=import_id, ids=sorted(set(removed)))
    elif kind == "orders" and removed:
        refresh_first_orders(*removed)
    elif kind == "contacts" and removed:
        _primaries_back(import_id, [record for record, _customer in gone], sorted(set(removed)))
        for records in ("deals", "orders", "tickets", "activities"):  # as delete_contact: none names it any more
            _run(f"UPDATE {{{records}}} SET contact_id = NULL WHERE contact_id = ANY(:removed)",
                 removed=[record for record, _customer in gone])
    added = _run("SELECT count(DISTINCT record_id) FROM {rows} WHERE import_id = :id AND action = 'create'",
                 id=import_id).scalar()
    return {"removed": len(removed), "skipped": added - len(removed)}
