"""Tenant roles: PostgreSQL itself keeps a tenant's transaction inside the tenant's schema.

Each tenant schema `t_<id>` and everything in it is owned by a role of its own, without login. Every tenant
transaction runs `SET LOCAL ROLE` to that role (tenants/binding.py), so a wrongly built query that names
another tenant's schema is refused by PostgreSQL ("permission denied for schema t_7"), and `public` tables
give a tenant transaction only what they declare. Role names are cluster-wide, while a cluster may hold
several databases of this app (CI's parallel test databases all have a tenant 1), so every name starts with
the database's: `<db>_t_<id>`. Two more roles per database tie them together:

- `<db>_tenants`: every tenant role is a member and inherits its privileges, which are what tenant
  transactions may do with `public` tables: each public table declares them in `info["tenant_access"]`, and
  `grant_public()` grants exactly those (run after every public migration).
- `<db>_tenant_keys`: a member of every tenant role with SET and ADMIN but without INHERIT (and an admin of
  `<db>_tenants`). The login roles that run the app and its migrations are its members: they may switch to,
  create and drop any tenant role, yet hold no privilege on any tenant's data themselves.

SET ROLE bounds wrong queries, not arbitrary SQL: a statement may always `RESET ROLE` back to the login role
(docs/security.md says what that means here).
"""
import hashlib
import re
import weakref
from contextlib import contextmanager

from psycopg import pq
from sqlalchemy import text

from crm.extensions import db

TENANT_ACCESS = "tenant_access"  # the key of a public table's info naming what tenant transactions may do
_PRIVILEGE = re.compile(r"(SELECT|INSERT|UPDATE|DELETE)(?: \(([a-z_][a-z0-9_]*(?:, *[a-z_][a-z0-9_]*)*)\))?")
# A role name is at most 63 bytes; the longest suffixes are a tenant's `_t_<id>` (13 bytes for ids below 10^10)
# and `_tenant_keys` (12): a longer database name is cut and made unique by a hash of all of it.
PREFIX_BYTES = 63 - 13

_prefixes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> prefix


def prefix_for(database: str) -> str:
    """The start of every role name made for `database`."""
    if len(database.encode()) <= PREFIX_BYTES:
        return database
    cut = database.encode()[:PREFIX_BYTES - 9].decode(errors="ignore")
    return f"{cut}_{hashlib.sha256(database.encode()).hexdigest()[:8]}"


def prefix(connection) -> str:
    """This database's role prefix, asked of the server once per engine (through PgBouncer the URL's database
    name may be an alias)."""
    engine = connection.engine
    if engine not in _prefixes:
        _prefixes[engine] = prefix_for(connection.exec_driver_sql("select current_database()").scalar())
    return _prefixes[engine]


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tenant_role(connection, schema: str) -> str:
    return f"{prefix(connection)}_{schema}"


def group_roles(connection) -> tuple[str, str]:
    """(the group every tenant role is in, the role that holds every tenant role's keys)."""
    return f"{prefix(connection)}_tenants", f"{prefix(connection)}_tenant_keys"


def switch_to(connection, schema: str) -> None:
    """Act as `schema`'s role until the transaction ends.

    At the start of a transaction the SET goes to the server with its BEGIN, in one round trip, under the driver:
    psycopg would send a BEGIN of its own and wait for it first, and that round trip was nearly all of the cost
    (0.08 against 0.02 ms: docs/benchmarks.md). The driver then finds its transaction begun and sends no BEGIN.
    """
    command = f"SET LOCAL ROLE {quoted(tenant_role(connection, schema))}"
    driver = connection.connection.driver_connection
    if _begins_plainly(driver) and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE:
        result = driver.pgconn.exec_(f"BEGIN; {command}".encode(driver.info.encoding))
        if result.status == pq.ExecStatus.COMMAND_OK:
            return
        driver.pgconn.exec_(b"ROLLBACK")  # and let the driver report the error below, as for any statement
    connection.exec_driver_sql(command)


def _begins_plainly(driver) -> bool:
    """Whether the driver would start a transaction with a bare BEGIN (no isolation level, no autocommit)."""
    return not driver.autocommit and (driver.isolation_level, driver.read_only, driver.deferrable) == (None,) * 3


def _role_exists(connection, role: str) -> bool:
    return connection.execute(text("select 1 from pg_roles where rolname = :r"), {"r": role}).first() is not None


def _new_role_sql(connection, role: str) -> str:
    tenants, keys = group_roles(connection)
    return (f"CREATE ROLE {quoted(role)} NOLOGIN;\n"
            f"{_grant(connection, role, quoted(keys), admin=True, inherit=False, switch=True)};\n"
            f"{_grant(connection, tenants, quoted(role), admin=False, inherit=True, switch=False)}")


