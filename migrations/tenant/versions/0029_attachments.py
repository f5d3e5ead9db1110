"""Attachments: files kept with customers, deals, orders, tickets and follow-ups.

Revision ID: t0029
Revises: t0032
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0029"
down_revision = "t0032"
branch_labels = None
depends_on = None

RECORDS = (("customer_id", "customers"), ("deal_id", "deals"), ("order_id", "orders"), ("ticket_id", "tickets"),
           ("activity_id", "activities"))


def upgrade():
    schema = current_schema()
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        *(sa.Column(column, sa.Integer, nullable=True) for column, _table in RECORDS),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(40), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary, nullable=True),
        sa.Column("has_thumbnail", sa.Boolean, nullable=False),
        sa.Column("uploaded_by_id", sa.Integer, nullable=True),
        sa.Column("uploaded_by_name", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.UniqueConstraint("storage_key", name="uq_attachments_storage_key"),
        *(sa.ForeignKeyConstraint([column], [f"{schema}.{table}.id"], ondelete="CASCADE",
                                  name=f"fk_attachments_{column}_{table}") for column, table in RECORDS),
        schema=schema)
    op.create_index("ix_attachments_customer", "attachments", ["customer_id", "id"], schema=schema)
    for column, table in RECORDS[1:]:
        op.create_index(f"ix_attachments_{column[:-3]}", "attachments", [column], schema=schema)


def downgrade():
    op.drop_table("attachments", schema=current_schema())
