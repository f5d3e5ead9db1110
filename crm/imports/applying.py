"""The set-based passes over an import's staged rows: match them to customers, find the file's duplicates,
decide each row's action within the importer's scope, count, apply (insert, update, tag) and undo.

Hand-written SQL names the tenant's schema itself (staging.table): schema_translate_map rewrites only
SQLAlchemy's own tables."""
from contextlib import contextmanager

from flask_babel import gettext as _
from sqlalchemy import select, text, update

from crm.billing.service import limit_message, room_for
from crm.customers.models import Customer
from crm.customers.writes import live_customers
from crm.extensions import db
from crm.fields import definitions
from crm.imports.cleaning import MATCH_SEPARATOR
from crm.imports.mapping import field_label
from crm.imports.models import ImportRow
from crm.imports.staging import table
from crm.members.access import members_in_reach, scoped
from crm.members.models import Member
from crm.webhooks import events as webhooks

MATCH_COLUMNS = {"phone": "phone", "email": "email", "id_number": "id_number_idx", "external_id": "external_id",
                 "name_company": f"lower(name) || chr({ord(MATCH_SEPARATOR)}) || lower(coalesce(company, ''))"}
TEXT_COLUMNS = ("kind", "name", "phone", "email", "company", "title", "source", "level", "stage", "notes",
                "country", "region", "city", "district", "postcode", "street", "external_id", "preferred_channel", "id_number_enc", "id_number_idx", "bank_account_enc",
                "bank_account_idx")
# What an undo puts back from the before-image: every column an import may write.
RESTORED = TEXT_COLUMNS + ("owner_id", "custom", "custom_sensitive", "tag_ids", "owned_since", "pooled_at",
                           "pool_reason")
# Keys of a row's data that are not a column compared as it is (unchanged rows).
# The customers' GIN indexes (migrations t0004, t0006: fastupdate off) and how many written rows make an import
# big enough to feed them in bulk (see _gin_in_bulk).
GIN_INDEXES = ("ix_customers_search_grams", "ix_customers_tag_ids")
GIN_BULK_ROWS = 5000
GIN_PENDING_KB = 1024 * 1024
NOT_COMPARED = ("custom", "custom_sensitive", "tag_ids", "new_tags", "created_at", "id_number_enc", "bank_account_enc")


def _run(sql: str, **params):
    return db.session.execute(text(sql.format(rows=table("import_rows"), customers=table("customers"),
                                              tags=table("tags"), customer_tags=table("customer_tags"))), params)


def _error(import_id: int, where: str, reason: str, **params) -> None:
    """Turn the rows matching `where` into errors with `reason`."""
    _run(f"UPDATE {{rows}} r SET action = 'error', reason = :reason WHERE r.import_id = :id AND {where}",
         id=import_id, reason=reason, **params)


def decide(import_id: int, viewer: Member, options: dict) -> dict[str, int]:
    """Match, find duplicates, decide each row's action; returns the counts. Writes only `import_rows`."""
    _match(import_id, options["match_on"])
    _duplicates(import_id, options["duplicates"])
    _mode(import_id, options["mode"])
    _required(import_id)
    _scope(import_id, viewer)
    _unchanged(import_id)
    _past_the_plan(import_id)
    return counts(import_id)


def _match(import_id: int, match_on: str) -> None:
    """Each row's customer by its match key; a key that several live customers share is an error."""
    key = MATCH_COLUMNS[match_on]
    _run(f"""UPDATE {{rows}} r SET customer_id = m.id,
                    action = CASE WHEN m.n > 1 THEN 'error' END, reason = CASE WHEN m.n > 1 THEN :several END
             FROM (SELECT {key} AS key, min(id) AS id, count(*) AS n FROM {{customers}}
                   WHERE deleted_at IS NULL AND {key} IN (SELECT match_key FROM {{rows}} WHERE import_id = :id)
                   GROUP BY 1) m
             WHERE r.import_id = :id AND r.action IS NULL AND r.match_key = m.key""",
         id=import_id, several=_("%(field)s matches more than one customer.", field=field_label(
             "name" if match_on == "name_company" else match_on)))


