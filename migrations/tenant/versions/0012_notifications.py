"""The outbox (notifications), message templates, and customers' marketing opt-out and preferred channel.

Revision ID: t0012
Revises: t0011
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0012"
down_revision = "t0011"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("source", sa.String(60), nullable=True),
        sa.Column("idempotency_key", sa.String(120), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
        schema=schema,
    )
    op.create_index("ix_notifications_source", "notifications", ["source"], schema=schema,
                    postgresql_where=sa.text("status IN ('scheduled', 'queued')"))
    op.create_index("ix_notifications_inbox", "notifications", ["member_id", "id"], schema=schema,
                    postgresql_where=sa.text("channel = 'inapp'"))
    op.create_index("ix_notifications_status", "notifications", ["status", "id"], schema=schema)
    op.create_index("ix_tenant_notifications_campaign_id", "notifications", ["campaign_id"], schema=schema)
    op.create_table(
        "message_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_templates"),
        sa.UniqueConstraint("kind", "channel", "language", name="uq_message_templates_kind"),
        schema=schema,
    )
    op.add_column("customers", sa.Column("marketing_opt_out_at", sa.DateTime(timezone=True), nullable=True),
                  schema=schema)
    op.add_column("customers", sa.Column("preferred_channel", sa.String(10), server_default="sms",
                                         nullable=False), schema=schema)
    op.alter_column("customers", "preferred_channel", server_default=None, schema=schema)
    op.add_column("members", sa.Column("phone", sa.String(20), nullable=True), schema=schema)
    op.add_column("members", sa.Column("notify_channels", postgresql.ARRAY(sa.String(20)),
                                       server_default=sa.text("'{email}'::varchar[]"), nullable=False), schema=schema)
    op.alter_column("members", "notify_channels", server_default=None, schema=schema)
    op.add_column("customers", sa.Column("quiet_reminded_at", sa.DateTime(timezone=True), nullable=True),
                  schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_column("customers", "quiet_reminded_at", schema=schema)
    op.drop_column("members", "notify_channels", schema=schema)
    op.drop_column("members", "phone", schema=schema)
    op.drop_column("customers", "preferred_channel", schema=schema)
    op.drop_column("customers", "marketing_opt_out_at", schema=schema)
    op.drop_table("message_templates", schema=schema)
    op.drop_table("notifications", schema=schema)
