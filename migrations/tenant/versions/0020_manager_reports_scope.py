"""A sales manager's reports count their teams (sub-teams included), not the whole workspace: the seeded
Sales manager role still holding the old default gets the new one.

Revision ID: t0020
Revises: t0019
Create Date: 2026-12-09
"""
import json

import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0020"
down_revision = "t0019"
branch_labels = None
depends_on = None

ACTIONS = ("view", "create", "edit", "delete", "export", "import")


def _set_reports(old: str, new: str) -> None:
    # Reports were on no role page until now, so a role still at the old default never had it chosen.
    op.get_bind().execute(
        sa.text(f'UPDATE "{current_schema()}".roles SET permissions = jsonb_set(permissions, \'{{reports}}\', '
                "CAST(:new AS jsonb)) WHERE key = 'sales_manager' AND permissions -> 'reports' = CAST(:old AS jsonb)"),
        {"new": json.dumps({a: new for a in ACTIONS}), "old": json.dumps({a: old for a in ACTIONS})})


def upgrade():
    _set_reports("all", "subteams")


def downgrade():
    _set_reports("subteams", "all")
