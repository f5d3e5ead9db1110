"""Workspace exports (the archives "Export everything" wrote) and files on ticket comments.

Revision ID: t0038
Revises: t0039
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0038"
down_revision = "t0039"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "workspace_exports",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("storage_key", sa.String(40), nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("member_name", sa.String(120), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("revealed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workspace_exports"),
        sa.UniqueConstraint("storage_key", name="uq_workspace_exports_storage_key"),
        schema=schema)
    op.create_index("ix_workspace_exports_member", "workspace_exports", ["member_id", "id"], schema=schema)
    op.add_column("attachments", sa.Column("ticket_comment_id", sa.Integer, nullable=True), schema=schema)
    op.create_foreign_key("fk_attachments_ticket_comment_id_ticket_comments", "attachments", "ticket_comments",
                          ["ticket_comment_id"], ["id"], ondelete="CASCADE", source_schema=schema,
                          referent_schema=schema)
    op.create_index("ix_attachments_ticket_comment", "attachments", ["ticket_comment_id"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_column("attachments", "ticket_comment_id", schema=schema)
    op.drop_table("workspace_exports", schema=schema)
