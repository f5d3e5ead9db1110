"""public.crm_grams(): the unigrams (non-ASCII) and bigrams of a text, for indexed substring search.

pg_trgm needs three characters and, under the C locale, ignores Chinese; a customer search for one or
two Chinese characters must still use an index.

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-24
"""
from alembic import op

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None

GRAMS = r"""
CREATE OR REPLACE FUNCTION public.crm_grams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT gram), '{}')
  FROM (
    SELECT substr(value, i, 1) AS gram FROM generate_series(1, length(value)) AS i
     WHERE ascii(substr(value, i, 1)) > 127
    UNION ALL
    SELECT substr(value, i, 2) FROM generate_series(1, length(value) - 1) AS i
     WHERE substr(value, i, 2) !~ '\s'
  ) AS grams
$$
"""


def upgrade():
    op.execute(GRAMS)


def downgrade():
    op.execute("DROP FUNCTION public.crm_grams(text)")
