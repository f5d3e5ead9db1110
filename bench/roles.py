"""Benchmark of the isolation PostgreSQL enforces (tenants/roles.py): what `SET LOCAL ROLE` costs per transaction
and per request, what a tenant's own role costs at provisioning, and both again with 10,000 tenant roles.

    .venv/bin/python bench/roles.py           # full: about 2 minutes on 2 cores
    .venv/bin/python bench/roles.py --quick   # 500 and 2,000 roles, fewer samples: about 30 s

Same services as bench/run.py (embedded PostgreSQL + Valkey, or DATABASE_URL + REDIS_URL with a database
`crm_bench`, dropped at the end with its roles). The app runs as production's login role would
(docs/operations.md): not a superuser; CREATEROLE, CREATE on the database, owner of the public tables, holder
of the tenant keys. A second app on the superuser stands for the development and test set-up. Every figure
is beside its floor, measured in the same run, interleaved (the two alternate, the one going first rotates):

(a) Provisioning, after the cluster is settled as in bench/run.py: `create_workspace` + commit with no spare
    ready, by the login role; with the tenant's role
    (the code) against the same without one (schema owned by the login role, no role, no SET ROLE: the code
    before, by swapping `tenants.roles.create_schema` and `acting_as` for role-less versions).
(b) Per transaction, raw psycopg: `BEGIN; [SET LOCAL ROLE <tenant>;] SELECT ... FROM public.accounts WHERE
    id = $1; COMMIT` (the user loader's query, which both may run), as the login role and as the superuser;
    and the first SET ROLE after another session changed role memberships (a sign-up elsewhere), which
    makes PostgreSQL rebuild the login role's membership list.
(c) Per request, through Flask's test client: `GET /<slug>/bench-ping` (resolution, binding, the member row)
    with `tenants.roles.switch_to` as it is against a no-op, on the superuser app (the login role cannot
    read a tenant without it).
(d) The first SET ROLE after a membership change with 1,000, 5,000 and 10,000 tenant roles (500 and 2,000 with
    --quick); then (a), (b) and the catalog again with 10,000.

Prints a table and writes bench/results/roles.json.
"""
import argparse
import gc
import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    RESULTS,
    SETTLE_BUILDS,
    fmt,
    machine,
    no_nan,
    percentile,
    plain_url,
    services,
    settle_cluster,
    summary,
)

FULL = {"tenants": 30, "transactions": 3000, "requests": 2000, "invalidations": 50, "roles": (1000, 5000, 10_000),
        "tenants_at_scale": 10}
QUICK = {"tenants": 10, "transactions": 500, "requests": 300, "invalidations": 20, "roles": (500, 2000),
         "tenants_at_scale": 5}
WARMUP = 200
TARGETS = {"set_role_ms": 0.1}
LOGIN_PASSWORD = "bench-login"


# ---------------------------------------------------------------- set-up

def make_login_role(admin_url: str, database: str, prefix: str) -> str:
    """A login role with production's rights; returns its name."""
    import psycopg

    login = f"{prefix}_login"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"create role \"{login}\" login createrole password '{LOGIN_PASSWORD}'")
        connection.execute(f'grant create on database "{database}" to "{login}";'
                           f' grant "{prefix}_tenant_keys" to "{login}"')
        for (table,) in connection.execute("select tablename from pg_tables where schemaname = 'public'").fetchall():
            connection.execute(f'alter table public."{table}" owner to "{login}"')
    return login


def drop_login_role(admin_url: str, login: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'reassign owned by "{login}" to current_user; drop owned by "{login}";'
                           f' drop role "{login}"')


def login_url(database_url: str, login: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(username=login, password=LOGIN_PASSWORD).render_as_string(hide_password=False)


def make_app(database_url: str):
    """The app with the tenant route of bench/run.py (b), on the given database URL."""
    from crm import create_app
    from tenants.resolver import tenant_blueprint

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url.replace("postgresql://", "postgresql+psycopg://", 1)})
    bp = tenant_blueprint("bench_roles", __name__)
    bp.get("/bench-ping")(lambda: "ok")
    app.register_blueprint(bp)
    return app


def sign_up(app, slug: str):
    """A workspace with its admin: (tenant id, account id, slug)."""
    from crm.accounts.service import sign_up as make
    from crm.extensions import db

    with app.app_context():
        account, tenant = make("Bench 基准", slug, "Bench Admin", f"admin@{slug}.example", "bench-password", "en")
        db.session.commit()
        return tenant.id, account.id, account.get_id()


@contextmanager
def without_roles():
    """The provisioning code as it was before tenant roles: the schema owned by the login role, built as it."""
    from crm.members import service as members
    from tenants import roles

    @contextmanager
    def acting_as(schema):
        yield {"schema_translate_map": {"tenant": schema}}

    def create_schema(connection, schema):
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    saved = roles.create_schema, roles.acting_as, members.acting_as
    roles.create_schema, roles.acting_as, members.acting_as = create_schema, acting_as, acting_as
    try:
        yield
    finally:
        roles.create_schema, roles.acting_as, members.acting_as = saved


