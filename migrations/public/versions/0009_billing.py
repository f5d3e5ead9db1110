"""Billing: plans (seeded: free, pro with a 14-day trial, business, unlimited for self-hosted use), each tenant's
subscription (existing tenants start a 14-day trial of pro), the usage counts the operator console reads, operator
accounts and what operators did.

Revision ID: p0009
Revises: p0008
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "p0009"
down_revision = "p0008"
branch_labels = None
depends_on = None

MB, GB = 1024 ** 2, 1024 ** 3
PLANS = [
    # key, English, Chinese, seats, customers, storage, SMS a month, features, SMS beyond, trial days, position, public
    ("free", "Free", "免费版", 2, 500, 100 * MB, 0, [], "hold", None, 10, True),
    ("pro", "Pro", "专业版", 10, 20_000, 10 * GB, 500, ["campaigns", "api"], "hold", 14, 20, True),
    ("business", "Business", "企业版", 50, 200_000, 100 * GB, 5_000, ["campaigns", "api"], "metered", None, 30, True),
    ("unlimited", "Unlimited", "无限版", None, None, None, None, ["campaigns", "api"], "hold", None, 90, False),
]


def upgrade():
    op.add_column("accounts", sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False),
                  schema="public")
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name_en", sa.String(80), nullable=False),
        sa.Column("name_zh", sa.String(80), nullable=False),
        sa.Column("stripe_price_monthly", sa.String(100), nullable=True),
        sa.Column("stripe_price_yearly", sa.String(100), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=True),
        sa.Column("storage_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sms_per_month", sa.Integer(), nullable=True),
        sa.Column("features", ARRAY(sa.String(40)), nullable=False),
        sa.Column("sms_beyond", sa.String(10), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("public", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        sa.UniqueConstraint("key", name="uq_plans_key"),
        schema="public",
    )
    op.bulk_insert(plans, [dict(zip(("key", "name_en", "name_zh", "seats", "customers", "storage_bytes",
                                     "sms_per_month", "features", "sms_beyond", "trial_days", "position", "public"),
                                    plan)) for plan in PLANS])
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grace_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stripe_customer_id", sa.String(100), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"], ondelete="CASCADE",
                                name="fk_subscriptions_tenant_id_tenants"),
        sa.ForeignKeyConstraint(["plan_id"], ["public.plans.id"], name="fk_subscriptions_plan_id_plans"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_subscriptions"),
        schema="public",
    )
    op.execute("""INSERT INTO public.subscriptions (tenant_id, plan_id, status, trial_ends_at, updated_at)
                  SELECT t.id, p.id, 'trialing', now() + make_interval(days => p.trial_days), now()
                  FROM public.tenants t, public.plans p WHERE p.key = 'pro'""")
    op.create_table(
        "tenant_usage",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("storage_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sms_this_month", sa.Integer(), nullable=False),
        sa.Column("held_sms", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"], ondelete="CASCADE",
                                name="fk_tenant_usage_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_usage"),
        schema="public",
    )
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("operator_email", sa.String(254), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("changes", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["public.accounts.id"], ondelete="SET NULL",
                                name="fk_operator_actions_account_id_accounts"),
        sa.ForeignKeyConstraint(["tenant_id"], ["public.tenants.id"], ondelete="SET NULL",
                                name="fk_operator_actions_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_operator_actions"),
        schema="public",
    )
    op.create_index("ix_operator_actions_tenant_id", "operator_actions", ["tenant_id"], schema="public")


def downgrade():
    op.drop_table("operator_actions", schema="public")
    op.drop_table("tenant_usage", schema="public")
    op.drop_table("subscriptions", schema="public")
    op.drop_table("plans", schema="public")
    op.drop_column("accounts", "is_operator", schema="public")
