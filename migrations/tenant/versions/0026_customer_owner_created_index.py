"""The reports' and targets' counts of customers created in a period (by level, source, stage or tag) from an index
alone: (owner_id, created_at) with those columns included, of the customers not deleted.

Revision ID: t0026
Revises: t0022
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0026"
down_revision = "t0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_customers_live_owner_created", "customers", ["owner_id", "created_at"], schema=current_schema(),
                    postgresql_where=sa.text("deleted_at IS NULL"),
                    postgresql_include=["level", "source", "stage", "tag_ids"])


def downgrade():
    op.drop_index("ix_customers_live_owner_created", "customers", schema=current_schema())
