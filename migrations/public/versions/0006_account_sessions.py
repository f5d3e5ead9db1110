"""Server-side sessions: one row per sign-in, ended on sign-out; they replace the accounts' session version.

Revision ID: p0006
Revises: p0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "p0006"
down_revision = "p0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "account_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["public.accounts.id"], ondelete="CASCADE",
                                name="fk_account_sessions_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_account_sessions"),
        schema="public",
    )
    op.create_index("ix_public_account_sessions_account_id", "account_sessions", ["account_id"], schema="public")
    # Sessions signed by version number end here: everyone signs in once more.
    op.drop_column("accounts", "session_version", schema="public")


def downgrade():
    op.add_column("accounts", sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"),
                  schema="public")
    op.alter_column("accounts", "session_version", server_default=None, schema="public")
    op.drop_table("account_sessions", schema="public")
