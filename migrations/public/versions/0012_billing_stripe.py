"""Billing through Stripe: the platform account's webhook events (each stored once), the workspaces' invoices, the
metered SMS usage reported to Stripe, and each plan's metered SMS price.

Revision ID: p0012
Revises: p0011
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "p0012"
down_revision = "p0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("plans", sa.Column("stripe_price_metered", sa.String(100), nullable=True), schema="public")
    op.create_table(
        "sms_usage_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("after", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"], ondelete="CASCADE",
                                name="fk_sms_usage_reports_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_sms_usage_reports"),
        sa.UniqueConstraint("identifier", name="uq_sms_usage_reports_identifier"),
        sa.UniqueConstraint("tenant_id", "month", "after", name="uq_sms_usage_reports_batch"),
        schema="public",
    )
    op.create_table(
        "billing_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_billing_events"),
        sa.UniqueConstraint("event_id", name="uq_billing_events_event_id"),
        schema="public",
    )
    op.create_index("ix_billing_events_tenant_id", "billing_events", ["tenant_id"], schema="public")
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("stripe_id", sa.String(255), nullable=False),
        sa.Column("number", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(14, 2), nullable=False),
        sa.Column("hosted_invoice_url", sa.String(1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"], ondelete="CASCADE",
                                name="fk_billing_invoices_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_invoices"),
        sa.UniqueConstraint("stripe_id", name="uq_billing_invoices_stripe_id"),
        schema="public",
    )
    op.create_index("ix_billing_invoices_tenant_id", "billing_invoices", ["tenant_id", "created_at"],
                    schema="public")


def downgrade():
    op.drop_table("sms_usage_reports", schema="public")
    op.drop_column("plans", "stripe_price_metered", schema="public")
    op.drop_table("billing_invoices", schema="public")
    op.drop_table("billing_events", schema="public")