@contextmanager
def switch_to_is_a_no_op():
    from tenants import roles

    saved = roles.switch_to
    roles.switch_to = lambda connection, schema: None
    try:
        yield
    finally:
        roles.switch_to = saved


def interleaved(n: int, warmup: int, runs: dict) -> dict:
    """Call each of `runs` (name -> function returning ms) n times after `warmup` untimed calls, alternating
    them and rotating which goes first; returns name -> list of ms."""
    times = {name: [] for name in runs}
    names = list(runs)
    for i in range(warmup + n):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            elapsed = runs[name]()
            if i >= warmup:
                times[name].append(elapsed)
    return times


def added(times: dict, name: str) -> float:
    """What `name` adds to the floor: the median of the differences of the pairs that ran back to back."""
    return percentile([ms - floor for ms, floor in zip(times[name], times["floor"])], 50)


def timed(func) -> float:
    started = time.perf_counter_ns()
    func()
    return (time.perf_counter_ns() - started) / 1e6


# ---------------------------------------------------------------- (a) provisioning

def bench_provisioning(login_app, n: int, label: str) -> dict:
    from crm.accounts.models import Account
    from crm.accounts.service import create_workspace
    from crm.extensions import db

    with login_app.app_context():
        admin = Account(email=f"provision-{label}@example.com", name="Provision Admin", password_hash="x")
        db.session.add(admin)
        db.session.commit()
        count = iter(range(10**6))

        def with_roles():
            gc.collect()
            return timed(lambda: (create_workspace("Bench", f"bench-{label}-r-{next(count)}", admin),
                                  db.session.commit()))

        def without():
            gc.collect()
            with without_roles():
                return timed(lambda: (create_workspace("Bench", f"bench-{label}-n-{next(count)}", admin),
                                      db.session.commit()))

        times = interleaved(n, 3, {"with_role": with_roles, "without_role": without})
    return {name: summary(ms) for name, ms in times.items()}


# ---------------------------------------------------------------- (b) per transaction

def bench_transactions(urls: dict, schema: str, account_id: int, n: int) -> dict:
    """Per login (name -> URL), on SQLAlchemy connections as the app has them: the transaction without a role
    (the floor), with `tenants.roles.switch_to` (the code: BEGIN and SET in one round trip), and with SET LOCAL
    ROLE sent as a statement of its own (the plain way, for comparison)."""
    from sqlalchemy import create_engine, text

    from tenants import roles

    query = text("select email from public.accounts where id = :a")
    results = {}
    for who, url in urls.items():
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as connection:
            role = roles.tenant_role(connection, schema)
            connection.rollback()

            def transaction(set_role):
                def run():
                    started = time.perf_counter_ns()
                    connection.begin()
                    set_role()
                    connection.execute(query, {"a": account_id}).scalar()
                    connection.commit()
                    return (time.perf_counter_ns() - started) / 1e6
                return run

            times = interleaved(n, WARMUP, {
                "floor": transaction(lambda: None),
                "with_role": transaction(lambda: roles.switch_to(connection, schema)),
                "own_statement": transaction(lambda: connection.exec_driver_sql(f'SET LOCAL ROLE "{role}"'))})
        engine.dispose()
        results[who] = {name: summary(ms) for name, ms in times.items()}
        for name in ("with_role", "own_statement"):
            results[who][f"added_{name}"] = added(times, name)
    return results


def bench_after_invalidation(url: str, admin_url: str, role: str, n: int) -> dict:
    """The first SET LOCAL ROLE after another session changed role memberships (as every sign-up does)."""
    import psycopg

    times = []
    with psycopg.connect(url) as connection, psycopg.connect(admin_url, autocommit=True) as other:
        other.execute('create role "bench_invalidator" nologin')
        try:
            for i in range(n + 5):
                other.execute(f'grant "bench_invalidator" to "{role}"' if i % 2 == 0
                              else f'revoke "bench_invalidator" from "{role}"')
                connection.execute("select 1").fetchone()
                elapsed = timed(lambda: connection.execute(f'SET LOCAL ROLE "{role}"'))
                connection.commit()
                if i >= 5:
                    times.append(elapsed)
        finally:
            other.execute('drop role "bench_invalidator"')
    return summary(times)


# ---------------------------------------------------------------- (c) per request

def bench_requests(app, slug: str, user_id: str, n: int) -> dict:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_id, True
    url = f"/{slug}/bench-ping"
    assert client.get(url).data == b"ok"

    def with_role():
        return timed(lambda: client.get(url))

    def without():
        with switch_to_is_a_no_op():
            return timed(lambda: client.get(url))

    times = interleaved(n, WARMUP, {"with_role": with_role, "floor": without})
    results = {name: summary(ms) for name, ms in times.items()}
    results["added"] = added(times, "with_role")
    return results


