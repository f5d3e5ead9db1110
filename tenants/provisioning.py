"""Creating a tenant: its schema, every table at the migration head, the stamped version and seeds."""
from functools import cache
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from crm.extensions import db
from tenants.models import Membership, Tenant, schema_name

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
    """One SQL script that builds a tenant schema at head; the schema name is a token to fill in."""
    dialect = postgresql.psycopg.dialect()
    statements = ['CREATE SCHEMA "%s"' % SCHEMA_TOKEN]
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


def build_schema(schema: str) -> None:
    """Run the DDL script and the default seeds for `schema` inside the current transaction."""
    from crm.members.models import DEFAULT_SETTINGS, Role, Setting
    from crm.members.permissions import DEFAULT_ROLES
    from crm.pipelines.models import DEFAULT_PIPELINE, DEFAULT_STAGES, Pipeline, Stage

    # One round trip: psycopg sends a parameterless multi-statement script as one simple query.
    db.session.connection().exec_driver_sql(ddl_script().replace(SCHEMA_TOKEN, schema))
    options = {"schema_translate_map": {"tenant": schema}}
    db.session.execute(insert(Role), [dict(role) for role in DEFAULT_ROLES], execution_options=options)
    db.session.execute(insert(Setting), [{"key": k, "value": v} for k, v in DEFAULT_SETTINGS.items()],
                       execution_options=options)
    pipeline_id = db.session.scalar(insert(Pipeline).values(**DEFAULT_PIPELINE).returning(Pipeline.id),
                                    execution_options=options)
    db.session.execute(insert(Stage), [{**stage, "pipeline_id": pipeline_id, "position": position}
                                       for position, stage in enumerate(DEFAULT_STAGES)], execution_options=options)


def add_admin(schema: str, admin_account) -> None:
    """The first member of a tenant, with the Admin role."""
    from crm.members.models import Member, Role

    db.session.execute(
        insert(Member).from_select(
            ["account_id", "role_id", "name", "email", "active"],
            Role.__table__.select().with_only_columns(
                db.literal(admin_account.id), Role.id, db.literal(admin_account.name),
                db.literal(admin_account.email), db.literal(True),
            ).where(Role.key == "admin"),
        ),
        execution_options={"schema_translate_map": {"tenant": schema}},
    )


def provision_tenant(name: str, slug: str, admin_account=None) -> Tenant:
    """Create a tenant in the current transaction; the caller commits (or rolls back everything).

    A spare schema built ahead of time is taken when one is ready (a rename); otherwise the schema is
    built here. Either way the tenant is at the migration head with the default seeds."""
    from tenants import pool

    tenant = Tenant(name=name, slug=slug, status="active")
    db.session.add(tenant)
    db.session.flush()
    schema = schema_name(tenant.id)
    if not pool.claim_spare(schema):
        build_schema(schema)
    pool.refill_after_commit()
    if admin_account is not None:
        add_admin(schema, admin_account)
        db.session.add(Membership(account_id=admin_account.id, tenant_id=tenant.id))
        db.session.flush()
    return tenant
