"""Spare schemas are built for a reserved tenant id (t_<id>, owned by the tenant's role) instead of being
renamed into a tenant: spares built the old way, without a role, are dropped (the pool refills itself).

Revision ID: p0008
Revises: p0007
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "p0008"
down_revision = "p0007"
branch_labels = None
depends_on = None


def _drop_spares(column: str) -> None:
    connection = op.get_bind()
    for name in connection.execute(sa.text(f"select {column} from public.spare_schemas")).scalars():
        connection.exec_driver_sql('DROP SCHEMA IF EXISTS "%s" CASCADE' % name)  # names the app made


def upgrade():
    _drop_spares("name")
    op.drop_table("spare_schemas", schema="public")
    op.create_table(
        "spare_schemas",
        sa.Column("tenant_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("head", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_spare_schemas"),
        schema="public",
    )


def downgrade():
    _drop_spares("'t_' || tenant_id")  # as a superuser: each belongs to its own role, which stays behind
    op.drop_table("spare_schemas", schema="public")
    op.create_table(
        "spare_schemas",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("head", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_spare_schemas"),
        schema="public",
    )