def _duplicates(import_id: int, how: str) -> None:
    """Rows of the file with the same match key: the first keeps (merged with the later ones' non-empty values,
    later ones winning) and the others are duplicates, or the later ones are skipped. The custom parts are
    joined to their rows' groups, not looked up per group (a subquery per group scanned the staged rows again:
    minutes for a million rows)."""
    if how == "merge":
        _run("""WITH grouped AS (SELECT match_key, min(line) AS keeper FROM {rows}
                                 WHERE import_id = :id AND action IS NULL AND match_key IS NOT NULL
                                 GROUP BY match_key HAVING count(*) > 1),
                 top AS (SELECT r.match_key, jsonb_object_agg(e.key, e.value ORDER BY r.line) AS data
                         FROM {rows} r JOIN grouped USING (match_key) CROSS JOIN LATERAL jsonb_each(r.data) e
                         WHERE r.import_id = :id AND r.action IS NULL GROUP BY r.match_key),
                 nested AS (SELECT r.match_key, p.part, jsonb_object_agg(e.key, e.value ORDER BY r.line) AS data
                            FROM {rows} r JOIN grouped USING (match_key)
                            CROSS JOIN (VALUES ('custom'), ('custom_sensitive')) p(part)
                            CROSS JOIN LATERAL jsonb_each(coalesce(r.data -> p.part, '{{}}')) e
                            WHERE r.import_id = :id AND r.action IS NULL GROUP BY r.match_key, p.part),
                 parts AS (SELECT match_key, jsonb_object_agg(part, data) AS data FROM nested GROUP BY match_key),
                 merged AS (SELECT top.match_key, top.data || coalesce(parts.data, '{{}}') AS data
                            FROM top LEFT JOIN parts USING (match_key))
             UPDATE {rows} r SET data = merged.data FROM merged JOIN grouped USING (match_key)
             WHERE r.import_id = :id AND r.line = grouped.keeper""", id=import_id)
    _run("""UPDATE {rows} r SET action = 'duplicate', reason = replace(:reason, '#LINE#', d.keeper::text)
            FROM (SELECT line, min(line) OVER (PARTITION BY match_key) AS keeper FROM {rows}
                  WHERE import_id = :id AND action IS NULL AND match_key IS NOT NULL) d
            WHERE r.import_id = :id AND r.line = d.line AND d.line <> d.keeper""", id=import_id,
         reason=_("Merged into line %(line)s.", line="#LINE#") if how == "merge"
         else _("Skipped: the same customer as line %(line)s.", line="#LINE#"))


def _mode(import_id: int, mode: str) -> None:
    create = "'create'" if mode != "update" else "'error'"
    update_ = "'update'" if mode != "create" else "'unchanged'"
    _run(f"""UPDATE {{rows}} SET action = CASE WHEN customer_id IS NULL THEN {create} ELSE {update_} END,
                    reason = CASE WHEN customer_id IS NULL AND :mode = 'update' THEN :no_match
                                  WHEN customer_id IS NOT NULL AND :mode = 'create' THEN :exists END
             WHERE import_id = :id AND action IS NULL""", id=import_id, mode=mode,
         no_match=_("No customer matches this row (update only)."),
         exists=_("Already a customer: left as it is (create only)."))


def _required(import_id: int) -> None:
    """New customers need a name, and the fields this workspace made required."""
    _error(import_id, "r.action = 'create' AND NOT r.data ? 'name'", f"{field_label('name')}: {_('Name is required.')}")
    required = [name for name, rule in definitions.builtin_rules().items() if rule.get("required")]
    for name in required:
        _error(import_id, "r.action = 'create' AND NOT r.data ? :key",
               f"{field_label(name)}: {_('This field is required.')}", key=name)
    for field in definitions.fields("customer"):
        if field.required and not field.default:
            part = "custom_sensitive" if field.sensitive else "custom"
            _error(import_id, f"r.action = 'create' AND NOT coalesce(r.data -> '{part}', '{{{{}}}}') ? :key",
                   f"{field.label()}: {_('This field is required.')}", key=field.key)


