"""timeline_events ordered by when things happened: (customer_id, at, id) and (deal_id, at, id) replace the
(…, id) indexes. An import adds history (follow-ups, deals, orders from another CRM) with its own, older times:
ordered by id, it showed above everything logged before the import.

Revision ID: t0039
Revises: t0036
Create Date: 2026-12-05
"""
from alembic import op

from tenants.migrations import current_schema

revision = "t0039"
down_revision = "t0036"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)


def upgrade():
    schema = current_schema()
    op.drop_index("ix_timeline_events_customer", table_name="timeline_events", schema=schema)
    op.drop_index("ix_timeline_events_deal", table_name="timeline_events", schema=schema)
    op.create_index("ix_timeline_events_customer", "timeline_events", ["customer_id", "at", "id"], schema=schema)
    op.create_index("ix_timeline_events_deal", "timeline_events", ["deal_id", "at", "id"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_index("ix_timeline_events_customer", table_name="timeline_events", schema=schema)
    op.drop_index("ix_timeline_events_deal", table_name="timeline_events", schema=schema)
    op.create_index("ix_timeline_events_customer", "timeline_events", ["customer_id", "id"], schema=schema)
    op.create_index("ix_timeline_events_deal", "timeline_events", ["deal_id", "id"], schema=schema)
