"""Customers' sensitive fields: encrypted ID number and bank account with keyed hashes for exact search.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    for name in ("id_number", "bank_account"):
        op.add_column("customers", sa.Column(f"{name}_enc", sa.String(), nullable=True), schema=schema)
        op.add_column("customers", sa.Column(f"{name}_idx", sa.String(40), nullable=True), schema=schema)
        op.create_index(f"ix_tenant_customers_{name}_idx", "customers", [f"{name}_idx"], schema=schema)


def downgrade():
    schema = current_schema()
    for name in ("id_number", "bank_account"):
        op.drop_index(f"ix_tenant_customers_{name}_idx", "customers", schema=schema)
        op.drop_column("customers", f"{name}_idx", schema=schema)
        op.drop_column("customers", f"{name}_enc", schema=schema)
