"""Customer imports: imports, their staged rows, saved mappings; customers.external_id to match on.

Revision ID: t0028
Revises: t0027
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tenants.migrations import current_schema

revision = "t0028"
down_revision = "t0027"
branch_labels = None
depends_on = None


def upgrade():
    schema = current_schema()
    op.add_column("customers", sa.Column("external_id", sa.String(100), nullable=True), schema=schema)
    op.create_index("ix_customers_external_id", "customers", ["external_id"], schema=schema,
                    postgresql_where=sa.text("external_id IS NOT NULL"))
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(250), nullable=False),
        sa.Column("file_path", sa.String(500), nullable=False),
        sa.Column("file_info", JSONB, nullable=False),
        sa.Column("mapping", JSONB, nullable=False),
        sa.Column("options", JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=True),
        sa.Column("rows_done", sa.Integer, nullable=False),
        sa.Column("errors_so_far", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
        sa.ForeignKeyConstraint(["member_id"], [f"{schema}.members.id"], name="fk_imports_member_id_members"),
        schema=schema)
    op.create_table(
        "import_rows",
        sa.Column("import_id", sa.Integer, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("cells", JSONB, nullable=False),
        sa.Column("data", JSONB, nullable=True),
        sa.Column("match_key", sa.Text, nullable=True),
        sa.Column("action", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("customer_id", sa.Integer, nullable=True),
        sa.Column("before", JSONB, nullable=True),
        sa.PrimaryKeyConstraint("import_id", "line", name="pk_import_rows"),
        sa.ForeignKeyConstraint(["import_id"], [f"{schema}.imports.id"], ondelete="CASCADE",
                                name="fk_import_rows_import_id_imports"),
        schema=schema)
    op.create_index("ix_import_rows_customer", "import_rows", ["customer_id"], schema=schema,
                    postgresql_where=sa.text("customer_id IS NOT NULL"))
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("mapping", JSONB, nullable=False),
        sa.Column("options", JSONB, nullable=False),
        sa.Column("created_by", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_mappings"),
        sa.UniqueConstraint("name", name="uq_import_mappings_name"),
        sa.ForeignKeyConstraint(["created_by"], [f"{schema}.members.id"], name="fk_import_mappings_created_by_members"),
        schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_table("import_mappings", schema=schema)
    op.drop_table("import_rows", schema=schema)
    op.drop_table("imports", schema=schema)
    op.drop_index("ix_customers_external_id", "customers", schema=schema)
    op.drop_column("customers", "external_id", schema=schema)
