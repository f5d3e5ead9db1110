"""Benchmark of one process serving many tenants (issue 19 item 2): the customer list rotating over 1, 100 and N
workspaces, and the memory of the app's PostgreSQL backends.

    .venv/bin/python bench/rotate.py                   # 1,000 workspaces (making them takes most of the run)
    .venv/bin/python bench/rotate.py --tenants 300     # quicker

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL with a
database `crm_bench`, dropped at the end). N workspaces are made by the app's `create_workspace` for one admin
account (a member of all of them), each with 30 customers, untimed. Then, in this one process through Flask's
test client (no network, no WSGI server), `GET /<slug>/customers/` as that admin, `--requests` times for each
rotation size k in 1, 100 and N: request i goes to workspace i mod k. Reported per k: median and p95, the p95's
ratio to k=1's (issue 19's target: at most 1.2), and after the run the resident memory (RssAnon, from /proc) of the
app's backends: the largest and their sum. The N rotation runs twice: with TENANT_SCHEMAS_PER_CONNECTION as
configured (a connection that served that many schemas is replaced) and with it off, to show what that saves.
Floor, in the same run: the list's main query in raw SQL on one psycopg connection (BEGIN, SET LOCAL ROLE, the
newest 50 live customers, COMMIT), rotating over the same N schemas.
Prints a table and writes bench/results/rotate.json.
"""
import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, logged_in_client, machine, no_nan, percentile, plain_url, services  # noqa: E402

CUSTOMERS = 30
TARGET_RATIO = 1.2
OFF = 10**9  # TENANT_SCHEMAS_PER_CONNECTION when the recycling is off


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def make_workspaces(app, n: int) -> tuple[object, list[str]]:
    """n workspaces of one admin account, each with CUSTOMERS customers; returns (account, slugs)."""
    from sqlalchemy import select

    from crm.accounts.models import Account
    from crm.accounts.service import create_workspace
    from crm.customers.models import Customer
    from crm.extensions import db
    from crm.members.models import Member
    from tenants.binding import tenant_bound
    from tenants.resolver import find_tenant

    slugs = []
    with app.app_context():
        admin = Account(email="rotate-admin@example.com", name="Rotate Admin", password_hash="x", language="en")
        db.session.add(admin)
        db.session.commit()
        for i in range(n):
            slug = f"rotate-{i}"
            create_workspace(f"Rotate {i} 轮换", slug, admin)
            db.session.commit()
            with tenant_bound(find_tenant(slug)):
                owner = db.session.scalar(select(Member.id).where(Member.account_id == admin.id))
                db.session.add_all(Customer(name=f"客户 {i}-{c}", owner_id=owner, phone=f"1380000{c:04d}")
                                   for c in range(CUSTOMERS))
            slugs.append(slug)
            if (i + 1) % 100 == 0:
                step(f"  {i + 1} workspaces")
        db.session.expunge(admin)
    return admin, slugs


def backend_memory(raw) -> dict:
    """RssAnon of each client backend of this database but `raw`'s own, in MiB: the largest and the sum."""
    pids = [pid for (pid,) in raw.execute(
        "select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend' "
        "and pid <> pg_backend_pid()").fetchall()]
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # gone in between
            continue
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("RssAnon:"))
        sizes.append(kib / 1024)
    return {"backends": len(sizes), "largest_mib": max(sizes, default=0.0), "sum_mib": sum(sizes)}


def rotate_app(app, client, slugs: list[str], k: int, requests: int) -> list[float]:
    times = []
    for i in range(requests):
        started = time.perf_counter_ns()
        answer = client.get(f"/{slugs[i % k]}/customers/")
        times.append((time.perf_counter_ns() - started) / 1e6)
        if answer.status_code != 200:
            raise RuntimeError(f"/{slugs[i % k]}/customers/ answered {answer.status_code}")
    return times


def rotate_floor(raw, schemas: list[tuple[str, str]], requests: int) -> list[float]:
    times = []
    for i in range(requests):
        schema, role = schemas[i % len(schemas)]
        started = time.perf_counter_ns()
        raw.execute(f'BEGIN; SET LOCAL ROLE "{role}"')
        raw.execute(f'SELECT id, name, phone, owner_id, created_at FROM "{schema}".customers '
                    "WHERE deleted_at IS NULL ORDER BY id DESC LIMIT 50").fetchall()
        raw.execute("COMMIT")
        times.append((time.perf_counter_ns() - started) / 1e6)
    return times