def _scope(import_id: int, viewer: Member) -> None:
    """Updates only of customers the importer may edit; owners only among the members the importer reaches."""
    if viewer.role.scope("customers", "edit") != "all":
        editable = scoped(select(Customer.id), viewer, "customers", "edit", Customer)
        db.session.execute(update(ImportRow).where(ImportRow.import_id == import_id, ImportRow.action == "update",
                                                   ImportRow.customer_id.not_in(editable))
                           .values(action="error", reason=_("You may not edit this customer.")))
    for action in ("create", "edit"):
        if viewer.role.scope("customers", action) == "all":
            continue
        reach = [m.id for m in members_in_reach(viewer, "customers", action)]
        row_action = "create" if action == "create" else "update"
        _error(import_id, "r.action = :act AND r.data ? 'owner_id' AND NOT (r.data ->> 'owner_id')::int = ANY(:reach)",
               f"{field_label('owner')}: {_('You can only give customers to members of your own team.')}",
               act=row_action, reach=reach)
    if not viewer.can("customers", "create"):
        _error(import_id, "r.action = 'create'", _("You may not add customers."))


def _unchanged(import_id: int) -> None:
    """Matched rows that would change nothing."""
    skipped = " - ".join(f"'{key}'" for key in NOT_COMPARED)
    _run(f"""UPDATE {{rows}} r SET action = 'unchanged' FROM {{customers}} c
             WHERE r.import_id = :id AND r.action = 'update' AND c.id = r.customer_id
               AND NOT EXISTS (SELECT 1 FROM jsonb_each(r.data - {skipped}) e
                               WHERE to_jsonb(c) -> e.key IS DISTINCT FROM e.value)
               AND c.custom @> coalesce(r.data -> 'custom', '{{{{}}}}')
               AND NOT r.data ? 'custom_sensitive' AND NOT r.data ? 'new_tags'
               AND c.tag_ids @> ARRAY(SELECT jsonb_array_elements_text(coalesce(r.data -> 'tag_ids', '[]'))::int)""",
         id=import_id)


def _past_the_plan(import_id: int) -> None:
    """New customers past the plan's customer limit become errors, by line: the check and the result say how many
    fit, and no more are imported."""
    room = room_for("customers", live_customers)
    if room is None:
        return
    _run("""UPDATE {rows} r SET action = 'error', reason = :reason
            WHERE r.import_id = :id AND r.action = 'create' AND r.line IN (
                SELECT line FROM {rows} WHERE import_id = :id AND action = 'create' ORDER BY line OFFSET :room)""",
         id=import_id, room=room, reason=limit_message("customers"))


def counts(import_id: int) -> dict[str, int]:
    found = dict(_run("SELECT action, count(*) FROM {rows} WHERE import_id = :id GROUP BY action", id=import_id).all())
    return {action: found.get(action, 0) for action in ("create", "update", "unchanged", "error", "duplicate")}


def apply(import_id: int, viewer: Member, options: dict, pool_reason: str) -> None:
    """Write the decided rows to customers: new tags, new customers (ids drawn first, so each row knows its
    customer), before-images, updates, tags on customers. Set-based: a handful of statements for any size."""
    _create_tags(import_id)
    _prepare(import_id)
    found = counts(import_id)
    with _gin_in_bulk(found["create"] + found["update"] >= GIN_BULK_ROWS):
        _insert(import_id, viewer, options, pool_reason)
        _update(import_id)
    _run("""INSERT INTO {customer_tags} (customer_id, tag_id)
            SELECT r.customer_id, t::int FROM {rows} r,
                   jsonb_array_elements_text(coalesce(r.data -> 'tag_ids', '[]')) t
            WHERE r.import_id = :id AND r.action IN ('create', 'update') ON CONFLICT DO NOTHING""", id=import_id)
    _emit_webhooks(import_id)


def _emit_webhooks(import_id: int) -> None:
    """customer.created / customer.updated per row, as the form would send them, when a webhook subscription wants
    them: an ERP mirroring customers must hear of imported ones too. Nobody subscribed (the usual case) costs one
    small query, so the import's speed stays as measured."""
    for action in ("create", "update"):
        type_ = f"customer.{action}d"
        if webhooks.wanted(type_):
            ids = _run("SELECT customer_id FROM {rows} WHERE import_id = :id AND action = :action",
                       id=import_id, action=action).scalars()
            webhooks.emit_many(type_, Customer, ids)


