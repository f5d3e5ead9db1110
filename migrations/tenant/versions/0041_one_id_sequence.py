"""One sequence numbers the tables of a tenant schema: `ids` replaces 34 of the 36 serial sequences (issue 19: each
was a relation in every schema's catalog). Orders and tickets keep theirs: their numbers (SO-000001, TK-000001)
are made from their ids and people expect them to count 1, 2, 3.

The new sequence starts past what any old one gave out, so no id is handed out twice in a table, even one whose
row was deleted (webhook receivers and API clients may have seen it). Each column's default moves to `ids` and its
old sequence is dropped. Written as one DO block that reads the catalog itself, so it is rendered once.

Revision ID: t0041
Revises: t0037
Create Date: 2026-12-05
"""
from alembic import op

from tenants.migrations import current_schema

revision = "t0041"
down_revision = "t0037"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read in Python: sent as one script

# Each sequence owned by a column of a table in schema `s` (a serial column), with that table and column.
OWNED = """
    SELECT t.relname AS tab, a.attname AS col, q.relname AS seq
      FROM pg_class q
      JOIN pg_namespace n ON n.oid = q.relnamespace
      JOIN pg_depend d ON d.objid = q.oid AND d.classid = CAST('pg_class' AS regclass) AND d.deptype = 'a'
                      AND d.refobjsubid > 0
      JOIN pg_class t ON t.oid = d.refobjid
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
     WHERE n.nspname = s AND q.relkind = 'S' AND t.relname NOT IN ('orders', 'tickets')"""
# Each table column whose default draws from `ids` (downgrade).
DRAWING = """
    SELECT t.relname AS tab, a.attname AS col
      FROM pg_attrdef ad
      JOIN pg_depend d ON d.classid = CAST('pg_attrdef' AS regclass) AND d.objid = ad.oid
                      AND d.refobjid = CAST(quote_ident(s) || '.ids' AS regclass)
      JOIN pg_class t ON t.oid = ad.adrelid
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ad.adnum"""


def upgrade():
    op.execute(f"""DO $$
DECLARE
  s text := '{current_schema()}';
  top bigint := 0;
  given bigint;
  r record;
BEGIN
  EXECUTE 'CREATE SEQUENCE ' || quote_ident(s) || '.ids';
  FOR r IN {OWNED} LOOP
    EXECUTE 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM '
            || quote_ident(s) || '.' || quote_ident(r.seq) INTO given;
    top := greatest(top, given);
    EXECUTE 'ALTER TABLE ' || quote_ident(s) || '.' || quote_ident(r.tab) || ' ALTER COLUMN ' || quote_ident(r.col)
            || ' SET DEFAULT nextval(' || quote_literal(quote_ident(s) || '.ids') || ')';
    EXECUTE 'DROP SEQUENCE ' || quote_ident(s) || '.' || quote_ident(r.seq);
  END LOOP;
  IF top > 0 THEN
    PERFORM setval(quote_ident(s) || '.ids', top);
  END IF;
END $$""")


def downgrade():
    op.execute(f"""DO $$
DECLARE
  s text := '{current_schema()}';
  given bigint;
  r record;
BEGIN
  EXECUTE 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ' || quote_ident(s) || '.ids' INTO given;
  FOR r IN {DRAWING} LOOP
    EXECUTE 'CREATE SEQUENCE ' || quote_ident(s) || '.' || quote_ident(r.tab || '_' || r.col || '_seq')
            || ' OWNED BY ' || quote_ident(s) || '.' || quote_ident(r.tab) || '.' || quote_ident(r.col);
    IF given > 0 THEN
      PERFORM setval(quote_ident(s) || '.' || quote_ident(r.tab || '_' || r.col || '_seq'), given);
    END IF;
    EXECUTE 'ALTER TABLE ' || quote_ident(s) || '.' || quote_ident(r.tab) || ' ALTER COLUMN ' || quote_ident(r.col)
            || ' SET DEFAULT nextval(' || quote_literal(quote_ident(s) || '.' || quote_ident(r.tab || '_' || r.col
            || '_seq')) || ')';
  END LOOP;
  EXECUTE 'DROP SEQUENCE ' || quote_ident(s) || '.ids';
END $$""")
