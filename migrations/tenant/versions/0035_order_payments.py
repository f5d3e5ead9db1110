"""Order payments through the tenant's Stripe account: payments and refunds, Stripe events received once, and
each order's paid amount.

Revision ID: t0035
Revises: t0031
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0035"
down_revision = "t0031"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.add_column("orders", sa.Column("paid_amount", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False),
                  schema=schema)
    op.create_table(
        "order_payments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("order_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(30), nullable=False),
        sa.Column("stripe_id", sa.String(255), nullable=False),
        sa.Column("payment_intent", sa.String(255), nullable=False),
        sa.Column("checkout_session", sa.String(255), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_payments"),
        sa.ForeignKeyConstraint(["order_id"], [f"{schema}.orders.id"], ondelete="CASCADE",
                                name="fk_order_payments_order_id_orders"),
        sa.UniqueConstraint("stripe_id", name="uq_order_payments_stripe_id"),
        schema=schema)
    op.create_index("ix_order_payments_order", "order_payments", ["order_id", "id"], schema=schema)
    op.create_index("ix_tenant_order_payments_payment_intent", "order_payments", ["payment_intent"], schema=schema)
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_events"),
        sa.UniqueConstraint("event_id", name="uq_stripe_events_event_id"),
        schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("stripe_events", schema=schema)
    op.drop_table("order_payments", schema=schema)
    op.drop_column("orders", "paid_amount", schema=schema)