def _grant(connection, role: str, member: str, *, admin: bool, inherit: bool, switch: bool) -> str:
    """GRANT `role` TO `member` with these options. Before PostgreSQL 16 a grant carries only ADMIN: every member
    may SET ROLE, and whether it inherits is its own INHERIT attribute (the keys role is made NOINHERIT)."""
    if connection.dialect.server_version_info < (16,):
        return f"GRANT {quoted(role)} TO {member}" + (" WITH ADMIN OPTION" if admin else "")
    options = {"ADMIN": admin, "INHERIT": inherit, "SET": switch}
    return f"GRANT {quoted(role)} TO {member} WITH " + ", ".join(f"{k} {str(v).upper()}" for k, v in options.items())


def create_schema(connection, schema: str) -> None:
    """Create `schema` owned by a new role of its own, in one round trip (the caller then builds it as that
    role: `acting_as`). A role of that name left behind is an error, never reused: someone else may have made
    it, with other rights."""
    role = tenant_role(connection, schema)
    connection.exec_driver_sql(f"{_new_role_sql(connection, role)};\n"
                               f"CREATE SCHEMA {quoted(schema)} AUTHORIZATION {quoted(role)}")


@contextmanager
def acting_as(schema: str):
    """Run a block of the current transaction as `schema`'s role, for writes into a schema that no tenant
    binding maps (provisioning); yields the execution options that map the models onto it. The role in force
    before comes back afterwards; after an error the transaction can only be rolled back, which ends it too."""
    db.session.flush()  # pending public rows go in as who added them, not as the tenant
    connection = db.session.connection()
    before = connection.exec_driver_sql("select current_setting('role')").scalar()
    switch_to(connection, schema)
    yield {"schema_translate_map": {"tenant": schema}}
    db.session.flush()
    connection.exec_driver_sql("SET LOCAL ROLE " + ("NONE" if before == "none" else quoted(before)))


@contextmanager
def as_login_role():
    """Run a block of a tenant's transaction as the app's login role, for the one write into `public` a tenant's
    own action makes that its role may not (renaming the tenant: tenants/service.py). The tenant's role comes back
    afterwards, so the rest of the transaction is bounded as before."""
    db.session.flush()  # pending tenant rows go in as the tenant
    connection = db.session.connection()
    before = connection.exec_driver_sql("select current_setting('role')").scalar()
    connection.exec_driver_sql("SET LOCAL ROLE NONE")
    yield
    db.session.flush()
    if before != "none":
        connection.exec_driver_sql(f"SET LOCAL ROLE {quoted(before)}")


def drop_schema(connection, schema: str) -> None:
    """Drop a tenant schema, everything in it and its role, in the current transaction (which then goes on as
    the login role: not for a tenant's transaction)."""
    role = tenant_role(connection, schema)
    if not _role_exists(connection, role):  # a schema that never had one (dropped by the caller's rights)
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
        return
    connection.exec_driver_sql(f"SET LOCAL ROLE {quoted(role)};\n"  # its owner: no other rights needed
                               f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE;\n"
                               f"SET LOCAL ROLE NONE;\n"
                               f"DROP ROLE {quoted(role)}")


# Every kind of object a tenant schema may hold that has an owner, with the ALTER that gives it to the tenant's
# role. A table's indexes, row type and own sequences follow the table.
_NOT_OWNED = """
with ns as (select oid from pg_namespace where nspname = :schema),
     role as (select oid from pg_roles where rolname = :role)
select 'ALTER ' || case c.relkind when 'S' then 'SEQUENCE' when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW'
                                   when 'f' then 'FOREIGN TABLE' when 'c' then 'TYPE' else 'TABLE' end
       || ' ' || c.oid::regclass
  from pg_class c
 where c.relnamespace = (select oid from ns) and c.relowner <> (select oid from role)
   and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c', 'S')
   and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                                          and d.objid = c.oid and d.deptype in ('a', 'i')))
union all
select 'ALTER ' || case t.typtype when 'd' then 'DOMAIN' else 'TYPE' end || ' ' || t.oid::regtype
  from pg_type t
 where t.typnamespace = (select oid from ns) and t.typowner <> (select oid from role) and t.typtype in ('e', 'd', 'r')
union all
select 'ALTER ROUTINE ' || p.oid::regprocedure
  from pg_proc p where p.pronamespace = (select oid from ns) and p.proowner <> (select oid from role)
"""


