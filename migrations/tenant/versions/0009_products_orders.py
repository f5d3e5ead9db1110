"""Products, orders, order lines and order status history.

Revision ID: t0009
Revises: t0008
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

NUMBER = "'SO-' || lpad(id::text, greatest(6, length(id::text)), '0')"


def upgrade():
    schema = current_schema()
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("sku", sa.String(60), nullable=True),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("price", sa.Numeric(14, 2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
        schema=schema,
    )
    op.create_index("ix_tenant_products_name", "products", ["name"], schema=schema)
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), sa.Computed(NUMBER, persisted=True), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("delivery_date", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("subtotal", sa.Numeric(14, 2), nullable=False),
        sa.Column("discount_total", sa.Numeric(14, 2), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("link_nonce", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], [f"{schema}.customers.id"], ondelete="CASCADE",
                                name="fk_orders_customer_id_customers"),
        sa.ForeignKeyConstraint(["owner_id"], [f"{schema}.members.id"], name="fk_orders_owner_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("number", name="uq_orders_number"),
        schema=schema,
    )
    op.create_index("ix_tenant_orders_status", "orders", ["status"], schema=schema)
    op.create_index("ix_tenant_orders_created_at", "orders", ["created_at"], schema=schema)
    op.create_index("ix_orders_owner", "orders", ["owner_id", "id"], schema=schema)
    op.create_index("ix_orders_customer", "orders", ["customer_id", "id"], schema=schema)
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("unit_price", sa.Numeric(14, 2), nullable=False),
        sa.Column("discount", sa.Numeric(5, 2), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], [f"{schema}.orders.id"], ondelete="CASCADE",
                                name="fk_order_lines_order_id_orders"),
        sa.ForeignKeyConstraint(["product_id"], [f"{schema}.products.id"], name="fk_order_lines_product_id_products"),
        sa.PrimaryKeyConstraint("id", name="pk_order_lines"),
        schema=schema,
    )
    op.create_index("ix_tenant_order_lines_order_id", "order_lines", ["order_id"], schema=schema)
    op.create_index("ix_tenant_order_lines_product_id", "order_lines", ["product_id"], schema=schema)
    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], [f"{schema}.orders.id"], ondelete="CASCADE",
                                name="fk_order_status_changes_order_id_orders"),
        sa.PrimaryKeyConstraint("id", name="pk_order_status_changes"),
        schema=schema,
    )
    op.create_index("ix_tenant_order_status_changes_order_id", "order_status_changes", ["order_id"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("order_status_changes", schema=schema)
    op.drop_table("order_lines", schema=schema)
    op.drop_table("orders", schema=schema)
    op.drop_table("products", schema=schema)
