"""Running the two Alembic tracks: public once, tenant once per schema, in parallel, each on its own."""
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tenants import roles
from tenants.provisioning import MIGRATIONS


def _config(track: str, connection, schema: str | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS / track))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def upgrade_public(engine) -> None:
    with engine.begin() as connection:
        command.upgrade(_config("public", connection), "head")


def upgrade_schema(engine, schema: str, revision: str = "head") -> int:
    """Migrate one tenant schema to `revision` in one transaction, as the tenant's role: first the schema is
    given to that role if it is not yet (a database from before tenant roles), so that what the migration
    creates is the tenant's too. Returns how many objects were given to the role (0 once done)."""
    with engine.begin() as connection:
        given = roles.ensure_owner(connection, schema)
        roles.switch_to(connection, schema)
        command.upgrade(_config("tenant", connection, schema), revision)
    return given


@dataclass
class SchemaReport:
    schema: str
    before: str | None
    after: str | None
    seconds: float
    error: str | None = None
    given: int = 0  # objects given to the tenant's role by this run


def schema_version(connection, schema: str) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table_schema": schema}).get_current_revision()


def migrate_one(url: str, schema: str) -> SchemaReport:
    """Migrate one tenant schema to head on a connection of its own, and report; an error is reported, not
    raised. Its version is read as its role: the login role itself may not read a tenant's tables."""
    engine = create_engine(url, poolclass=NullPool)
    started, before, given = time.perf_counter(), None, 0
    try:
        with engine.begin() as connection:  # on its own: a schema given to its role stays so if a migration fails
            given = roles.ensure_owner(connection, schema)
            before = _version(connection, schema)
        upgrade_schema(engine, schema)
        with engine.connect() as connection:
            after = _version(connection, schema)
    except Exception as error:  # one failing tenant is reported; the others go on
        return SchemaReport(schema, before, before, time.perf_counter() - started, f"{type(error).__name__}: {error}",
                            given)
    finally:
        engine.dispose()
    return SchemaReport(schema, before, after, time.perf_counter() - started, given=given)


def _version(connection, schema: str) -> str | None:
    roles.switch_to(connection, schema)
    return schema_version(connection, schema)


def tenant_schemas(engine) -> list[str]:
    with engine.connect() as connection:
        ids = connection.execute(text("select id from public.tenants order by id")).scalars()
        return [f"t_{int(i)}" for i in ids]


def upgrade_all(engine, processes: int = 4) -> list[SchemaReport]:
    """Migrate every tenant schema to head, `processes` at a time; failures are reported, not raised."""
    url = engine.url.render_as_string(hide_password=False)
    schemas = tenant_schemas(engine)
    if not schemas:
        return []
    # Alembic's `op` and `context` are process-wide, so tenants run in parallel processes, not threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, min(processes, len(schemas))), mp_context=context) as pool:
        return list(pool.map(migrate_one, [url] * len(schemas), schemas))


def current_schema() -> str:
    """Inside a tenant migration: the real name of the schema being migrated.

    `schema="tenant"` is translated only where Alembic builds a Table (create_table, create_index);
    ALTER-style operations (add_column, create_foreign_key, ...) print the schema as given, so tenant
    migrations pass this name to every operation."""
    from alembic import op

    return op.get_context().config.attributes["schema"]
