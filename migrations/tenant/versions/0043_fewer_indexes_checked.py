"""Six more indexes no query uses, found by docs/tenant-indexes.md: the real service calls EXPLAINed on the big
tenant (bench/bigtenant.py) with and without them, as the admin and as a rep, chose none of the first four and ran
no slower without them; the last two serve no SQL at all (a payment intent's refunds are found among its order's
few payments; workspace exports are a few rows that expire in a week).

Revision ID: t0043
Revises: t0042
Create Date: 2026-12-05
"""
from alembic import op

from tenants.migrations import current_schema

revision = "t0043"
down_revision = "t0042"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read: sent as one script (tenants/migrations.py)

DROPPED = {  # index: (table, columns)
    "ix_tenant_customers_stage": ("customers", ["stage"]),
    "ix_tenant_audit_log_action": ("audit_log", ["action"]),
    "ix_deal_stage_changes_to": ("deal_stage_changes", ["to_stage_id", "at"]),
    "ix_tenant_order_lines_product_id": ("order_lines", ["product_id"]),
    "ix_tenant_order_payments_payment_intent": ("order_payments", ["payment_intent"]),
    "ix_workspace_exports_member": ("workspace_exports", ["member_id", "id"]),
}


def upgrade():
    schema = current_schema()
    for name, (table, _columns) in DROPPED.items():
        op.drop_index(name, table_name=table, schema=schema)


def downgrade():
    schema = current_schema()
    for name, (table, columns) in DROPPED.items():
        op.create_index(name, table, columns, schema=schema)
