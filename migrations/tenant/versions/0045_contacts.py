"""Contacts: the people of a customer (name, title, mobile and office phone, email, WeChat id, notes, one primary,
their own marketing opt-out), searched by grams like customers.

Four relations more per schema (the table, its key, the customer index, the search index); the storage keys'
unique constraints of files and export archives go (no query reads by key, and keys are 128 random bits:
docs/tenant-indexes.md), so the schema grows by two.

Revision ID: t0045
Revises: t0044
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0045"
down_revision = "t0044"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)

SEARCH = ("lower(coalesce(name, '') || ' ' || regexp_replace(coalesce(mobile, ''), '^[+](86)?', '') || ' ' "
          "|| regexp_replace(coalesce(phone, ''), '^[+](86)?', '') || ' ' || coalesce(email, '') || ' ' "
          "|| coalesce(wechat, ''))")
GRAMS = (f"array_remove(string_to_array(regexp_replace({SEARCH}, '(.)', '\\1 \\1', 'g'), ' ') "
         f"|| string_to_array(regexp_replace({SEARCH}, '[[:ascii:]]+', '', 'g'), NULL), '')")
STORAGE_KEYS = {"uq_attachments_storage_key": "attachments", "uq_workspace_exports_storage_key": "workspace_exports"}


def upgrade():
    schema = current_schema()
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, server_default=sa.text(f"nextval('{schema}.ids')"), nullable=False),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("title", sa.String(80), nullable=True),
        sa.Column("mobile", sa.String(20), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("wechat", sa.String(40), nullable=True),
        sa.Column("notes", sa.String, nullable=True),
        sa.Column("is_primary", sa.Boolean, nullable=False),
        sa.Column("marketing_opt_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.String, sa.Computed(SEARCH, persisted=True), nullable=False),
        sa.Column("search_grams", postgresql.ARRAY(sa.Text()), sa.Computed(GRAMS, persisted=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.ForeignKeyConstraint(["customer_id"], [f"{schema}.customers.id"], ondelete="CASCADE",
                                name="fk_contacts_customer_id_customers"),
        schema=schema)
    op.create_index("ix_contacts_customer", "contacts", ["customer_id"], schema=schema)
    op.create_index("ix_contacts_search_grams", "contacts", ["search_grams"], schema=schema, postgresql_using="gin",
                    postgresql_with={"fastupdate": "off"})
    for name, table in STORAGE_KEYS.items():
        op.drop_constraint(name, table, type_="unique", schema=schema)


def downgrade():
    schema = current_schema()
    for name, table in STORAGE_KEYS.items():
        op.create_unique_constraint(name, table, ["storage_key"], schema=schema)
    op.drop_table("contacts", schema=schema)