# ---------------------------------------------------------------- (d) 10,000 roles

def make_roles(admin_url: str, prefix: str, first: int, last: int) -> float:
    """Tenant roles `first`..`last - 1`, joined as provisioning joins them (no schemas: SET ROLE does not look at
    them); returns the seconds it took."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(admin_url) as connection:
        for start in range(first, last, 500):
            connection.execute(";".join(
                f'create role "{role}" nologin;'
                f'grant "{role}" to "{prefix}_tenant_keys" with admin true, inherit false, set true;'
                f'grant "{prefix}_tenants" to "{role}" with inherit true, set false'
                for role in (f"{prefix}_t_{9_000_000 + i}" for i in range(start, min(start + 500, last)))))
            connection.commit()
    return time.perf_counter() - started


def tenant_roles(admin_url: str, prefix: str) -> int:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        return connection.execute(
            "select count(*) from pg_auth_members where member <> (select oid from pg_roles where rolname = %s)"
            " and roleid = (select oid from pg_roles where rolname = %s)",
            (f"{prefix}_tenant_keys", f"{prefix}_tenants")).fetchone()[0]


def catalog(admin_url: str, schema: str, prefix: str) -> dict:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        def one(sql, *args):
            return connection.execute(sql, args).fetchone()[0]

        return {
            "roles": one("select count(*) from pg_authid"),
            "role_memberships": one("select count(*) from pg_auth_members"),
            "shared_dependencies": one("select count(*) from pg_shdepend"),
            "shared_dependencies_of_one_tenant": one(
                "select count(*) from pg_shdepend where refobjid = (select oid from pg_roles where rolname = %s)",
                f"{prefix}_{schema}"),
            "pg_authid_bytes": one("select pg_total_relation_size('pg_authid')"),
            "pg_auth_members_bytes": one("select pg_total_relation_size('pg_auth_members')"),
            "pg_shdepend_bytes": one("select pg_total_relation_size('pg_shdepend')"),
        }


# ---------------------------------------------------------------- report

def rows_of(r: dict) -> list[list[str]]:
    target = TARGETS["set_role_ms"]
    rows = []

    def add(name, stats, target_text="", passed=None):
        rows.append([name, str(stats["n"]), fmt(stats["median"]), fmt(stats.get("p95")), fmt(stats.get("p99")),
                     target_text, "" if passed is None else ("PASS" if passed else "FAIL")])

    for scale, label in (("few", f"{r['few']['roles']} roles"), ("many", f"{r['many']['roles']:,} roles")):
        s = r[scale]
        p = s["provisioning"]
        add(f"(a) [{label}] create_workspace + commit, cold, login role, with the tenant's role", p["with_role"])
        add(f"(a) [{label}]   floor: the same without a role (the code before)", p["without_role"])
        for who in ("login", "superuser"):
            t = s["transactions"][who]
            add(f"(b) [{label}] {who}: BEGIN + SET LOCAL ROLE (switch_to); SELECT account; COMMIT", t["with_role"])
            add(f"(b) [{label}] {who}:   floor: the same without SET LOCAL ROLE", t["floor"])
            add(f"(b) [{label}] {who}:   SET LOCAL ROLE as a statement of its own", t["own_statement"])
            rows.append([f"(b) [{label}] {who}: added per transaction by switch_to (median of paired differences)",
                         str(t["with_role"]["n"]), fmt(t["added_with_role"]), "", "", f"< {target:g} ms",
                         "PASS" if t["added_with_role"] < target else "FAIL"])
            rows.append([f"(b) [{label}] {who}:   added by SET LOCAL ROLE as its own statement", str(t["floor"]["n"]),
                         fmt(t["added_own_statement"]), "", "", "", ""])
        add(f"(b) [{label}] login: first SET LOCAL ROLE after a membership change elsewhere", s["after_invalidation"])
    c = r["few"]["requests"]
    add("(c) request GET /<slug>/bench-ping, superuser app, SET LOCAL ROLE", c["with_role"])
    add("(c)   floor: the same with switch_to a no-op", c["floor"])
    rows.append(["(c) added per request (median of paired differences)", str(c["with_role"]["n"]), fmt(c["added"]),
                 "", "", f"< {target:g} ms", "PASS" if c["added"] < target else "FAIL"])
    for step in r["steps"]:
        add(f"(d) [{step['roles']:,} roles] login: first SET LOCAL ROLE after a membership change elsewhere",
            step["after_invalidation"])
    return rows


def print_table(rows: list[list[str]], results: dict) -> None:
    header = ["benchmark", "n", "median/p50 ms", "p95 ms", "p99 ms", "target", "pass/fail"]
    widths = [max(len(h), *(len(line[i]) for line in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in rows:
        print("  ".join(cell.rjust(w) if 0 < i < 5 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    for scale in ("few", "many"):
        c = results[scale]["catalog"]
        print(f"\ncatalog with {results[scale]['roles']:,} tenant roles: {c['roles']:,} roles, "
              f"{c['role_memberships']:,} memberships, pg_authid {c['pg_authid_bytes'] / 1024:,.0f} KiB, "
              f"pg_auth_members {c['pg_auth_members_bytes'] / 1024:,.0f} KiB, "
              f"pg_shdepend {c['shared_dependencies']:,} rows {c['pg_shdepend_bytes'] / 1024:,.0f} KiB "
              f"({c['shared_dependencies_of_one_tenant']} for one tenant)")
    print(f"{results['many']['roles']:,} roles made in {results['roles_made_seconds']:.1f} s")
    m = results["machine"]
    print(f"\nmachine: {m['nproc']} CPU ({m['cpu']}), Python {m['python']}, {m['postgres'].split(' on ')[0]}, "
          f"{m['services']} services; {results['mode']} mode, {results['seconds']:.1f} s; "
          f"load average {m['loadavg_at_start'][0]:.2f} at start, {m['loadavg_at_end'][0]:.2f} at end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    begun = time.perf_counter()
    load_at_start = os.getloadavg()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:5.1f}s] {message}", flush=True)

    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_POOL_SIZE="0",
                          TENANT_CACHE_SECONDS="1000000", ARGON2_PROFILE="CHEAPEST")
        admin_url = plain_url(database_url)

        from crm.extensions import db
        from tenants import roles
        from tenants.migrations import upgrade_public

        superuser_app = make_app(database_url)
        with superuser_app.app_context():
            upgrade_public(db.engine)
            connection = db.session.connection()
            prefix, database = roles.prefix(connection), connection.exec_driver_sql(
                "select current_database()").scalar()
            db.session.rollback()
        login = make_login_role(admin_url, database, prefix)
        login_app = make_app(login_url(database_url, login))
        urls = {"login": plain_url(login_url(database_url, login)), "superuser": admin_url}
        results = {"mode": "quick" if args.quick else "full", "sizes": sizes, "targets": TARGETS}

        def measure(scale: dict) -> None:  # (b) and the catalog, with as many roles as there are now
            scale["roles"] = count = tenant_roles(admin_url, prefix)
            step(f"[{count:,} roles] (b) {sizes['transactions']} transactions each way, per login ...")
            scale["transactions"] = bench_transactions(urls, f"t_{tenant_id}", account_id, sizes["transactions"])
            scale["after_invalidation"] = bench_after_invalidation(urls["login"], admin_url, role,
                                                                   sizes["invalidations"])
            scale["catalog"] = catalog(admin_url, f"t_{tenant_id}", prefix)
        try:
            step(f"settling the fresh cluster with {SETTLE_BUILDS} throwaway schemas (as bench/run.py does) ...")
            settle_cluster(admin_url, SETTLE_BUILDS)
            tenant_id, account_id, user_id = sign_up(login_app, "bench")
            slug, role = "bench", f"{prefix}_t_{tenant_id}"
            step(f"[few roles] (a) provisioning {sizes['tenants']} tenants each way ...")
            few = results["few"] = {"provisioning": bench_provisioning(login_app, sizes["tenants"], "few")}
            measure(few)
            step(f"(c) {sizes['requests']} requests each way ...")
            few["requests"] = bench_requests(superuser_app, slug, user_id, sizes["requests"])
            results["steps"], made, results["roles_made_seconds"] = [], 0, 0.0
            for count in sizes["roles"]:
                step(f"(d) {count:,} tenant roles ...")
                results["roles_made_seconds"] += make_roles(admin_url, prefix, made, count)
                made = count
                results["steps"].append({"roles": tenant_roles(admin_url, prefix), "after_invalidation":
                                         bench_after_invalidation(urls["login"], admin_url, role,
                                                                  sizes["invalidations"])})
            step(f"[{made:,} roles] (a) provisioning {sizes['tenants_at_scale']} tenants each way ...")
            many = results["many"] = {"provisioning": bench_provisioning(login_app, sizes["tenants_at_scale"], "many")}
            measure(many)
            info = machine(admin_url, services_mode)
            info["loadavg_at_start"] = load_at_start
        finally:
            for app in (superuser_app, login_app):
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
            drop_login_role(admin_url, login)

    results.update(when=datetime.now(UTC).isoformat(timespec="seconds"), machine=info,
                   seconds=time.perf_counter() - begun)
    results["table"] = rows_of(results)
    print_table(results["table"], results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "roles.json").write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {(RESULTS / 'roles.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
