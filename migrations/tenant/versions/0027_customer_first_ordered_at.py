"""customers.first_ordered_at: when the customer's first order not cancelled was placed, filled from the orders,
and the index of the live buyers that new and returning buyers reads alone.

Revision ID: t0027
Revises: t0026
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0027"
down_revision = "t0026"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.add_column("customers", sa.Column("first_ordered_at", sa.DateTime(timezone=True), nullable=True),
                  schema=schema)
    op.execute(f'UPDATE "{schema}".customers c SET first_ordered_at = o.first FROM (SELECT customer_id, '
               f'min(created_at) AS first FROM "{schema}".orders WHERE status <> \'cancelled\' GROUP BY customer_id) o '
               f'WHERE o.customer_id = c.id')
    op.create_index("ix_customers_live_buyers", "customers", ["owner_id", "id"], schema=schema,
                    postgresql_where=sa.text("deleted_at IS NULL AND first_ordered_at IS NOT NULL"),
                    postgresql_include=["first_ordered_at", "level", "source", "tag_ids"])


def downgrade():
    schema = current_schema()
    op.drop_index("ix_customers_live_buyers", "customers", schema=schema)
    op.drop_column("customers", "first_ordered_at", schema=schema)
