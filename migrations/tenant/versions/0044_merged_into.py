"""Merged customers: a customer merged into another goes to the trash remembering the survivor
(`merged_into_id`). A column, not a table (issue 19 counts relations per tenant schema); no index, since only
the trashed customer's own page and trash row read it.

Revision ID: t0044
Revises: t0040
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0044"
down_revision = "t0040"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)


def upgrade():
    schema = current_schema()
    op.add_column("customers", sa.Column("merged_into_id", sa.Integer, nullable=True), schema=schema)
    # SET NULL: the survivor deleted for good leaves the merged customer in the trash, without its link.
    op.create_foreign_key("fk_customers_merged_into_id_customers", "customers", "customers", ["merged_into_id"],
                          ["id"], source_schema=schema, referent_schema=schema, ondelete="SET NULL")


def downgrade():
    schema = current_schema()
    op.drop_column("customers", "merged_into_id", schema=schema)