@contextmanager
def _gin_in_bulk(bulk: bool):
    """For a big import, the GIN indexes collect the written rows' keys in their pending list and merge them
    once at the end (gin_clean_pending_list), in the same transaction: the search grams are ~50 keys a customer,
    and inserted one by one they are about half the time of the writes. The indexes are back to fastupdate off
    before the commit (a rollback undoes it all). ALTER INDEX takes the index's ACCESS EXCLUSIVE lock, so this
    workspace's customer queries wait for the import's commit: hence big imports only."""
    if not bulk:
        yield
        return
    for index in GIN_INDEXES:
        _run(f"ALTER INDEX {table(index)} SET (fastupdate = on, gin_pending_list_limit = {GIN_PENDING_KB})")
    yield
    for index in GIN_INDEXES:
        _run("SELECT gin_clean_pending_list(CAST(:index AS regclass))", index=table(index))
        _run(f"ALTER INDEX {table(index)} SET (fastupdate = off)")
        _run(f"ALTER INDEX {table(index)} RESET (gin_pending_list_limit)")


def _create_tags(import_id: int) -> None:
    """Tags the file names that do not exist yet are created (`_prepare` then turns the names into ids)."""
    _run("""INSERT INTO {tags} (name, color)
            SELECT DISTINCT ON (lower(t)) t, 'blue' FROM {rows} r, jsonb_array_elements_text(r.data -> 'new_tags') t
            WHERE r.import_id = :id AND r.action IN ('create', 'update') AND r.data ? 'new_tags'
              AND NOT EXISTS (SELECT 1 FROM {tags} x WHERE lower(x.name) = lower(t))
            ORDER BY lower(t), t ON CONFLICT DO NOTHING""", id=import_id)


def _prepare(import_id: int) -> None:
    """One pass over the rows to write, before any customer changes: a new customer's id drawn (so each row knows
    its customer), new tag names turned into ids (resolved once per distinct set of names, not per row), an updated
    customer's before-image (for undo). Each pass over the staged rows rewrites them with their index entries:
    these were three passes (profiled at 100,000 rows: 10 + 17 + 12 s under load)."""
    _run("""WITH named AS MATERIALIZED (
                SELECT n.names, jsonb_agg(DISTINCT x.id) AS ids
                FROM (SELECT DISTINCT r.data -> 'new_tags' AS names FROM {rows} r
                      WHERE r.import_id = :id AND r.action IN ('create', 'update') AND r.data ? 'new_tags') n
                     CROSS JOIN LATERAL jsonb_array_elements_text(n.names) t
                     JOIN {tags} x ON lower(x.name) = lower(t)
                GROUP BY n.names)
            UPDATE {rows} r SET
                customer_id = CASE WHEN r.action = 'create' THEN nextval(:ids)
                                   ELSE r.customer_id END,
                data = CASE WHEN NOT r.data ? 'new_tags' THEN r.data
                            ELSE (r.data - 'new_tags') || jsonb_build_object('tag_ids', (
                                SELECT jsonb_agg(DISTINCT id) FROM (
                                    SELECT t::int AS id
                                    FROM jsonb_array_elements_text(coalesce(r.data -> 'tag_ids', '[]')) t
                                    UNION SELECT t::int FROM jsonb_array_elements_text(coalesce(s.ids, '[]')) t) ids))
                       END,
                before = s.before
            FROM (SELECT r.line, n.ids, to_jsonb(c) - 'search_text' - 'search_grams' AS before
                  FROM {rows} r LEFT JOIN named n ON n.names = r.data -> 'new_tags'
                       LEFT JOIN {customers} c ON r.action = 'update' AND c.id = r.customer_id
                  WHERE r.import_id = :id AND r.action IN ('create', 'update')) s
            WHERE r.import_id = :id AND r.line = s.line""", id=import_id, ids=table("ids"))


def _value(column: str) -> str:
    return f"(r.data ->> '{column}')"


