"""The outbox's due index (which tenant has which message due when) and the development outbox.

Revision ID: p0005
Revises: p0004
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "p0005"
down_revision = "p0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification_due",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "notification_id", name="pk_notification_due"),
        schema="public",
    )
    op.create_index("ix_public_notification_due_due_at", "notification_due", ["due_at"], schema="public")
    op.create_table(
        "dev_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dev_messages"),
        schema="public",
    )
    op.create_index("ix_public_dev_messages_created_at", "dev_messages", ["created_at"], schema="public")


def downgrade():
    op.drop_table("dev_messages", schema="public")
    op.drop_table("notification_due", schema="public")
