"""Running the two Alembic tracks: public once, tenant once per schema.

A fleet run (`upgrade_all`) migrates the tenant schemas in this process, or hands them out in chunks to worker
processes (Alembic's `op` and `context` are process-wide, so not threads). A migrator keeps one connection
(renewed every `RECYCLE_AFTER` schemas: a PostgreSQL backend keeps the catalog entries of every schema it
touched) and loads the tenant track's scripts once; it runs the revisions itself, without env.py, a new engine
or Alembic's command layer, which cost ~190 ms a schema before (issue 19), and sends revisions that declare
`RENDER_ONCE` as one script rendered once. Each schema is one transaction: act as its role, read its owner and
version once, run the revisions, stamp. A schema that fails is reported and the others go on; a run resumes
where it stopped, since each schema keeps its own version."""
import io
import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from config import connect_args
from tenants import roles
from tenants.provisioning import MIGRATIONS, SCHEMA_TOKEN

TENANT_TRACK = MIGRATIONS / "tenant"
RECYCLE_AFTER = 500  # schemas a worker's connection migrates before it is renewed (backend memory)
LAST_RUN_KEY = "crm:migrations:last_run"  # Redis: the last fleet run's counts, for /metrics (crm/monitoring)
CHUNKS_PER_PROCESS = 8  # enough chunks that the processes finish together, few enough to cost nothing


