"""Sales targets per member and team and month; follow-ups done indexed by owner; the Reports permission row of
the seeded roles as targets need it (a manager's reaches the team and its sub-teams, a rep sets no targets).

Revision ID: t0021
Revises: t0019
Create Date: 2026-12-10
"""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "t0021"
down_revision = "t0019"
branch_labels = None
depends_on = None

ACTIONS = ("view", "create", "edit", "delete", "export", "import")


def _row(**scopes) -> str:
    """A role's Reports row as JSON text: every action at its scope, "none" unless named."""
    return "{" + ", ".join(f'"{action}": "{scopes.get(action, "none")}"' for action in ACTIONS) + "}"


# Only rows still at their old seeded value change: an admin's own choice stays.
ROLE_ROWS = (("sales_manager", _row(**dict.fromkeys(ACTIONS, "all")), _row(**dict.fromkeys(ACTIONS, "subteams"))),
             ("sales_rep", _row(**dict.fromkeys(ACTIONS, "own")), _row(view="own", export="own")))


def upgrade():
    schema = current_schema()
    op.create_table(
        "sales_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("won_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("order_revenue", sa.Numeric(14, 2), nullable=True),
        sa.Column("new_customers", sa.Integer(), nullable=True),
        sa.Column("follow_ups", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(member_id IS NULL) <> (team_id IS NULL)", name="ck_sales_targets_one_subject"),
        sa.ForeignKeyConstraint(["member_id"], [f"{schema}.members.id"], ondelete="CASCADE",
                                name="fk_sales_targets_member_id_members"),
        sa.ForeignKeyConstraint(["team_id"], [f"{schema}.teams.id"], ondelete="CASCADE",
                                name="fk_sales_targets_team_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_sales_targets"),
        schema=schema,
    )
    op.create_index("ix_sales_targets_member", "sales_targets", ["member_id", "month"], unique=True, schema=schema,
                    postgresql_where=sa.text("member_id IS NOT NULL"))
    op.create_index("ix_sales_targets_team", "sales_targets", ["team_id", "month"], unique=True, schema=schema,
                    postgresql_where=sa.text("team_id IS NOT NULL"))
    op.create_index("ix_activities_owner_done", "activities", ["owner_id", "done_at"], schema=schema,
                    postgresql_where=sa.text("done_at IS NOT NULL"))
    for key, old, new in ROLE_ROWS:
        op.execute(f"""UPDATE "{schema}".roles SET permissions = jsonb_set(permissions, '{{reports}}', '{new}')
                       WHERE key = '{key}' AND permissions->'reports' = '{old}'::jsonb""")


def downgrade():
    schema = current_schema()
    for key, old, new in ROLE_ROWS:
        op.execute(f"""UPDATE "{schema}".roles SET permissions = jsonb_set(permissions, '{{reports}}', '{old}')
                       WHERE key = '{key}' AND permissions->'reports' = '{new}'::jsonb""")
    op.drop_index("ix_activities_owner_done", "activities", schema=schema)
    op.drop_table("sales_targets", schema=schema)
