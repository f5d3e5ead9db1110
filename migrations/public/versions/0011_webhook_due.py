"""The webhooks' due index (which tenant has which delivery due when), for the sweeper.

Revision ID: p0011
Revises: p0009
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "p0011"
down_revision = "p0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhook_due",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "delivery_id", name="pk_webhook_due"),
        schema="public",
    )
    op.create_index("ix_public_webhook_due_due_at", "webhook_due", ["due_at"], schema="public")


def downgrade():
    op.drop_table("webhook_due", schema="public")
