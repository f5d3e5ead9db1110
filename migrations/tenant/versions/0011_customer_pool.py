"""The customer pool: claim limits and recycle rules.

Revision ID: t0011
Revises: t0010
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

from tenants.migrations import current_schema

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()  # noqa: F841


def downgrade():
    schema = current_schema()  # noqa: F841
