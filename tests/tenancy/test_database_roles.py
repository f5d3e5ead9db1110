"""Isolation PostgreSQL itself enforces: every tenant transaction acts as the tenant's own role (tenants/roles.py),
which owns its schema and may do in `public` only what the public tables declare."""
import psycopg
import pyotp
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError

from crm.extensions import db
from tenants import roles
from tenants.binding import tenant_bound


def refused(tenant, sql: str) -> str:
    """The error PostgreSQL answers `sql` with inside `tenant`'s transaction (which goes on after it)."""
    with tenant_bound(tenant.ref):
        with pytest.raises(ProgrammingError) as error, db.session.begin_nested():
            db.session.execute(text(sql))
        return str(error.value.orig).splitlines()[0]


def role_of(tenant) -> str:
    return roles.tenant_role(db.session.connection(), f"t_{tenant.id}")


def test_a_tenant_transaction_cannot_read_or_write_another_tenants_schema(app, acme, globex, make_customer,
                                                                         in_tenant):
    make_customer(globex, name="Globex secret")
    make_customer(acme, name="Acme own")
    with app.app_context():
        assert refused(acme, f"select name from t_{globex.id}.customers") == \
            f"permission denied for schema t_{globex.id}"
        assert refused(acme, f"insert into t_{globex.id}.tags (name) values ('planted')") == \
            f"permission denied for schema t_{globex.id}"
        assert refused(acme, f"delete from t_{globex.id}.customers") == f"permission denied for schema t_{globex.id}"
    # The tenant's own tables answer, named with the placeholder or with their real schema.
    own = in_tenant(acme, lambda: db.session.scalars(text(f"select name from t_{acme.id}.customers")).all())
    assert own == ["Acme own"]
    assert in_tenant(globex, lambda: db.session.scalar(text(f"select count(*) from t_{globex.id}.tags"))) == 0


def test_a_tenant_transaction_reaches_only_the_public_tables_it_needs(app, acme):
    with app.app_context():
        with tenant_bound(acme.ref):  # what tenant pages and jobs use
            assert db.session.scalar(text("select email from public.accounts where id = :a"),
                                     {"a": acme.admin_account_id}) == f"admin@{acme.slug}.example"
            assert db.session.scalar(text("select count(*) from public.memberships where tenant_id = :t"),
                                     {"t": acme.id}) == 1
        assert refused(acme, "select slug from public.tenants") == "permission denied for table tenants"
        assert refused(acme, "update public.accounts set name = 'x'") == "permission denied for table accounts"
        assert refused(acme, "select body_text from public.outbound_emails") == \
            "permission denied for table outbound_emails"  # password-reset links live there
        assert refused(acme, "select * from public.spare_schemas") == "permission denied for table spare_schemas"
        assert refused(acme, "select * from public.alembic_version") == "permission denied for table alembic_version"


def test_requests_and_jobs_act_as_their_tenants_role(app, acme, client_as):
    from crm.jobs import tenant_job

    ran_as = []

    def who_ran(conn, cursor, statement, *args):  # asked of the server on the same connection, past SQLAlchemy
        ran_as.append((statement, cursor.connection.execute("select current_user").fetchone()[0]))

    with app.app_context():
        role, engine = role_of(acme), db.engine
    client = client_as(acme.admin_account_id)
    event.listen(engine, "after_cursor_execute", who_ran)
    try:
        page = client.get(f"/{acme.slug}/customers/")
    finally:
        event.remove(engine, "after_cursor_execute", who_ran)
    assert page.status_code == 200
    # Only the tenant's own lookup (on a connection of its own) runs as the app: the account, the member and
    # the page's rows are read as the tenant.
    lookup, *statements = ran_as
    assert "FROM public.tenants" in lookup[0] and lookup[1] != role
    assert {user for _statement, user in statements} == {role}
    assert any("public.accounts" in statement for statement, _user in statements)
    assert any(f"t_{acme.id}.customers" in statement for statement, _user in statements)

    @tenant_job
    def who_am_i():
        return db.session.scalar(text("select current_user"))

    assert who_am_i(acme.id) == role


