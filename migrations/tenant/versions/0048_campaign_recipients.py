"""Campaign recipients: a campaign is written to each customer (as before), to its primary contact, or to each of
its contacts (crm/campaigns/sending.py). A column with a constant default: no table rewrite.

Revision ID: t0048
Revises: t0047
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0048"
down_revision = "t0047"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)


def upgrade():
    op.add_column("campaigns", sa.Column("recipients", sa.String(10), nullable=False, server_default="customers"),
                  schema=current_schema())


def downgrade():
    op.drop_column("campaigns", "recipients", schema=current_schema())
