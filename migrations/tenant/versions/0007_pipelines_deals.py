"""Pipelines, stages, deals and their stage history.

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
        sa.Column("name_zh", sa.String(60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipelines"),
        schema=schema,
    )
    op.create_table(
        "stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("name_en", sa.String(60), nullable=False),
        sa.Column("name_zh", sa.String(60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name="ck_stages_probability"),
        sa.ForeignKeyConstraint(["pipeline_id"], [f"{schema}.pipelines.id"], name="fk_stages_pipeline_id_pipelines"),
        sa.PrimaryKeyConstraint("id", name="pk_stages"),
        schema=schema,
    )
    op.create_index("ix_stages_pipeline", "stages", ["pipeline_id", "position"], schema=schema)
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("probability_set", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(60), nullable=True),
        sa.Column("notes", sa.String(), nullable=True),
        sa.Column("custom", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("lost_reason", sa.String(250), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name="ck_deals_probability"),
        sa.ForeignKeyConstraint(["customer_id"], [f"{schema}.customers.id"], ondelete="CASCADE",
                                name="fk_deals_customer_id_customers"),
        sa.ForeignKeyConstraint(["pipeline_id"], [f"{schema}.pipelines.id"], name="fk_deals_pipeline_id_pipelines"),
        sa.ForeignKeyConstraint(["stage_id"], [f"{schema}.stages.id"], name="fk_deals_stage_id_stages"),
        sa.ForeignKeyConstraint(["owner_id"], [f"{schema}.members.id"], name="fk_deals_owner_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_deals"),
        schema=schema,
    )
    op.create_index("ix_deals_board", "deals", ["pipeline_id", "stage_id", "status", "id"], schema=schema)
    op.create_index("ix_deals_customer", "deals", ["customer_id", "id"], schema=schema)
    op.create_index("ix_deals_owner", "deals", ["owner_id", "status"], schema=schema)
    op.create_table(
        "deal_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("from_stage_id", sa.Integer(), nullable=True),
        sa.Column("to_stage_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["deal_id"], [f"{schema}.deals.id"], ondelete="CASCADE",
                                name="fk_deal_stage_changes_deal_id_deals"),
        sa.ForeignKeyConstraint(["from_stage_id"], [f"{schema}.stages.id"],
                                name="fk_deal_stage_changes_from_stage_id_stages"),
        sa.ForeignKeyConstraint(["to_stage_id"], [f"{schema}.stages.id"],
                                name="fk_deal_stage_changes_to_stage_id_stages"),
        sa.PrimaryKeyConstraint("id", name="pk_deal_stage_changes"),
        schema=schema,
    )
    op.create_index("ix_deal_stage_changes_deal", "deal_stage_changes", ["deal_id", "id"], schema=schema)
    op.create_index("ix_deal_stage_changes_to", "deal_stage_changes", ["to_stage_id", "at"], schema=schema)
    seed_default_pipeline(schema)


STAGES = (("Lead", "线索", 10, "open"), ("Qualified", "已确认", 25, "open"), ("Proposal", "方案", 50, "open"),
          ("Negotiation", "谈判", 75, "open"), ("Won", "赢单", 100, "won"), ("Lost", "输单", 0, "lost"))


def seed_default_pipeline(schema: str) -> None:
    """Existing tenants get the default pipeline that new ones get at provisioning."""
    pipelines = sa.table("pipelines", sa.column("id", sa.Integer), sa.column("name_en"), sa.column("name_zh"),
                         sa.column("position"), sa.column("active"), schema=schema)
    stages = sa.table("stages", sa.column("pipeline_id"), sa.column("name_en"), sa.column("name_zh"),
                      sa.column("position"), sa.column("probability"), sa.column("kind"), sa.column("active"),
                      schema=schema)
    pipeline_id = op.get_bind().execute(pipelines.insert().values(
        name_en="Sales", name_zh="销售", position=0, active=True).returning(pipelines.c.id)).scalar()
    op.bulk_insert(stages, [{"pipeline_id": pipeline_id, "name_en": en, "name_zh": zh, "position": position,
                             "probability": probability, "kind": kind, "active": True}
                            for position, (en, zh, probability, kind) in enumerate(STAGES)])


def downgrade():
    schema = current_schema()
    op.drop_table("deal_stage_changes", schema=schema)
    op.drop_table("deals", schema=schema)
    op.drop_table("stages", schema=schema)
    op.drop_table("pipelines", schema=schema)