def test_every_object_of_a_tenant_schema_belongs_to_its_role_which_cannot_log_in(app, acme):
    with app.app_context():
        role = role_of(acme)
        owners = set(db.session.scalars(text(
            "select pg_get_userbyid(nspowner) from pg_namespace where nspname = :s"
            " union select pg_get_userbyid(relowner) from pg_class where relnamespace = to_regnamespace(:s)"),
            {"s": f"t_{acme.id}"}))
        attributes = db.session.execute(text("select rolcanlogin, rolsuper, rolcreaterole, rolbypassrls"
                                             " from pg_roles where rolname = :r"), {"r": role}).one()
        tenants, keys = roles.group_roles(db.session.connection())
        pg16 = db.session.connection().dialect.server_version_info >= (16,)
        options = "inherit_option, set_option" if pg16 else "m.rolinherit, true"  # before 16: the member's own
        memberships = set(db.session.execute(text(
            f"select g.rolname, m.rolname, admin_option, {options} from pg_auth_members a"
            " join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member"
            " where g.rolname = :r or m.rolname = :r"), {"r": role}).tuples())
    assert owners == {role}
    assert tuple(attributes) == (False, False, False, False)
    # The keys holder may switch to the role but inherits nothing of it; the role inherits the public grants
    # (and from PostgreSQL 16 may not switch to the group, which has no right the role lacks anyway).
    assert memberships == {(role, keys, True, False, True), (tenants, role, False, True, not pg16)}


def test_role_names_carry_the_database_so_parallel_test_databases_never_share_one(app, acme):
    with app.app_context():
        database = db.session.scalar(text("select current_database()"))
        assert role_of(acme) == f"{database}_t_{acme.id}"
    long_a, long_b = "crm_" + "a" * 60 + "_gw0", "crm_" + "a" * 60 + "_gw1"
    names = {roles.prefix_for(long_a) + "_t_2147483647", roles.prefix_for(long_b) + "_t_2147483647"}
    assert len(names) == 2 and all(len(name.encode()) <= 63 for name in names)
    assert len((roles.prefix_for("商" * 30) + "_tenant_keys").encode()) <= 63


def test_every_public_table_declares_what_tenant_transactions_may_do_and_gets_exactly_that(app):
    """A new public table must say what tenant transactions do with it (often nothing), in its table info."""
    with app.app_context():
        declared = {table.name: roles.tenant_access(table) for table in db.metadata.sorted_tables
                    if table.schema == "public"}
        tenants, _keys = roles.group_roles(db.session.connection())
        granted = set(db.session.execute(text(
            "select table_name, privilege_type from information_schema.role_table_grants"
            " where grantee = :g and table_schema = 'public'"), {"g": tenants}).tuples())
        by_column = set(db.session.execute(text(
            "select table_name, privilege_type, column_name from information_schema.column_privileges"
            " where grantee = :g and table_schema = 'public'"), {"g": tenants}).tuples())
    assert declared["tenants"] == [] and declared["spare_schemas"] == []
    assert granted == {(name, privilege) for name, privileges in declared.items() for privilege in privileges
                       if " " not in privilege}
    assert ("outbound_emails", "SELECT", "id") in by_column
    assert ("outbound_emails", "SELECT", "body_text") not in by_column


