"""Each member's default saved view per list moves into `members.default_views` ({list: view id}) and the
`saved_view_defaults` table goes: two relations fewer per schema (issue 19: the table and its key).

Revision ID: t0049
Revises: t0046
Create Date: 2026-12-05
"""
from alembic import op

from tenants.migrations import current_schema

revision = "t0049"
down_revision = "t0046"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read in Python: sent as one script


def upgrade():
    s = f'"{current_schema()}"'
    op.execute(f"ALTER TABLE {s}.members ADD COLUMN default_views JSONB DEFAULT '{{}}'::jsonb NOT NULL")
    op.execute(f"""UPDATE {s}.members m SET default_views = d.views
                   FROM (SELECT member_id, jsonb_object_agg(list, view_id) AS views
                         FROM {s}.saved_view_defaults GROUP BY member_id) d
                   WHERE m.id = d.member_id""")
    op.execute(f"DROP TABLE {s}.saved_view_defaults")


def downgrade():
    s = f'"{current_schema()}"'
    op.execute(f"""CREATE TABLE {s}.saved_view_defaults (
                     member_id INTEGER NOT NULL, list VARCHAR(20) NOT NULL, view_id INTEGER NOT NULL,
                     CONSTRAINT pk_saved_view_defaults PRIMARY KEY (member_id, list),
                     CONSTRAINT fk_saved_view_defaults_member_id_members FOREIGN KEY (member_id)
                       REFERENCES {s}.members (id) ON DELETE CASCADE,
                     CONSTRAINT fk_saved_view_defaults_view_id_saved_views FOREIGN KEY (view_id)
                       REFERENCES {s}.saved_views (id) ON DELETE CASCADE)""")
    op.execute(f"""INSERT INTO {s}.saved_view_defaults (member_id, list, view_id)
                   SELECT m.id, d.key, d.value::text::int FROM {s}.members m, jsonb_each(m.default_views) d
                   WHERE EXISTS (SELECT 1 FROM {s}.saved_views v WHERE v.id = d.value::text::int)""")
    op.execute(f"ALTER TABLE {s}.members DROP COLUMN default_views")
