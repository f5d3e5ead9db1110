"""Teams (nested, with a manager), members' team, and the audit log.

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.migrations import current_schema

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], [f"{schema}.teams.id"], name="fk_teams_parent_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("name", name="uq_teams_name"),
        schema=schema,
    )
    op.create_foreign_key("fk_teams_manager_id_members", "teams", "members", ["manager_id"], ["id"],
                          source_schema=schema, referent_schema=schema)
    op.add_column("members", sa.Column("team_id", sa.Integer(), nullable=True), schema=schema)
    op.create_foreign_key("fk_members_team_id_teams", "members", "teams", ["team_id"], ["id"],
                          source_schema=schema, referent_schema=schema)
    op.create_index("ix_tenant_members_team_id", "members", ["team_id"], schema=schema)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.String(250), nullable=False),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        schema=schema,
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id", "id"], schema=schema)
    op.create_index("ix_tenant_audit_log_action", "audit_log", ["action"], schema=schema)
    op.create_index("ix_tenant_audit_log_at", "audit_log", ["at"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("audit_log", schema=schema)
    op.drop_index("ix_tenant_members_team_id", "members", schema=schema)
    op.drop_constraint("fk_members_team_id_teams", "members", schema=schema)
    op.drop_column("members", "team_id", schema=schema)
    op.drop_constraint("fk_teams_manager_id_members", "teams", schema=schema)
    op.drop_table("teams", schema=schema)
