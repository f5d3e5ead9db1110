"""Customer search by grams: a generated text[] of unigrams and bigrams with a GIN index, replacing pg_trgm;
phones enter the search text without "+" and without +86.

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None

SEARCH = ("lower(coalesce(name, '') || ' ' || regexp_replace(coalesce(phone, ''), '^[+](86)?', '') || ' ' "
          "|| coalesce(email, '') || ' ' || coalesce(company, ''))")


def upgrade():
    schema = current_schema()
    op.drop_index("ix_customers_search_text", "customers", schema=schema)
    op.drop_column("customers", "search_text", schema=schema)
    op.add_column("customers", sa.Column("search_text", sa.String(), sa.Computed(SEARCH, persisted=True),
                                         nullable=False), schema=schema)
    op.add_column("customers", sa.Column("search_grams", postgresql.ARRAY(sa.Text()),
                                         sa.Computed(f"public.crm_grams({SEARCH})", persisted=True),
                                         nullable=False), schema=schema)
    op.create_index("ix_customers_search_grams", "customers", ["search_grams"], schema=schema,
                    postgresql_using="gin", postgresql_with={"fastupdate": "off"})


def downgrade():
    schema = current_schema()
    op.drop_index("ix_customers_search_grams", "customers", schema=schema)
    op.drop_column("customers", "search_grams", schema=schema)
    op.create_index("ix_customers_search_text", "customers", ["search_text"], schema=schema,
                    postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"})