def _insert(import_id: int, viewer: Member, options: dict, pool_reason: str) -> None:
    owner = "NULL::int" if options["into_pool"] else f"coalesce({_value('owner_id')}::int, :viewer)"
    texts = ", ".join(TEXT_COLUMNS)
    values = ", ".join(f"coalesce({_value(c)}, {default})" if (default := {"kind": "'person'", "stage": "'lead'",
                                                                            "preferred_channel": "'sms'"}.get(c))
                       else _value(c) for c in TEXT_COLUMNS)
    _run(f"""INSERT INTO {{customers}} (id, {texts}, owner_id, custom, custom_sensitive, tag_ids, created_at,
                                         updated_at, owned_since, pooled_at, pool_reason)
             SELECT r.customer_id, {values}, {owner}, coalesce(r.data -> 'custom', '{{{{}}}}'),
                    coalesce(r.data -> 'custom_sensitive', '{{{{}}}}'),
                    ARRAY(SELECT jsonb_array_elements_text(coalesce(r.data -> 'tag_ids', '[]'))::int),
                    coalesce({_value('created_at')}::timestamptz, now()), now(),
                    CASE WHEN {owner} IS NOT NULL THEN now() END, CASE WHEN {owner} IS NULL THEN now() END,
                    CASE WHEN {owner} IS NULL THEN :reason END
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'create'""",
         id=import_id, viewer=viewer.id, reason=pool_reason)


def _update(import_id: int) -> None:
    """Each matched customer gets the row's non-empty values; custom values merged, tags added."""
    sets = ",\n".join(f"{c} = CASE WHEN r.data ? '{c}' THEN {_value(c)} ELSE c.{c} END" for c in TEXT_COLUMNS)
    _run(f"""UPDATE {{customers}} c SET {sets},
                 owner_id = CASE WHEN r.data ? 'owner_id' THEN {_value('owner_id')}::int ELSE c.owner_id END,
                 owned_since = CASE WHEN r.data ? 'owner_id' AND {_value('owner_id')}::int IS DISTINCT FROM c.owner_id
                                    THEN now() ELSE c.owned_since END,
                 custom = c.custom || coalesce(r.data -> 'custom', '{{{{}}}}'),
                 custom_sensitive = c.custom_sensitive || coalesce(r.data -> 'custom_sensitive', '{{{{}}}}'),
                 tag_ids = ARRAY(SELECT DISTINCT x FROM unnest(c.tag_ids || ARRAY(SELECT jsonb_array_elements_text(
                     coalesce(r.data -> 'tag_ids', '[]'))::int)) x ORDER BY x),
                 updated_at = now()
             FROM {{rows}} r WHERE r.import_id = :id AND r.action = 'update' AND c.id = r.customer_id""",
         id=import_id)


def undo(import_id: int, finished_at) -> dict[str, int]:
    """Created customers to the trash and updated ones back to their before-images, except those changed
    since the import finished (skipped). Returns the counts."""
    trashed = _run("""UPDATE {customers} c SET deleted_at = now() FROM {rows} r
                      WHERE r.import_id = :id AND r.action = 'create' AND c.id = r.customer_id
                        AND c.deleted_at IS NULL AND c.updated_at <= :finished RETURNING c.id""",
                   id=import_id, finished=finished_at).scalars().all()
    columns = ", ".join(RESTORED)
    restored = _run(f"""UPDATE {{customers}} c SET ({columns}, updated_at) = (SELECT {columns}, now()
                            FROM jsonb_populate_record(NULL::{{customers}}, r.before))
                        FROM {{rows}} r
                        WHERE r.import_id = :id AND r.action = 'update' AND c.id = r.customer_id
                          AND c.updated_at <= :finished RETURNING c.id""",
                    id=import_id, finished=finished_at).scalars().all()
    _run("""DELETE FROM {customer_tags} ct USING {customers} c
            WHERE ct.customer_id = c.id AND c.id = ANY(:ids) AND NOT ct.tag_id = ANY(c.tag_ids)""", ids=restored)
    applied = sum(counts(import_id)[action] for action in ("create", "update"))
    return {"trashed": len(trashed), "restored": len(restored), "skipped": applied - len(trashed) - len(restored)}
