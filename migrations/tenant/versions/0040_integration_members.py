"""Integration members: an admin's token for an integration acts as a member of its own (`kind` 'integration'),
with the role the admin picked, no login account (`account_id` NULL) and no seat. A column on members, not a
table (issue 19 wants fewer relations per tenant schema).

Revision ID: t0040
Revises: t0043
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0040"
down_revision = "t0043"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)


def upgrade():
    schema = current_schema()
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("members", sa.Column("kind", sa.String(12), nullable=False, server_default="person"),
                  schema=schema)
    op.alter_column("members", "account_id", existing_type=sa.Integer, nullable=True, schema=schema)


def downgrade():
    schema = current_schema()
    op.execute(f'DELETE FROM "{schema}".api_tokens WHERE member_id IN '
               f'(SELECT id FROM "{schema}".members WHERE kind = \'integration\')')
    op.execute(f'DELETE FROM "{schema}".members WHERE kind = \'integration\'')
    op.alter_column("members", "account_id", existing_type=sa.Integer, nullable=False, schema=schema)
    op.drop_column("members", "kind", schema=schema)
