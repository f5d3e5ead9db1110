"""Service tickets and their comments.

Revision ID: t0010
Revises: t0009
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

from tenants.migrations import current_schema

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()  # noqa: F841


def downgrade():
    schema = current_schema()  # noqa: F841
