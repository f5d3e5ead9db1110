"""The contact of a deal, an order (who ordered), a ticket (who asked) and a follow-up (who was called): a column
each, no index and no foreign key (removing a contact clears them: crm/contacts/service.py).

Revision ID: t0047
Revises: t0045
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0047"
down_revision = "t0045"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)
TABLES = ("deals", "orders", "tickets", "activities")


def upgrade():
    schema = current_schema()
    for table in TABLES:
        op.add_column(table, sa.Column("contact_id", sa.Integer, nullable=True), schema=schema)


def downgrade():
    schema = current_schema()
    for table in TABLES:
        op.drop_column(table, "contact_id", schema=schema)
