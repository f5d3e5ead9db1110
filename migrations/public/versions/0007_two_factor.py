"""Two-step sign-in: an account's TOTP secret and its recovery codes.

Revision ID: p0007
Revises: p0006
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "p0007"
down_revision = "p0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "two_factor",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["public.accounts.id"], ondelete="CASCADE",
                                name="fk_two_factor_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", name="pk_two_factor"),
        schema="public",
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["public.accounts.id"], ondelete="CASCADE",
                                name="fk_recovery_codes_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_codes"),
        sa.UniqueConstraint("account_id", "code_hash", name="uq_recovery_codes_account_id"),
        schema="public",
    )


def downgrade():
    op.drop_table("recovery_codes", schema="public")
    op.drop_table("two_factor", schema="public")
