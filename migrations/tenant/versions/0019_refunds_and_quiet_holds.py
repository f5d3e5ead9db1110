"""The amount of a refund (on the order and on the move that made it), and which messages quiet hours hold.

Revision ID: t0019
Revises: t0015
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0019"
down_revision = "t0015"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.add_column("orders", sa.Column("refunded_amount", sa.Numeric(14, 2), nullable=True), schema=schema)
    op.add_column("order_status_changes", sa.Column("amount", sa.Numeric(14, 2), nullable=True), schema=schema)
    op.add_column("notifications", sa.Column("held_by_quiet_hours", sa.Boolean(), server_default=sa.false(),
                                             nullable=False), schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_column("notifications", "held_by_quiet_hours", schema=schema)
    op.drop_column("order_status_changes", "amount", schema=schema)
    op.drop_column("orders", "refunded_amount", schema=schema)
