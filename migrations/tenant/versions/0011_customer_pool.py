"""The customer pool: claim limits and recycle rules.

Revision ID: t0011
Revises: t0010
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    for name in ("owned_since", "pooled_at", "recycle_warned_at"):
        op.add_column("customers", sa.Column(name, sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.add_column("customers", sa.Column("pool_reason", sa.String(200), nullable=True), schema=schema)
    # Owners so far count from the customer's creation; customers already without an owner entered the pool
    # when they were last changed.
    op.execute(f'UPDATE "{schema}".customers SET owned_since = created_at WHERE owner_id IS NOT NULL')
    op.execute(f'UPDATE "{schema}".customers SET pooled_at = updated_at WHERE owner_id IS NULL')
    op.create_index("ix_customers_pool", "customers", [sa.text("pooled_at DESC NULLS LAST"), sa.text("id DESC")],
                    schema=schema, postgresql_where=sa.text("owner_id IS NULL AND deleted_at IS NULL"))
    op.add_column("roles", sa.Column("pool_limit", sa.Integer(), nullable=True), schema=schema)
    op.execute(f"UPDATE \"{schema}\".roles SET pool_limit = 200 WHERE key = 'sales_rep'")
    op.create_table(
        "recycle_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("warn_days_before", sa.Integer(), nullable=False),
        sa.Column("levels", postgresql.ARRAY(sa.String(1)), nullable=False),
        sa.Column("tag_ids", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("notify_manager", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recycle_rules"),
        sa.UniqueConstraint("name", name="uq_recycle_rules_name"),
        schema=schema,
    )


def downgrade():
    schema = current_schema()
    op.drop_table("recycle_rules", schema=schema)
    op.drop_column("roles", "pool_limit", schema=schema)
    op.drop_index("ix_customers_pool", "customers", schema=schema)
    for name in ("owned_since", "pooled_at", "recycle_warned_at", "pool_reason"):
        op.drop_column("customers", name, schema=schema)