def test_a_schema_from_before_tenant_roles_is_given_to_its_role_by_the_upgrade(app, make_tenant, client_as,
                                                                              make_customer):
    from tenants.migrations import upgrade_schema

    old = make_tenant()
    make_customer(old, name="Kept through the upgrade")
    schema = f"t_{old.id}"
    with app.app_context():
        role = role_of(old)
        with db.engine.begin() as connection:  # as the app's login role owned it all before
            for kind, name in connection.execute(text(
                    "select case relkind when 'S' then 'sequence' else 'table' end, oid::regclass::text from pg_class"
                    " where relnamespace = to_regnamespace(:s) and (relkind = 'r' or relname = 'ids')"),
                    {"s": schema}).all():  # the tables' own sequences (orders', tickets') follow them
                connection.exec_driver_sql(f"alter {kind} {name} owner to current_user")
            connection.exec_driver_sql(f'alter schema {schema} owner to current_user; drop role "{role}"')
    with pytest.raises(DBAPIError, match=f'role "{role}" does not exist'):  # so: upgrade, then deploy the code
        client_as(old.admin_account_id).get(f"/{old.slug}/customers/")
    with app.app_context():
        tables = db.session.scalar(text("select count(*) from pg_tables where schemaname = :s"), {"s": schema})
        assert upgrade_schema(db.engine, schema) == 1 + tables + 1  # the schema, its tables, its id sequence
        owners = set(db.session.scalars(text(
            "select pg_get_userbyid(relowner) from pg_class where relnamespace = to_regnamespace(:s)"), {"s": schema}))
        with db.engine.begin() as connection:
            assert roles.ensure_owner(connection, schema) == 0  # done once, nothing left the second time
    assert owners == {role}
    page = client_as(old.admin_account_id).get(f"/{old.slug}/customers/")
    assert page.status_code == 200 and "Kept through the upgrade" in page.text


def test_dropping_a_database_drops_the_roles_made_for_it_and_no_others(service_urls):
    url = make_url(service_urls[0])
    admin_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    x = f"{url.database}_x"  # a database name of this test process only: several may share the cluster
    made = [f"{x}_tenants", f"{x}_tenant_keys", f"{x}_t_1", f"{x}_t_2",
            f"{x}_gw0_tenants", f"{x}_gw0_t_1"]  # another database's, whose name starts like the first one's
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute("drop role if exists " + ", ".join(f'"{name}"' for name in made))
        for name in made:
            connection.execute(f'create role "{name}" nologin')
        connection.execute(f'grant "{x}_tenants" to "{x}_t_1", "{x}_t_2", "{x}_tenant_keys"')
        connection.execute(f'grant "{x}_gw0_tenants" to "{x}_gw0_t_1"')
        try:
            assert sorted(roles.drop_database_roles(connection, x)) == sorted(made[:4])
            left = {row[0] for row in connection.execute("select rolname from pg_roles where rolname like %s",
                                                         (f"{x}%",))}
            assert left == set(made[4:])
        finally:
            connection.execute("drop role if exists " + ", ".join(f'"{name}"' for name in made))


@pytest.fixture
def login_app(app, service_urls):
    """The app on a login role made as docs/operations.md says for production: no superuser; CREATEROLE, CREATE on
    the database, owner of the public tables (it runs the migrations), holder of the tenant keys. Nothing else."""
    from crm import create_app

    url = make_url(service_urls[0])
    with app.app_context():
        connection = db.session.connection()
        login, (_tenants, keys) = f"{roles.prefix(connection)}_login", roles.group_roles(connection)
        db.session.rollback()
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'drop role if exists "{login}"')  # left by an interrupted run
        connection.execute(f"create role \"{login}\" login createrole password 'login-password'")
        connection.execute(f'grant create on database "{url.database}" to "{login}"; grant "{keys}" to "{login}"')
        for table in connection.execute("select tablename from pg_tables where schemaname = 'public'").fetchall():
            connection.execute(f'alter table public."{table[0]}" owner to "{login}"')
    login_app = create_app({
        **{key: app.config[key] for key in ("TESTING", "REDIS_URL", "SECRET_KEY", "TENANT_CACHE_SECONDS",
                                            "LOGIN_IP_LIMITS", "ARGON2_PROFILE")},
        "TENANT_POOL_SIZE": 0,
        "SQLALCHEMY_DATABASE_URI": url.set(drivername="postgresql+psycopg", username=login,
                                           password="login-password").render_as_string(hide_password=False),
    })
    try:
        yield login_app
    finally:
        with login_app.app_context():
            db.engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'reassign owned by "{login}" to current_user; drop owned by "{login}";'
                               f' drop role "{login}"')


