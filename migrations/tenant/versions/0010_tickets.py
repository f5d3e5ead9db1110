"""Service tickets and their comments.

Revision ID: t0010
Revises: t0009
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("satisfaction_comment", sa.String(1000), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("satisfaction BETWEEN 1 AND 5", name="ck_tickets_satisfaction_range"),
        sa.ForeignKeyConstraint(["customer_id"], [f"{schema}.customers.id"], ondelete="CASCADE",
                                name="fk_tickets_customer_id_customers"),
        sa.ForeignKeyConstraint(["owner_id"], [f"{schema}.members.id"], name="fk_tickets_owner_id_members"),
        sa.ForeignKeyConstraint(["created_by_id"], [f"{schema}.members.id"],
                                name="fk_tickets_created_by_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        schema=schema,
    )
    op.create_index("ix_tenant_tickets_customer_id", "tickets", ["customer_id"], schema=schema)
    op.create_index("ix_tenant_tickets_status", "tickets", ["status"], schema=schema)
    op.create_index("ix_tickets_owner_queue", "tickets", ["owner_id", "status", "due_at"], schema=schema)
    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], [f"{schema}.tickets.id"], ondelete="CASCADE",
                                name="fk_ticket_comments_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_comments"),
        schema=schema,
    )
    op.create_index("ix_ticket_comments_ticket", "ticket_comments", ["ticket_id", "id"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("ticket_comments", schema=schema)
    op.drop_table("tickets", schema=schema)
