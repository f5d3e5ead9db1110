"""Tenant track: run over one tenant schema, mapping the placeholder schema `tenant` onto it.

Migrations name schema="tenant" exactly as the models do; each schema keeps its own alembic_version.
"""
from alembic import context

config = context.config
schema = config.attributes["schema"]
connection = config.attributes["connection"].execution_options(schema_translate_map={"tenant": schema})
context.configure(connection=connection, target_metadata=None, version_table_schema=schema)
with context.begin_transaction():
    context.run_migrations()
