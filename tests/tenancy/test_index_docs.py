"""docs/tenant-indexes.md lists every unique constraint and secondary index of a tenant schema, and nothing else:
an index added without saying which query it serves, or dropped without taking its row out, fails here."""
import re
from pathlib import Path

from sqlalchemy import text

from crm.extensions import db

PAGE = Path(__file__).resolve().parents[2] / "docs" / "tenant-indexes.md"
# Primary keys are not listed one by one (the page says each table has one).
SCHEMA_INDEXES = """
select indexname from pg_indexes
 where schemaname = :s and indexname not like 'pk\\_%' and indexname <> 'alembic_version_pkc'
"""


def documented_indexes(markdown: str) -> set[str]:
    """The names in the first cell of every table row (header and separator rows aside)."""
    names = set()
    for line in markdown.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        first = line.split("|")[1]
        names.update(re.findall(r"`([a-z0-9_]+)`", first))
    return names


def test_the_index_page_lists_exactly_the_schema_indexes(app, acme):
    with app.app_context():
        in_schema = set(db.session.scalars(text(SCHEMA_INDEXES), {"s": f"t_{acme.id}"}))

    on_page = documented_indexes(PAGE.read_text(encoding="utf-8"))

    missing, stale = sorted(in_schema - on_page), sorted(on_page - in_schema)
    assert not missing and not stale, (
        f"docs/tenant-indexes.md is out of step with the tenant schema. Missing (say which query each serves): "
        f"{missing or 'none'}. Stale (no longer in the schema): {stale or 'none'}.")
