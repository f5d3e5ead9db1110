"""Counts of a viewer's live customers (by lifecycle stage on the home page, in all on the customer list) from an
index alone: (owner_id, stage, id) of the customers not deleted.

Revision ID: t0022
Revises: t0021
Create Date: 2026-12-09
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0022"
down_revision = "t0021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_customers_live_owner_stage", "customers", ["owner_id", "stage", "id"], schema=current_schema(),
                    postgresql_where=sa.text("deleted_at IS NULL"))


def downgrade():
    op.drop_index("ix_customers_live_owner_stage", "customers", schema=current_schema())
