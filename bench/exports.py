"""Benchmark of the list exports: one workspace with N customers (default 1,000,000), exported as CSV through the
app's own route as its admin, read to the end as a browser would.

    .venv/bin/python bench/exports.py               # 1,000,000 customers
    .venv/bin/python bench/exports.py --rows 200000

Reports the time to the first byte, the whole time, the bytes, and the process's memory while streaming (resident
set sampled at every chunk: the peak over the level before the request, which must stay flat whatever N is), for
the visible columns and for all fields; the floor is PostgreSQL's own COPY ... TO STDOUT (CSV) of the same columns,
read by the same process. The customers are made by bench/bigtenant.py (SQL from generate_series; a few of the
other records). Uses embedded servers, or DATABASE_URL and REDIS_URL when both are set (bench/run.py services())."""
import argparse
import gc
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigtenant import seed_big_tenant  # noqa: E402
from bench.run import RESULTS, logged_in_client, machine, plain_url, services  # noqa: E402

OUTPUT = RESULTS / "exports.json"
OTHERS = {"deals": 1000, "orders": 1000, "order_lines": 2000, "follow_ups": 1000, "tickets": 100}
PAGE = os.sysconf("SC_PAGE_SIZE")
# What each export's columns are in SQL, for the floor: the same rows, order and columns the app reads.
FLOOR_COLUMNS = {
    "visible": "id, name, phone, email, stage, level, owner_id, tag_ids, custom, created_at",
    "all": "id, name, phone, email, stage, level, owner_id, tag_ids, custom, created_at, company, title, country, "
           "region, city, district, postcode, street, source, notes, kind, preferred_channel, updated_at, "
           "custom_sensitive, id_number_enc, bank_account_enc",
}


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2 ** 20


def measure_route(client, url: str) -> dict:
    gc.collect()
    before = rss_mb()
    peak, size, first = before, 0, None
    started = time.perf_counter()
    answer = client.get(url, buffered=False)
    assert answer.status_code == 200, answer.status_code
    for chunk in answer.response:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        peak = max(peak, rss_mb())
    answer.close()
    return {"first_byte_s": first, "seconds": time.perf_counter() - started, "mb": size / 2 ** 20,
            "rss_before_mb": before, "rss_peak_mb": peak, "rss_growth_mb": peak - before}


def measure_floor(raw_url: str, schema: str, columns: str) -> dict:
    import psycopg

    started, size = time.perf_counter(), 0
    with psycopg.connect(raw_url) as connection, connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        sql = (f"COPY (SELECT {columns} FROM {schema}.customers WHERE deleted_at IS NULL ORDER BY id DESC) "
               "TO STDOUT WITH (FORMAT csv, HEADER)")
        with cursor.copy(sql) as copy:
            for block in copy:
                size += len(block)
    return {"seconds": time.perf_counter() - started, "mb": size / 2 ** 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="customers in the workspace")
    args = parser.parse_args()
    begun = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_CACHE_SECONDS="1000000",
                          EXPORT_STREAM_ROWS=str(args.rows + 1))  # the streamed route, not the job
        from crm import create_app
        from crm.accounts.models import Account
        from crm.extensions import db
        from tenants.migrations import upgrade_public

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
        step(f"seeding {args.rows:,} customers ...")
        big = seed_big_tenant(app, slug="exports", customers=args.rows, log=lambda m: step("  " + m), **OTHERS)
        step("seeded")
        with app.app_context():
            account = db.session.get(Account, big.admin_account_id)
            db.session.expunge(account)
        client = logged_in_client(app, account)
        client.get("/exports/exports/customers?level=Z")  # warm up: imports, templates, the tenant cache
        results = {}
        for fields in ("visible", "all"):
            url = f"/exports/exports/customers?format=csv{'&fields=all' if fields == 'all' else ''}"
            results[fields] = {"app": measure_route(client, url),
                               "floor": measure_floor(plain_url(database_url), big.schema, FLOOR_COLUMNS[fields])}
            app_r, floor_r = results[fields]["app"], results[fields]["floor"]
            step(f"{fields}: {app_r['seconds']:.1f} s ({app_r['mb']:.0f} MB, first byte {app_r['first_byte_s']:.2f} s),"
                 f" RSS {app_r['rss_before_mb']:.0f} -> {app_r['rss_peak_mb']:.0f} MB;"
                 f" COPY floor {floor_r['seconds']:.1f} s ({floor_r['mb']:.0f} MB)")
        info = machine(plain_url(database_url), services_mode)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "rows": args.rows, "exports": results,
               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "machine": info,
               "seconds": time.perf_counter() - begun}
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
