"""Benchmark of a fleet migration (issue 19): a tenant-track revision over every tenant schema, beside its floor.

    .venv/bin/python bench/migrate.py                   # 1,000 tenants
    .venv/bin/python bench/migrate.py --tenants 10000   # 10,000 tenants (building them takes most of the run)
    .venv/bin/python bench/migrate.py --processes 1 2 4 # the fleet run once per process count

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL with a
database `crm_bench`, dropped at the end). The tenants are made by the provisioning code (`provision_tenant`,
its fast path: one DDL script in one round trip, then the seeders), committed 25 at a time, untimed.

The revision: a column with a default and an index on customers (`bench_score integer NOT NULL DEFAULT 0`,
`ix_customers_bench_score`). It must not ship in migrations/tenant, so it lives in a temporary copy of the tenant
track (env.py, script.py.mako and every revision, plus `bench_fleet` on top of the head), which the migrator is
given as its script location (`upgrade_all(..., script_location=...)`); the copy is deleted at the end.

Measured, in this order, in the same run:
- the floor: on one raw psycopg connection, per schema, one round trip `BEGIN; SET LOCAL ROLE <tenant>; ALTER
  TABLE ... ADD COLUMN ...; CREATE INDEX ...; UPDATE <schema>.alembic_version ...` and a COMMIT: the DDL as the
  migration emits it, with its role and its version stamp, and nothing else. Then undone (untimed).
- the fleet: `upgrade_all` to the bench revision, timed from the call to its return (worker processes started,
  tenants listed, every schema migrated, reports gathered), once per `--processes` value and way of running the
  revision (undone between runs): "rendered once" (it declares RENDER_ONCE: its SQL rendered once, one script
  per schema) and "through Alembic" (the same revision without RENDER_ONCE: Alembic's operations per schema);
- the fleet with nothing to do (every schema already at head): what a deploy without tenant revisions costs.
Prints a table and writes bench/results/migrate.json.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, machine, no_nan, percentile, plain_url, services  # noqa: E402

TARGET = 200  # schemas a second
BATCH = 25  # tenants provisioned per commit
REVISION = '''"""Bench only (bench/migrate.py): a column with a default and an index on customers."""
import sqlalchemy as sa
from alembic import op

from tenants.migrations import current_schema

revision = "bench_fleet"
down_revision = "{head}"
branch_labels = None
depends_on = None
RENDER_ONCE = {render_once}


def upgrade():
    schema = current_schema()
    op.add_column("customers", sa.Column("bench_score", sa.Integer(), server_default="0", nullable=False),
                  schema=schema)
    op.create_index("ix_customers_bench_score", "customers", ["bench_score"], schema=schema)


def downgrade():
    schema = current_schema()
    op.drop_index("ix_customers_bench_score", "customers", schema=schema)
    op.drop_column("customers", "bench_score", schema=schema)
'''
DDL = ('ALTER TABLE "{s}".customers ADD COLUMN bench_score INTEGER DEFAULT \'0\' NOT NULL;\n'
       'CREATE INDEX ix_customers_bench_score ON "{s}".customers (bench_score);\n'
       'UPDATE "{s}".alembic_version SET version_num=\'bench_fleet\' WHERE alembic_version.version_num = \'{head}\'')
UNDO = ('DROP INDEX "{s}".ix_customers_bench_score; ALTER TABLE "{s}".customers DROP COLUMN bench_score;\n'
        'UPDATE "{s}".alembic_version SET version_num=\'{head}\'')


def bench_track(head: str, render_once: bool) -> Path:
    """A temporary copy of the tenant track with the bench revision on top of `head`."""
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-track-"))
    track = folder / "tenant"
    shutil.copytree(ROOT / "migrations" / "tenant", track, ignore=shutil.ignore_patterns("__pycache__"))
    (track / "versions" / "bench_fleet.py").write_text(REVISION.format(head=head, render_once=render_once))
    return track


def make_tenants(app, n: int, step) -> float:
    """`n` tenants through the provisioning code, committed BATCH at a time; returns the seconds taken."""
    from crm.extensions import db
    from tenants.provisioning import provision_tenant

    started = time.perf_counter()
    with app.app_context():
        for i in range(n):
            provision_tenant(f"Fleet {i}", f"fleet-{i}")
            if (i + 1) % BATCH == 0 or i + 1 == n:
                db.session.commit()
            if (i + 1) % 500 == 0:
                step(f"  {i + 1:,} tenants ({(i + 1) / (time.perf_counter() - started):.0f}/s)")
    return time.perf_counter() - started


def per_schema(raw_url: str, schemas: list[str], script: str, head: str, prefix: str) -> list[float]:
    """Run `script` for each schema on one connection, each in its own transaction as the tenant's role;
    returns the milliseconds each took."""
    import psycopg

    took = []
    with psycopg.connect(raw_url) as connection:
        for schema in schemas:
            started = time.perf_counter()
            connection.execute(f'SET LOCAL ROLE "{prefix}_{schema}";\n' + script.format(s=schema, head=head))
            connection.commit()
            took.append((time.perf_counter() - started) * 1000)
    return took


def fleet(engine, processes: int, track: Path, mode: str) -> dict:
    from tenants.migrations import upgrade_all

    started = time.perf_counter()
    run = upgrade_all(engine, processes, script_location=track)
    seconds = time.perf_counter() - started
    ms = sorted(r.seconds * 1000 for r in run.reports)
    return {"mode": mode, "processes": processes, "seconds": seconds, "schemas": len(run.reports),
            "failed": len(run.failed),
            "errors": sorted({r.error for r in run.failed})[:3], "rate": len(run.reports) / seconds,
            "schema_ms_p50": percentile(ms, 50), "schema_ms_p95": percentile(ms, 95),
            "versions": sorted({r.after for r in run.reports if r.after})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    begun = time.perf_counter()
    load_at_start = os.getloadavg()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    results = {"tenants": args.tenants, "target_per_second": TARGET}
    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_POOL_SIZE="0",
                          ARGON2_PROFILE="CHEAPEST")
        from crm import create_app
        from crm.extensions import db
        from tenants import roles
        from tenants.migrations import tenant_schemas, upgrade_public
        from tenants.provisioning import tenant_head

        app, raw_url, head = create_app(), plain_url(database_url), tenant_head()
        tracks = {"rendered once": bench_track(head, True), "through Alembic": bench_track(head, False)}
        try:
            with app.app_context():
                upgrade_public(db.engine)
                prefix = roles.prefix(db.session.connection())
                db.session.rollback()
            step(f"provisioning {args.tenants:,} tenants ...")
            results["provisioning_seconds"] = make_tenants(app, args.tenants, step)
            with app.app_context():
                schemas = tenant_schemas(db.engine)
                step("floor: the revision's DDL raw, per schema, on one connection ...")
                started = time.perf_counter()
                floor_ms = per_schema(raw_url, schemas, DDL, head, prefix)
                seconds = time.perf_counter() - started
                results["floor"] = {"seconds": seconds, "rate": len(schemas) / seconds,
                                    "schema_ms_p50": percentile(floor_ms, 50),
                                    "schema_ms_p95": percentile(floor_ms, 95)}
                results["fleet"] = []
                for processes in args.processes:
                    for mode, track in tracks.items():
                        per_schema(raw_url, schemas, UNDO, head, prefix)
                        step(f"fleet, the revision {mode}: upgrade_all with {processes} process(es) ...")
                        results["fleet"].append(fleet(db.engine, processes, track, mode))
                step("fleet again, every schema at head ...")
                results["at_head"] = fleet(db.engine, args.processes[0], track, "at head")
                results["pg_class_rows"] = db.session.scalar(db.text("select count(*) from pg_class"))
                db.session.rollback()
                db.engine.dispose()
            info = machine(raw_url, services_mode)
            info["loadavg_at_start"] = load_at_start
        finally:
            for track in tracks.values():
                shutil.rmtree(track.parent, ignore_errors=True)
    results.update(when=datetime.now(UTC).isoformat(timespec="seconds"), machine=info,
                   seconds=time.perf_counter() - begun)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"migrate-{args.tenants}.json"
    out.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    print(f"\nFleet migration over {results['tenants']:,} tenants ({results['pg_class_rows']:,} pg_class rows; "
          f"provisioned in {results['provisioning_seconds']:.0f} s; load average at the end "
          f"{results['machine']['loadavg_at_end'][0]:.2f})")
    head = ("run", "processes", "seconds", "schemas/s", "ms/schema p50", "p95", "failed", "target")
    print(" | ".join(f"{h:>15}" for h in head))
    floor = results["floor"]
    rows = [("floor (raw DDL)", 1, floor["seconds"], floor["rate"], floor["schema_ms_p50"], floor["schema_ms_p95"],
             0, "")]
    rows += [(f["mode"], f["processes"], f["seconds"], f["rate"], f["schema_ms_p50"], f["schema_ms_p95"], f["failed"],
              "pass" if f["rate"] >= TARGET and not f["failed"] else "MISS") for f in results["fleet"]]
    a = results["at_head"]
    rows.append(("at head", a["processes"], a["seconds"], a["rate"], a["schema_ms_p50"], a["schema_ms_p95"],
                 a["failed"], ""))
    for row in rows:
        print(" | ".join(f"{c:>15}" if isinstance(c, str | int) else f"{c:15.2f}" for c in row))
    for f in results["fleet"]:
        if f["errors"]:
            print("errors:", *f["errors"], sep="\n  ")


if __name__ == "__main__":
    main()
