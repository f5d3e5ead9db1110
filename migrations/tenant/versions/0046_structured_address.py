"""Structured addresses (issue 18 §6): the free-text `customers.address` becomes the street line `street`
(renamed: a catalog change, no row is rewritten, every stored address stays as it was typed), beside a country
(ISO 3166 alpha-2), a province or region, a city, a district and a postcode. Nullable columns without defaults:
adding them rewrites nothing either, so the migration costs the same on an empty schema and on a big one. No
index: the list's address filters ride on the scoped, paged walk (docs/architecture.md, Customers).

Revision ID: t0046
Revises: t0048
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0046"
down_revision = "t0048"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)

COLUMNS = (("country", 2), ("region", 60), ("city", 60), ("district", 60), ("postcode", 20))


def upgrade():
    schema = current_schema()
    op.alter_column("customers", "address", new_column_name="street", schema=schema)
    for name, length in COLUMNS:
        op.add_column("customers", sa.Column(name, sa.String(length), nullable=True), schema=schema)


def downgrade():
    schema = current_schema()
    for name, _length in COLUMNS:
        op.drop_column("customers", name, schema=schema)
    op.alter_column("customers", "street", new_column_name="address", schema=schema)
