"""notifications.held_by_credits: an SMS held past the plan's monthly SMS credits (crm/billing).

Revision ID: t0034
Revises: t0035
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0034"
down_revision = "t0035"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statement for every schema, nothing read: sent as one script (tenants/migrations.py)


def upgrade():
    op.add_column("notifications", sa.Column("held_by_credits", sa.Boolean(), server_default=sa.false(),
                                             nullable=False), schema=current_schema())


def downgrade():
    op.drop_column("notifications", "held_by_credits", schema=current_schema())
