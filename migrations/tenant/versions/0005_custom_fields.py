"""Custom field definitions; customers' encrypted custom values; a GIN index for custom field filters.

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "custom_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("label_en", sa.String(80), nullable=False),
        sa.Column("label_zh", sa.String(80), nullable=False),
        sa.Column("help_en", sa.String(200), nullable=False),
        sa.Column("help_zh", sa.String(200), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("default", sa.String(200), nullable=False),
        sa.Column("options", postgresql.JSONB(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("in_list", sa.Boolean(), nullable=False),
        sa.Column("filterable", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_custom_fields"),
        sa.UniqueConstraint("entity", "key", name="uq_custom_fields_entity"),
        schema=schema,
    )
    op.add_column("customers", sa.Column("custom_sensitive", postgresql.JSONB(),
                                         server_default=sa.text("'{}'::jsonb"), nullable=False), schema=schema)
    op.create_index("ix_customers_custom", "customers", ["custom"], schema=schema, postgresql_using="gin",
                    postgresql_ops={"custom": "jsonb_path_ops"})


def downgrade():
    schema = current_schema()
    op.drop_index("ix_customers_custom", "customers", schema=schema)
    op.drop_column("customers", "custom_sensitive", schema=schema)
    op.drop_table("custom_fields", schema=schema)
