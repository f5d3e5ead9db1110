"""A tenant's first tables: roles, members, settings, tags, customers.

Revision ID: t0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0001"
down_revision = None
branch_labels = None
depends_on = None

SEARCH = ("lower(coalesce(name, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(email, '') || ' ' "
          "|| coalesce(company, ''))")


def upgrade():
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("permissions", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint("key", name="uq_roles_key"),
        schema="tenant",
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("value", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
        schema="tenant",
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("color", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("name", name="uq_tags_name"),
        schema="tenant",
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["tenant.roles.id"], name="fk_members_role_id_roles"),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.UniqueConstraint("account_id", name="uq_members_account_id"),
        schema="tenant",
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("company", sa.String(120), nullable=True),
        sa.Column("title", sa.String(80), nullable=True),
        sa.Column("address", sa.String(250), nullable=True),
        sa.Column("source", sa.String(60), nullable=True),
        sa.Column("level", sa.String(1), nullable=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(), nullable=True),
        sa.Column("custom", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("search_text", sa.String(), sa.Computed(SEARCH, persisted=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["tenant.members.id"], name="fk_customers_owner_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        schema="tenant",
    )
    op.create_index("ix_customers_live_name", "customers", ["name", "id"], schema="tenant",
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_index("ix_customers_search_text", "customers", ["search_text"], schema="tenant",
                    postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"})
    for column in ("deleted_at", "email", "level", "owner_id", "phone", "stage"):
        op.create_index(f"ix_tenant_customers_{column}", "customers", [column], schema="tenant")
    op.create_table(
        "customer_tags",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["tenant.customers.id"], ondelete="CASCADE",
                                name="fk_customer_tags_customer_id_customers"),
        sa.ForeignKeyConstraint(["tag_id"], ["tenant.tags.id"], ondelete="CASCADE",
                                name="fk_customer_tags_tag_id_tags"),
        sa.PrimaryKeyConstraint("customer_id", "tag_id", name="pk_customer_tags"),
        schema="tenant",
    )
    op.create_index("ix_tenant_customer_tags_tag_id", "customer_tags", ["tag_id"], schema="tenant")


def downgrade():
    for table in ("customer_tags", "customers", "members", "tags", "settings", "roles"):
        op.drop_table(table, schema="tenant")
