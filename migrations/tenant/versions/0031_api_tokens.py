"""API tokens and the answers kept for Idempotency-Key retries.

Revision ID: t0031
Revises: t0029
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tenants.migrations import current_schema

revision = "t0031"
down_revision = "t0029"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_ip", sa.String(45), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(["member_id"], [f"{schema}.members.id"], name="fk_api_tokens_member_id_members"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        schema=schema)
    op.create_index("ix_tenant_api_tokens_member_id", "api_tokens", ["member_id"], schema=schema)
    op.create_table(
        "api_idempotent_requests",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("token_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("location", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_idempotent_requests"),
        sa.ForeignKeyConstraint(["token_id"], [f"{schema}.api_tokens.id"], ondelete="CASCADE",
                                name="fk_api_idempotent_requests_token_id_api_tokens"),
        sa.UniqueConstraint("token_id", "key", name="uq_api_idempotent_requests_token_id"),
        schema=schema)
    op.create_index("ix_api_idempotent_requests_created_at", "api_idempotent_requests", ["created_at"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("api_idempotent_requests", schema=schema)
    op.drop_table("api_tokens", schema=schema)