def stats(times: list[float]) -> dict:
    return {"n": len(times), "median": percentile(times, 50), "p95": percentile(times, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000, help="requests per rotation")
    args = parser.parse_args()
    begun, load_at_start = time.perf_counter(), os.getloadavg()
    results = {"tenants": args.tenants, "requests": args.requests, "customers_each": CUSTOMERS, "runs": []}
    with services() as (database_url, redis_url, services_mode):
        import psycopg

        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_CACHE_SECONDS="1000000",
                          TENANT_POOL_SIZE="0", ARGON2_PROFILE="CHEAPEST")
        from crm import create_app
        from crm.extensions import db

        app = create_app()
        raw_url = plain_url(database_url)
        with app.app_context():
            from tenants.migrations import upgrade_public
            upgrade_public(db.engine)
        step(f"making {args.tenants} workspaces of {CUSTOMERS} customers ...")
        admin, slugs = make_workspaces(app, args.tenants)
        client = logged_in_client(app, admin)
        limit = app.config["TENANT_SCHEMAS_PER_CONNECTION"]
        with psycopg.connect(raw_url, autocommit=True, prepare_threshold=None) as raw:
            schemas = [(s, r) for s, r in raw.execute(
                "select n.nspname, pg_get_userbyid(n.nspowner) from public.tenants t "
                "join pg_namespace n on n.nspname = 't_' || t.id order by t.id").fetchall()]
            rotate_app(app, client, slugs, 1, 50)  # warm-up: templates, statement cache
            for k, per_connection in ((1, limit), (100, limit), (args.tenants, limit), (args.tenants, OFF)):
                k = min(k, args.tenants)
                app.config["TENANT_SCHEMAS_PER_CONNECTION"] = per_connection
                with app.app_context():
                    db.engine.dispose()  # fresh backends for each run
                step(f"customer list rotating over {k} workspaces, connections replaced "
                     + ("never" if per_connection == OFF else f"after {per_connection} schemas") + " ...")
                times = rotate_app(app, client, slugs, k, args.requests)
                results["runs"].append({"k": k, "schemas_per_connection": per_connection, **stats(times),
                                        "memory": backend_memory(raw)})
            with app.app_context():
                db.engine.dispose()
            step(f"floor: the list query in raw SQL rotating over {args.tenants} schemas ...")
            rotate_floor(raw, schemas, 50)
            results["floor"] = stats(rotate_floor(raw, schemas, args.requests))
            info = machine(raw_url, services_mode)
    info["loadavg_at_start"] = load_at_start
    results.update(when=datetime.now(UTC).isoformat(timespec="seconds"), machine=info,
                   seconds=time.perf_counter() - begun)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "rotate.json"
    out.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    one = results["runs"][0]["p95"]
    print(f"\nCustomer list rotating over workspaces, {results['requests']:,} requests a run, one process "
          f"(load average {results['machine']['loadavg_at_end'][0]:.2f} at the end)")
    head = ("rotation", "recycle after", "median ms", "p95 ms", "p95 / 1", "target", "backends", "largest MiB",
            "sum MiB")
    print(" | ".join(f"{h:>13}" for h in head))
    for run in results["runs"]:
        ratio = run["p95"] / one
        cells = (f"{run['k']:,}", "never" if run["schemas_per_connection"] == OFF else f"{run['schemas_per_connection']}",
                 f"{run['median']:.2f}", f"{run['p95']:.2f}", f"{ratio:.2f}",
                 "" if run["k"] == 1 else ("pass" if ratio <= TARGET_RATIO else "MISS"), f"{run['memory']['backends']}",
                 f"{run['memory']['largest_mib']:.1f}", f"{run['memory']['sum_mib']:.1f}")
        print(" | ".join(f"{c:>13}" for c in cells))
    floor = results["floor"]
    print(f"{'floor (raw SQL)':>13} | {'':>13} | {floor['median']:13.2f} | {floor['p95']:13.2f}")


if __name__ == "__main__":
    main()