def _config(script_location: Path, connection=None, schema: str | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def upgrade_public(engine) -> None:
    with engine.begin() as connection:
        command.upgrade(_config(MIGRATIONS / "public", connection), "head")


@cache
def _scripts(script_location: Path) -> ScriptDirectory:
    """A track's script directory, its revision files loaded once per process."""
    return ScriptDirectory.from_config(_config(script_location))


@dataclass
class SchemaReport:
    schema: str
    before: str | None
    after: str | None
    seconds: float
    error: str | None = None
    given: int = 0  # objects given to the tenant's role by this run


def _migrate(connection, schema: str, revision: str, script_location: Path) -> tuple[int, str | None, str | None]:
    """Migrate `schema` to `revision` on `connection` in one transaction, as the schema's role; returns (objects
    given to the role, version before, version after).

    A schema its role owns costs two round trips before its revisions (BEGIN with SET ROLE; owner and version
    in one query) and none after them but the COMMIT; one at the target already is left there. Revisions that
    allow it go as one script rendered once (`_rendered`), others through Alembic in process. Any other schema
    (from before tenant roles, or without a version table yet) is first given to its role
    (`roles.ensure_owner`, committed on its own so that it stays if a revision fails), and Alembic reads its
    version."""
    scripts = _scripts(script_location)
    transaction, given = connection.begin(), 0
    try:
        owned, before = _owner_and_version(connection, schema)
    except DBAPIError:  # no role yet, or no version table: the long way
        owned = before = None
    if not owned:
        transaction.rollback()
        transaction = connection.begin()
        given = roles.ensure_owner(connection, schema)
        if given:
            transaction.commit()
            transaction = connection.begin()
        roles.switch_to(connection, schema)
    try:
        target = scripts.get_revision(revision).revision
        if owned and before == target:
            transaction.commit()
            return given, before, before
        sql = _rendered(script_location, before, revision) if owned and before else None
        if sql is not None:
            connection.exec_driver_sql(sql.replace(SCHEMA_TOKEN, schema))
            after = (before, target)
        else:
            after = _run_revisions(connection, schema, revision, script_location, (before,) if owned else None)
        transaction.commit()
    except BaseException:
        transaction.rollback()
        raise
    return given, after[0], after[1]


def _owner_and_version(connection, schema: str) -> tuple[bool, str | None]:
    """As the schema's role, in a new transaction: whether the role owns the schema, and its version."""
    roles.switch_to(connection, schema)
    return tuple(connection.execute(text(
        f"select pg_get_userbyid(nspowner) = current_user, (select version_num from {roles.quoted(schema)}"
        ".alembic_version) from pg_namespace where nspname = :s"), {"s": schema}).one())


@cache
def _rendered(script_location: Path, before: str | None, revision: str) -> str | None:
    """The SQL of the revisions from `before` to `revision`, rendered once (Alembic's offline mode) with the schema
    as a token, when every one of them declares `RENDER_ONCE = True`: its upgrade emits the same statements for
    every schema and reads nothing from the database. Then a schema costs one round trip for all of them."""
    scripts = _scripts(script_location)
    steps = scripts._upgrade_revs(revision, before)
    if not steps or not all(getattr(step.revision.module, "RENDER_ONCE", False) for step in steps):
        return None
    output = io.StringIO()
    environment = EnvironmentContext(_config(script_location, schema=SCHEMA_TOKEN), scripts, as_sql=True,
                                     fn=lambda heads, context: steps, starting_rev=before, destination_rev=revision)
    with environment:
        environment.configure(dialect_name="postgresql", output_buffer=output, version_table_schema=SCHEMA_TOKEN,
                              transactional_ddl=False)
        environment.run_migrations()
    return output.getvalue()


def _run_revisions(connection, schema: str, revision: str, script_location: Path,
                   heads: tuple | None) -> tuple[str | None, str | None]:
    """Run the revisions from the schema's version to `revision` inside the current transaction, without env.py;
    `heads` is the version already read (None: Alembic reads it). Returns (version before, version after)."""
    scripts = _scripts(script_location)
    found: dict = {}

    def steps(current, context):
        found["before"] = current[0] if current else None
        found["steps"] = scripts._upgrade_revs(revision, current)
        return found["steps"]

    environment = EnvironmentContext(_config(script_location, connection, schema), scripts, fn=steps,
                                     destination_rev=revision)
    with environment:
        environment.configure(connection=connection.execution_options(schema_translate_map={"tenant": schema}),
                              target_metadata=None, version_table_schema=schema)
        if heads is not None:  # read above: not twice more (a has_table query, then the select)
            environment.get_context().get_current_heads = lambda: tuple(h for h in heads if h)
        environment.run_migrations()
    after = found["steps"][-1].revision.revision if found["steps"] else found["before"]
    return found["before"], after


def upgrade_schema(engine, schema: str, revision: str = "head", script_location: Path = TENANT_TRACK) -> int:
    """Migrate one tenant schema to `revision` in one transaction, as the tenant's role; returns how many objects
    were given to the role (0 once done). Errors are raised."""
    with engine.connect() as connection:
        return _migrate(connection, schema, revision, script_location)[0]


class TenantMigrator:
    """Migrates tenant schemas one after another on one long-lived connection (one per worker process)."""

    def __init__(self, url: str, script_location: Path = TENANT_TRACK):
        self.engine = create_engine(url, poolclass=NullPool, connect_args=connect_args())
        self.script_location = script_location
        self.connection = None
        self.migrated = 0

    def migrate(self, schema: str, revision: str = "head") -> SchemaReport:
        """Migrate one schema and report; an error is reported, not raised."""
        started = time.perf_counter()
        if self.connection is None or self.migrated >= RECYCLE_AFTER:
            self.close()
            self.connection = self.engine.connect()
        self.migrated += 1
        try:
            given, before, after = _migrate(self.connection, schema, revision, self.script_location)
        except Exception as error:  # one failing tenant is reported; the others go on
            # Read after the rollback, as the schema's role (the login role may not read a tenant's tables).
            return SchemaReport(schema, *[self._version(schema)] * 2, time.perf_counter() - started,
                                f"{type(error).__name__}: {error}")
        return SchemaReport(schema, before, after, time.perf_counter() - started, given=given)

    def _version(self, schema: str) -> str | None:
        try:
            with self.connection.begin():
                roles.switch_to(self.connection, schema)
                return schema_version(self.connection, schema)
        except Exception:  # a schema without its role or version table: nothing to tell
            return None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
            self.migrated = 0


def schema_version(connection, schema: str) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table_schema": schema}).get_current_revision()


def migrate_one(url: str, schema: str) -> SchemaReport:
    """Migrate one tenant schema to head on a connection of its own, and report; an error is reported, not raised."""
    migrator = TenantMigrator(url)
    try:
        return migrator.migrate(schema)
    finally:
        migrator.close()
        migrator.engine.dispose()


def tenant_schemas(engine) -> list[str]:
    with engine.connect() as connection:
        ids = connection.execute(text("select id from public.tenants order by id")).scalars()
        return [f"t_{int(i)}" for i in ids]


# ---------------------------------------------------------------- the fleet

_worker: TenantMigrator | None = None  # in each worker process


def _start_worker(url: str, script_location: Path) -> None:
    global _worker
    _worker = TenantMigrator(url, script_location)


def _migrate_chunk(schemas: list[str]) -> list[SchemaReport]:
    return [_worker.migrate(schema) for schema in schemas]


@dataclass
class FleetRun:
    total: int  # tenant schemas in the database
    reports: list[SchemaReport] = field(default_factory=list)
    canary_failed: bool = False  # the run stopped after the canaries; the other tenants were not started

    @property
    def failed(self) -> list[SchemaReport]:
        return [r for r in self.reports if r.error]

    @property
    def not_started(self) -> int:
        return self.total - len(self.reports)


def chunked(schemas: list[str], size: int) -> list[list[str]]:
    return [schemas[i:i + size] for i in range(0, len(schemas), size)]


def upgrade_all(engine, processes: int = 1, canary: int = 0, chunk: int | None = None,
                on_reports: Callable[[list[SchemaReport]], None] | None = None,
                script_location: Path = TENANT_TRACK, schemas: list[str] | None = None) -> FleetRun:
    """Migrate every tenant schema (or `schemas`) to head, `processes` at a time, in chunks of `chunk` schemas
    (by default about `CHUNKS_PER_PROCESS` per process); failures are reported, not raised. With `canary`, the
    first `canary` tenants (by id) go first, and the run stops there if any of them fails. `on_reports` is
    called with each finished chunk's reports (progress)."""
    url = engine.url.render_as_string(hide_password=False)
    schemas = tenant_schemas(engine) if schemas is None else schemas
    run = FleetRun(len(schemas))
    if not schemas:
        return run
    processes = max(1, min(processes, len(schemas)))
    waves = [schemas[:canary], schemas[canary:]] if canary > 0 else [schemas]
    with _Workers(url, processes, script_location) as workers:
        for wave in waves:
            size = chunk or max(1, math.ceil(len(wave) / (processes * CHUNKS_PER_PROCESS)))
            for reports in workers.run(chunked(wave, size)):
                run.reports.extend(reports)
                if on_reports:
                    on_reports(reports)
            if canary > 0 and wave is waves[0] and run.failed:
                run.canary_failed = True
                break
    return run


class _Workers:
    """Chunks run in worker processes; with one process, in this one (no process to start)."""

    def __init__(self, url: str, processes: int, script_location: Path):
        self.url, self.processes, self.script_location = url, processes, script_location
        self.pool = self.local = None

    def __enter__(self):
        if self.processes == 1:
            self.local = TenantMigrator(self.url, self.script_location)
        else:
            self.pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_start_worker, initargs=(self.url, self.script_location))
        return self

    def run(self, chunks: list[list[str]]) -> Iterable[list[SchemaReport]]:
        """Each chunk's reports as soon as it is done."""
        if self.local is not None:
            for schemas in chunks:
                yield [self.local.migrate(schema) for schema in schemas]
            return
        pending = {self.pool.submit(_migrate_chunk, schemas) for schemas in chunks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def __exit__(self, *exc):
        if self.local is not None:
            self.local.close()
            self.local.engine.dispose()
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def current_schema() -> str:
    """Inside a tenant migration: the real name of the schema being migrated.

    `schema="tenant"` is translated only where Alembic builds a Table (create_table, create_index);
    ALTER-style operations (add_column, create_foreign_key, ...) print the schema as given, so tenant
    migrations pass this name to every operation."""
    from alembic import op

    return op.get_context().config.attributes["schema"]


def remember_run(redis, run: FleetRun) -> None:
    """Keep the run's outcome in Redis for the metrics scrape; a failed Redis loses only that figure."""
    outcome = {"migrated": len(run.reports) - len(run.failed), "failed": len(run.failed),
               "not_started": run.not_started, "finished_at": time.time()}
    try:
        redis.set(LAST_RUN_KEY, json.dumps(outcome))
    except Exception:  # noqa: BLE001 - the migration itself is done
        logging.getLogger(__name__).warning("could not keep the migration's outcome for /metrics", exc_info=True)
