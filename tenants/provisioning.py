"""Creating a tenant: its schema, every table at the migration head, the stamped version and seeds."""
from collections.abc import Callable
from functools import cache
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateSequence, CreateTable

from crm.extensions import TENANT_IDS, db
from tenants import roles
from tenants.models import Tenant, schema_name

SCHEMA_TOKEN = "__tenant_schema__"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def tenant_tables():
    """The tables that live in every tenant schema, parents first."""
    return [table for table in db.metadata.sorted_tables if table.schema == "tenant"]


@cache
def tenant_head() -> str:
    """The newest revision of the tenant migration track."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS / "tenant"))
    return ScriptDirectory.from_config(config).get_current_head()


@cache
def ddl_script() -> str:
    """One SQL script that builds a tenant schema's tables at head; the schema name is a token to fill in."""
    dialect = postgresql.psycopg.dialect()
    statements = [CreateSequence(TENANT_IDS)]
    for table in tenant_tables():
        statements.append(CreateTable(table))
        statements.extend(CreateIndex(index) for index in sorted(table.indexes, key=lambda i: i.name))
    # Keys between tables that point at each other go in once both tables exist.
    statements.extend(AddConstraint(fk) for table in tenant_tables() for fk in table.foreign_key_constraints
                      if fk.use_alter)
    rendered = [
        str(s if isinstance(s, str) else s.compile(
            dialect=dialect, schema_translate_map={"tenant": SCHEMA_TOKEN}, render_schema_translate=True))
        for s in statements
    ]
    rendered.append(
        'CREATE TABLE "%s".alembic_version (version_num VARCHAR(32) NOT NULL, '
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))" % SCHEMA_TOKEN)
    rendered.append("INSERT INTO \"%s\".alembic_version (version_num) VALUES ('%s')" % (SCHEMA_TOKEN, tenant_head()))
    return ";\n".join(rendered)


# What every new workspace starts with, registered by the features that own it (crm/members: roles and
# settings; crm/deals: the default pipeline) from their models modules, which crm.models imports before
# any schema is built. So a new feature seeds its tables without editing this file.
_seeders: dict[str, Callable[[dict], None]] = {}


def seeds_new_tenants(func: Callable[[dict], None]) -> Callable[[dict], None]:
    """Register `func(in_schema)`, run for every new tenant schema; `in_schema` are the execution options
    that put its statements in that schema. Seeders run in module order (never in import order), and none
    may need another feature's seeds."""
    _seeders[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def build_schema(schema: str) -> None:
    """Create `schema` and its role, then run the DDL script and every registered seeder as that role (so it
    owns every table), inside the current transaction."""
    roles.create_schema(db.session.connection(), schema)
    with roles.acting_as(schema) as in_schema:
        _create_tables(schema)
        for name in sorted(_seeders):
            _seeders[name](in_schema)


def build_tables(schema: str) -> None:
    """Create the tables of `schema` (made with its role: `roles.create_schema`) at head, stamped, without seeds,
    inside the current transaction: a restore fills them (tenants/backup.py)."""
    with roles.acting_as(schema):
        _create_tables(schema)


def _create_tables(schema: str) -> None:
    # One round trip: psycopg sends a parameterless multi-statement script as one simple query.
    db.session.connection().exec_driver_sql(ddl_script().replace(SCHEMA_TOKEN, schema))


def provision_tenant(name: str, slug: str) -> Tenant:
    """Create a tenant, still without members, in the current transaction; the caller commits (or rolls back
    everything) and refills the spare schemas (crm/jobs.py).

    A spare schema built ahead of time is taken when one is ready (the tenant gets the id it was built for);
    otherwise the schema is built here. Either way the tenant is at the migration head with the default seeds,
    owned by its own role."""
    from tenants import spares

    spare_id = spares.claim_spare()
    tenant = Tenant(id=spare_id, name=name, slug=slug, status="active")
    db.session.add(tenant)
    db.session.flush()
    if spare_id is None:
        build_schema(schema_name(tenant.id))
    return tenant
