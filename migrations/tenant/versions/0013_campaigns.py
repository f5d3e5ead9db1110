"""Campaigns: one message to an audience of customers (the customer list's filters), sent through the outbox.

Revision ID: t0013
Revises: t0012
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0013"
down_revision = "t0012"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("language", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("audience_total", sa.Integer(), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("no_address", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], [f"{schema}.members.id"], name="fk_campaigns_owner_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        schema=schema,
    )
    op.create_index("ix_tenant_campaigns_status", "campaigns", ["status"], schema=schema)
    op.create_index("ix_tenant_campaigns_owner_id", "campaigns", ["owner_id"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("campaigns", schema=schema)
