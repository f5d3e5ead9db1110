"""Follow-ups (activities) and the customer/deal timeline.

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-24
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

from tenants.migrations import current_schema

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], [f"{schema}.customers.id"], ondelete="CASCADE",
                                name="fk_timeline_events_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_timeline_events"),
        schema=schema,
    )
    op.create_index("ix_timeline_events_customer", "timeline_events", ["customer_id", "id"], schema=schema)
    op.create_index("ix_timeline_events_deal", "timeline_events", ["deal_id", "id"], schema=schema)
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remind_minutes", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], [f"{schema}.customers.id"], ondelete="CASCADE",
                                name="fk_activities_customer_id_customers"),
        sa.ForeignKeyConstraint(["owner_id"], [f"{schema}.members.id"], name="fk_activities_owner_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
        schema=schema,
    )
    op.create_index("ix_activities_open_due", "activities", ["owner_id", "due_at"], schema=schema,
                    postgresql_where=sa.text("done_at IS NULL"))
    op.create_index("ix_activities_customer", "activities", ["customer_id", "id"], schema=schema)
    op.create_index("ix_tenant_activities_deal_id", "activities", ["deal_id"], schema=schema)
    op.add_column("customers", sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
                  schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_column("customers", "last_contact_at", schema=schema)
    op.drop_table("activities", schema=schema)
    op.drop_table("timeline_events", schema=schema)
