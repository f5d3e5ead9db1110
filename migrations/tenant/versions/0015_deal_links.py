"""Timeline events link deals by the route name `deals.show` (the blueprint was `pipelines` until the package
was renamed): rewrite the links stored under the old name, so older events still open their deal.

Revision ID: t0015
Revises: t0014
Create Date: 2026-12-04
"""
from alembic import op

from tenants.migrations import current_schema

revision = "t0015"
down_revision = "t0014"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.execute(f"""UPDATE "{schema}".timeline_events SET payload = jsonb_set(payload, '{{link,0}}', '"deals.show"')
                   WHERE payload->'link'->>0 = 'pipelines.show'""")


def downgrade():
    schema = current_schema()
    op.execute(f"""UPDATE "{schema}".timeline_events SET payload = jsonb_set(payload, '{{link,0}}', '"pipelines.show"')
                   WHERE payload->'link'->>0 = 'deals.show'""")
