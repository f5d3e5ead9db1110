"""Custom field values on orders (the field definitions themselves are in custom_fields, entity "order").

Revision ID: t0014
Revises: t0013
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0014"
down_revision = "t0013"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.add_column("orders", sa.Column("custom", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"),
                                      nullable=False), schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_column("orders", "custom", schema=schema)
