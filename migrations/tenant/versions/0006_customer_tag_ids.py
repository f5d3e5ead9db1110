"""customers.tag_ids: the customer's tag ids in a GIN-indexed array, so tag filters combine with search.

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.add_column("customers", sa.Column("tag_ids", postgresql.ARRAY(sa.Integer()),
                                         server_default=sa.text("'{}'::integer[]"), nullable=False), schema=schema)
    op.execute(f'UPDATE "{schema}".customers c SET tag_ids = t.ids FROM (SELECT customer_id, array_agg(tag_id '
               f'ORDER BY tag_id) AS ids FROM "{schema}".customer_tags GROUP BY customer_id) t '
               f'WHERE t.customer_id = c.id')
    op.create_index("ix_customers_tag_ids", "customers", ["tag_ids"], schema=schema, postgresql_using="gin",
                    postgresql_with={"fastupdate": "off"})


def downgrade():
    schema = current_schema()
    op.drop_index("ix_customers_tag_ids", "customers", schema=schema)
    op.drop_column("customers", "tag_ids", schema=schema)
