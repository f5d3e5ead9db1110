"""Public track: platform tables in schema `public`, version table public.alembic_version."""
from alembic import context

config = context.config


def include_object(obj, name, type_, reflected, compare_to):
    return obj.schema == "public" if type_ == "table" else True


def run(connection):
    from crm.extensions import db
    from tenants.roles import grant_public

    context.configure(connection=connection, target_metadata=db.metadata, include_schemas=True,
                      include_name=lambda n, t, p: n == "public" if t == "schema" else True,
                      include_object=include_object, version_table_schema="public")
    with context.begin_transaction():
        context.run_migrations()
        grant_public(connection)  # what tenant transactions may do with the public tables, as they now are


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # `alembic -c migrations/alembic.ini -n public ...` from a shell: use the app's database
    from crm import create_app
    from crm.extensions import db

    with create_app().app_context(), db.engine.begin() as conn:
        run(conn)
