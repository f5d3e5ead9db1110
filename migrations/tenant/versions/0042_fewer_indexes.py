"""Ten indexes no query needs (issue 19: every relation weighs on the catalog at 10,000 tenants).

Tables of a few dozen rows are read whole faster than through an index: products' name, members' team,
stages' pipeline, API tokens' member, campaigns' owner and status, saved views and their defaults. The paused
deliveries' partial index matched no query (the resume reads paused *and* scheduled ones, through the
subscription's index). Customers' owner is served by the live-customer indexes that start with it
(`ix_customers_live_owner_*`); only the trash reads deleted customers, through `deleted_at`.

Revision ID: t0042
Revises: t0041
Create Date: 2026-12-05
"""
from alembic import op
from sqlalchemy import text

from tenants.migrations import current_schema

revision = "t0042"
down_revision = "t0041"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)

DROPPED = {  # index: (table, columns, where)
    "ix_tenant_products_name": ("products", ["name"], None),
    "ix_tenant_members_team_id": ("members", ["team_id"], None),
    "ix_stages_pipeline": ("stages", ["pipeline_id", "position"], None),
    "ix_tenant_api_tokens_member_id": ("api_tokens", ["member_id"], None),
    "ix_tenant_campaigns_owner_id": ("campaigns", ["owner_id"], None),
    "ix_tenant_campaigns_status": ("campaigns", ["status"], None),
    "ix_saved_views_list_owner": ("saved_views", ["list", "owner_id"], None),
    "ix_tenant_saved_view_defaults_view_id": ("saved_view_defaults", ["view_id"], None),
    "ix_webhook_deliveries_paused": ("webhook_deliveries", ["subscription_id"], "status = 'paused'"),
    "ix_tenant_customers_owner_id": ("customers", ["owner_id"], None),
}


def upgrade():
    schema = current_schema()
    for name, (table, _columns, _where) in DROPPED.items():
        op.drop_index(name, table_name=table, schema=schema)


def downgrade():
    schema = current_schema()
    for name, (table, columns, where) in DROPPED.items():
        op.create_index(name, table, columns, schema=schema, postgresql_where=text(where) if where else None)