def test_the_app_runs_on_a_login_role_that_is_no_superuser_and_reads_no_tenant_itself(login_app):
    """Migrations, cold and spare sign-ups, pages, dropping stale spares and converting an old schema, all with
    the rights production gives the app; the login role on its own reads no tenant's data."""
    from crm.accounts import service as accounts
    from crm.accounts.models import Account
    from crm.accounts.sessions import start_session
    from crm.audit.models import AuditEntry
    from crm.two_factor import service as two_factor
    from tenants.binding import tenant_bound
    from tenants.resolver import tenant_by_id
    from tenants.migrations import migrate_one, schema_version, upgrade_public, upgrade_schema
    from tenants.models import SpareSchema
    from tenants.provisioning import tenant_head
    from tenants.spares import refill

    def sign_up(slug):
        with login_app.app_context():
            account, tenant = accounts.sign_up("Prod Co", slug, "Pat", f"pat@{slug}.example", "password-123", "en")
            db.session.commit()
            tenant_id = tenant.id
            user_id = start_session(db.session.get(Account, account.id), "127.0.0.1", "pytest")
            db.session.commit()
        client = login_app.test_client()
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = user_id, True
        return tenant_id, client.get(f"/{slug}/customers/")

    with login_app.app_context():
        upgrade_public(db.engine)
        assert db.session.scalar(text("select rolsuper from pg_roles where rolname = current_user")) is False
    cold_id, page = sign_up("prod-cold")
    assert page.status_code == 200 and "Pat" in page.text
    with login_app.app_context():
        with pytest.raises(ProgrammingError, match=f"permission denied for schema t_{cold_id}"):
            db.session.execute(text(f"select name from t_{cold_id}.members"))
        db.session.rollback()
        account = db.session.scalar(select(Account).where(Account.email == "pat@prod-cold.example"))
        secret = two_factor.new_secret()
        two_factor.enable(account, secret, pyotp.TOTP(secret).now())  # logged in each workspace of the account
        db.session.commit()
        with tenant_bound(tenant_by_id(cold_id)):
            assert db.session.scalar(select(AuditEntry.changes).where(AuditEntry.entity == "member")
                                     .order_by(AuditEntry.id.desc())) == {"two_factor": [False, True]}
        login_app.config["TENANT_POOL_SIZE"] = 1
        assert refill() == 1
        spare_id = db.session.scalar(select(SpareSchema.tenant_id))
    took_spare, page = sign_up("prod-spare")
    assert took_spare == spare_id and page.status_code == 200
    with login_app.app_context():  # what `tenants upgrade` runs for each tenant, in a process of its own
        report = migrate_one(db.engine.url.render_as_string(hide_password=False), f"t_{cold_id}")
    assert (report.before, report.after, report.error, report.given) == (tenant_head(), tenant_head(), None, 0)
    with login_app.app_context():
        assert refill() == 1
        db.session.execute(text("update public.spare_schemas set head = 'old'"))
        db.session.commit()
        login_app.config["TENANT_POOL_SIZE"] = 0
        assert refill() == 0 and db.session.scalar(select(SpareSchema.tenant_id)) is None  # the stale one dropped
        with db.engine.begin() as connection:  # a tenant schema of the login role's own, as before tenant roles
            connection.exec_driver_sql("create schema t_login_drift")
        upgrade_schema(db.engine, "t_login_drift")  # given to its role, then every migration run as that role
        with db.engine.begin() as connection:
            roles.switch_to(connection, "t_login_drift")
            assert schema_version(connection, "t_login_drift") == tenant_head()
        with db.engine.begin() as connection:
            roles.drop_schema(connection, "t_login_drift")
