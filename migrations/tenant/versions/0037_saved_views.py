"""Saved views of the lists and each member's default view; search grams of the deal titles.

The deals get a stored generated column `title_grams` (the customers' built-in grams expression over the
lower-cased title) in a GIN index, so the global search's "title contains" no longer reads every deal. Adding it
rewrites the deals table and its indexes once (at 50,000 deals, about a second).

Revision ID: t0037
Revises: t0038
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0037"
down_revision = "t0038"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)

TITLE = "lower(title)"
TITLE_GRAMS = (f"array_remove(string_to_array(regexp_replace({TITLE}, '(.)', '\\1 \\1', 'g'), ' ') "
               f"|| string_to_array(regexp_replace({TITLE}, '[[:ascii:]]+', '', 'g'), NULL), '')")


def upgrade():
    schema = current_schema()
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("list", sa.String(20), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("query", postgresql.JSONB, nullable=False),
        sa.Column("names", postgresql.JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_saved_views"),
        sa.ForeignKeyConstraint(["owner_id"], [f"{schema}.members.id"], ondelete="CASCADE",
                                name="fk_saved_views_owner_id_members"),
        schema=schema)
    op.create_index("ix_saved_views_list_owner", "saved_views", ["list", "owner_id"], schema=schema)
    op.create_table(
        "saved_view_defaults",
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("list", sa.String(20), nullable=False),
        sa.Column("view_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("member_id", "list", name="pk_saved_view_defaults"),
        sa.ForeignKeyConstraint(["member_id"], [f"{schema}.members.id"], ondelete="CASCADE",
                                name="fk_saved_view_defaults_member_id_members"),
        sa.ForeignKeyConstraint(["view_id"], [f"{schema}.saved_views.id"], ondelete="CASCADE",
                                name="fk_saved_view_defaults_view_id_saved_views"),
        schema=schema)
    op.create_index("ix_tenant_saved_view_defaults_view_id", "saved_view_defaults", ["view_id"], schema=schema)
    op.add_column("deals", sa.Column("title_grams", postgresql.ARRAY(sa.Text()),
                                     sa.Computed(TITLE_GRAMS, persisted=True), nullable=False), schema=schema)
    op.create_index("ix_deals_title_grams", "deals", ["title_grams"], schema=schema, postgresql_using="gin",
                    postgresql_with={"fastupdate": "off"})


def downgrade():
    schema = current_schema()
    op.drop_index("ix_deals_title_grams", "deals", schema=schema)
    op.drop_column("deals", "title_grams", schema=schema)
    op.drop_table("saved_view_defaults", schema=schema)
    op.drop_table("saved_views", schema=schema)