def ensure_owner(connection, schema: str) -> int:
    """Give `schema` and everything in it to its own role, made when missing; returns how many objects
    changed owner (0 once done). This is how a database from before tenant roles gets them: `tenants upgrade`
    runs it for each tenant before its migrations."""
    role = tenant_role(connection, schema)
    owned = connection.execute(text(
        "select pg_get_userbyid(nspowner) = :r from pg_namespace where nspname = :s"),
        {"r": role, "s": schema}).scalar()
    if owned:
        # Its objects are the role's too: a schema is given with all it holds in one statement, and everything
        # made in it since was made as the role. This is the one query a fleet migration pays per schema: the
        # search below reads the whole of pg_class, pg_type and pg_proc (no index starts with the schema).
        return 0
    if not _role_exists(connection, role):
        connection.exec_driver_sql(_new_role_sql(connection, role))
    alters = [f"ALTER SCHEMA {quoted(schema)} OWNER TO {quoted(role)}"] if owned is False else []
    alters += [f"{alter} OWNER TO {quoted(role)}" for alter in
               connection.execute(text(_NOT_OWNED), {"schema": schema, "role": role}).scalars()]
    if alters:
        connection.exec_driver_sql(";\n".join(alters))
    return len(alters)


def tenant_access(table) -> list[str]:
    """What tenant transactions may do with a public table, as it declares: privileges, each on the whole table
    or on some columns (`"SELECT (id)"`: an ORM insert reads its new id back). A table that declares nothing
    is an error (tests/tenancy/test_database_roles.py finds it first)."""
    if TENANT_ACCESS not in table.info:
        raise LookupError(f'public.{table.name} must declare info={{"{TENANT_ACCESS}": (...)}} (tenants/roles.py)')
    granted = []
    for entry in table.info[TENANT_ACCESS]:
        match = _PRIVILEGE.fullmatch(entry)
        columns = [c.strip() for c in match.group(2).split(",")] if match and match.group(2) else []
        if match is None or any(column not in table.c for column in columns):
            raise ValueError(f"public.{table.name}: cannot grant {entry!r}")
        granted.append(match.group(1) + (f" ({', '.join(quoted(c) for c in columns)})" if columns else ""))
    return granted


_OWN_SEQUENCES = """
select s.oid::regclass::text from pg_class s join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid
 where s.relkind = 'S' and d.refclassid = 'pg_class'::regclass and d.refobjid = to_regclass(:table)
"""


def grant_public(connection) -> None:
    """Grant `<db>_tenants` exactly what the public tables declare, revoking anything else. The first time, make
    this database's two group roles, and the login role running this a holder of the keys (others are made
    holders by an operator: docs/operations.md)."""
    tenants, keys = group_roles(connection)
    statements = []
    if not _role_exists(connection, keys):
        # Holding the keys is what lets a login role add a new tenant role to the group, and the group's rights
        # reach no one through it (no INHERIT).
        statements += [f"CREATE ROLE {quoted(tenants)} NOLOGIN", f"CREATE ROLE {quoted(keys)} NOLOGIN NOINHERIT",
                       _grant(connection, tenants, quoted(keys), admin=True, inherit=False, switch=False),
                       _grant(connection, keys, "SESSION_USER", admin=False, inherit=True, switch=True)]
    statements += [f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted(tenants)}",
                   f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted(tenants)}"]
    for table in db.metadata.sorted_tables:
        if table.schema != "public" or not (privileges := tenant_access(table)):
            continue
        statements.append(f"GRANT {', '.join(privileges)} ON public.{quoted(table.name)} TO {quoted(tenants)}")
        if any(p.startswith("INSERT") for p in privileges):  # a serial id takes its number from its own sequence
            sequences = connection.execute(text(_OWN_SEQUENCES), {"table": f"public.{quoted(table.name)}"}).scalars()
            statements += [f"GRANT USAGE ON SEQUENCE {sequence} TO {quoted(tenants)}" for sequence in sequences]
    connection.exec_driver_sql(";\n".join(statements))


def drop_database_roles(connection, database: str) -> list[str]:
    """Drop every role made for `database`, on a psycopg connection to another database of the cluster (after
    `database` is dropped: a role that still owns something cannot go). Returns their names."""
    tenants, keys = f"{prefix_for(database)}_tenants", f"{prefix_for(database)}_tenant_keys"
    names = [row[0] for row in connection.execute(
        "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.member"
        " where m.roleid = (select oid from pg_roles where rolname = %s) and r.rolname <> %s"
        " union all select rolname from pg_roles where rolname in (%s, %s)", (tenants, keys, tenants, keys))]
    if names:
        connection.execute("DROP ROLE " + ", ".join(quoted(name) for name in names))
    return names
