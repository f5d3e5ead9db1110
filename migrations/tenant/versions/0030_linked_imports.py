"""Imports of follow-ups, deals and orders linked to customers: the record each staged row created, and an
order number kept from the file (orders.number takes it when given, else is made from the id as before).

Revision ID: t0030
Revises: t0028
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0030"
down_revision = "t0028"
branch_labels = None
depends_on = None

MADE = "'SO-' || lpad(id::text, greatest(6, length(id::text)), '0')"


def _number(schema: str, expression: str) -> None:
    """A generated column's expression cannot be changed before PostgreSQL 17: the column is made again (its
    values are computed again from the same ids, so every existing number stays)."""
    op.drop_constraint("uq_orders_number", "orders", schema=schema)
    op.drop_column("orders", "number", schema=schema)
    op.add_column("orders", sa.Column("number", sa.String(20), sa.Computed(expression, persisted=True),
                                      nullable=False), schema=schema)
    op.create_unique_constraint("uq_orders_number", "orders", ["number"], schema=schema)


def upgrade():
    schema = current_schema()
    op.add_column("import_rows", sa.Column("record_id", sa.Integer, nullable=True), schema=schema)
    op.add_column("orders", sa.Column("imported_number", sa.String(20), nullable=True), schema=schema)
    _number(schema, f"coalesce(imported_number, {MADE})")


def downgrade():
    schema = current_schema()
    _number(schema, MADE)
    op.drop_column("orders", "imported_number", schema=schema)
    op.drop_column("import_rows", "record_id", schema=schema)
