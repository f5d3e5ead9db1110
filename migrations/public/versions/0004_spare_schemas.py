"""Spare tenant schemas built ahead of sign-ups.

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "p0004"
down_revision = "p0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "spare_schemas",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("head", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_spare_schemas"),
        schema="public",
    )


def downgrade():
    op.drop_table("spare_schemas", schema="public")
