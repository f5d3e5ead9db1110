"""members.calendar_nonce: the secret in a member's calendar feed link (iCalendar); a new one ends the old link.

Revision ID: t0033
Revises: t0030
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0033"
down_revision = "t0030"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("members", sa.Column("calendar_nonce", sa.String(32), nullable=True), schema=current_schema())


def downgrade():
    op.drop_column("members", "calendar_nonce", schema=current_schema())
