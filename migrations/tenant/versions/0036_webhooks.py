"""Outgoing webhooks: subscriptions, deliveries (their outbox) and the delivery log.

Revision ID: t0036
Revises: t0034
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tenants.migrations import current_schema

revision = "t0036"
down_revision = "t0034"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("events", ARRAY(sa.String(40)), nullable=False),
        sa.Column("secret_enc", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("disabled_after_failures", sa.Integer, nullable=True),
        sa.Column("created_by", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
        schema=schema)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("subscription_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(["subscription_id"], [f"{schema}.webhook_subscriptions.id"], ondelete="CASCADE",
                                name="fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
        schema=schema)
    op.create_index("ix_webhook_deliveries_subscription_id", "webhook_deliveries", ["subscription_id", "id"],
                    schema=schema)
    op.create_index("ix_webhook_deliveries_paused", "webhook_deliveries", ["subscription_id"], schema=schema,
                    postgresql_where=sa.text("status = 'paused'"))
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("delivery_id", sa.Integer, nullable=False),
        sa.Column("subscription_id", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("response_excerpt", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        sa.ForeignKeyConstraint(["delivery_id"], [f"{schema}.webhook_deliveries.id"], ondelete="CASCADE",
                                name="fk_webhook_attempts_delivery_id_webhook_deliveries"),
        schema=schema)
    op.create_index("ix_webhook_attempts_subscription_id", "webhook_attempts", ["subscription_id", "id"], schema=schema)
    op.create_index("ix_tenant_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("webhook_attempts", schema=schema)
    op.drop_table("webhook_deliveries", schema=schema)
    op.drop_table("webhook_subscriptions", schema=schema)
