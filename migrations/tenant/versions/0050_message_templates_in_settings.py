"""A workspace's own message wordings move into the setting `message_templates` ({"kind:channel:language":
{"subject", "body"}}) and the `message_templates` table goes: three relations fewer per schema (issue 19: the
table, its key and its unique constraint). The send path reads them once a transaction with the other settings.

Revision ID: t0050
Revises: t0049
Create Date: 2026-12-05
"""
from alembic import op

from tenants.migrations import current_schema

revision = "t0050"
down_revision = "t0049"
branch_labels = None
depends_on = None
RENDER_ONCE = True  # the same statements for every schema, nothing read in Python: sent as one script


def upgrade():
    s = f'"{current_schema()}"'
    op.execute(f"""INSERT INTO {s}.settings (key, value)
                   SELECT 'message_templates', jsonb_object_agg(kind || ':' || channel || ':' || language,
                                                                jsonb_build_object('subject', subject, 'body', body))
                   FROM {s}.message_templates HAVING count(*) > 0""")
    op.execute(f"DROP TABLE {s}.message_templates")


def downgrade():
    s = f'"{current_schema()}"'
    op.execute(f"""CREATE TABLE {s}.message_templates (
                     id INTEGER DEFAULT nextval('{current_schema()}.ids') NOT NULL, kind VARCHAR(40) NOT NULL,
                     channel VARCHAR(20) NOT NULL, language VARCHAR(12) NOT NULL, subject VARCHAR(200) NOT NULL,
                     body TEXT NOT NULL, updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
                     CONSTRAINT pk_message_templates PRIMARY KEY (id),
                     CONSTRAINT uq_message_templates_kind UNIQUE (kind, channel, language))""")
    op.execute(f"""INSERT INTO {s}.message_templates (kind, channel, language, subject, body, updated_at)
                   SELECT split_part(t.key, ':', 1), split_part(t.key, ':', 2), split_part(t.key, ':', 3),
                          t.value ->> 'subject', t.value ->> 'body', now()
                   FROM {s}.settings, jsonb_each(settings.value) t WHERE settings.key = 'message_templates'""")
    op.execute(f"DELETE FROM {s}.settings WHERE key = 'message_templates'")
