"""Benchmark of the customer import (issue 14): a big file into a tenant that already has 100,000 customers.

    .venv/bin/python bench/imports.py                    # 1,000,000 rows, CSV
    .venv/bin/python bench/imports.py --rows 10000       # a small file: seconds
    .venv/bin/python bench/imports.py --rows 100000 --xlsx   # the same rows as an XLSX workbook too (after an undo)
    .venv/bin/python bench/imports.py --rows 10000 --profile # cProfile of the check, top functions printed

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL).
The tenant is bench/bigtenant.py's workspace with 100,000 customers (and token amounts of the rest), filled in
SQL. The file: Chinese and English names, phones (about half of them existing customers' phones, written as
people type them: 13800138000, +86 138 0013 8000, 138-0013-8000), emails, three tags (one new to the workspace),
two select fields by their labels in either language. Create-and-update, matched by phone, as the admin.

Each run goes through the real engine in this process, as the worker would: sniff (crm.imports.reading.sniff),
then the check job and the import job (crm.imports.jobs.check_import / run_import), each timed by phase: stage
(read + clean + COPY), decide (the set-based match and checks), apply (the writes to customers). Peak RSS is the
process's high-water mark (VmHWM, reset before each run through /proc/self/clear_refs).

The floor: the same work in raw SQL in the same run, before the engine (and rolled back): COPY of the file into
a temporary table, phones normalised in SQL, one UPDATE ... FROM of the matching customers and one INSERT ...
SELECT of the others. Prints a table and writes bench/results/imports.json.
"""
import argparse
import cProfile
import csv
import functools
import json
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigtenant import FIRST, GIVEN, LAST, SELECTS, SURNAMES, TAGS, seed_big_tenant  # noqa: E402
from bench.run import RESULTS, machine, no_nan, plain_url, services  # noqa: E402

OUTPUT = RESULTS / "imports.json"
EXISTING = {"customers": 100_000, "deals": 10, "orders": 10, "order_lines": 10, "follow_ups": 10, "tickets": 10}
HEADER = ["姓名 Name", "手机 Phone", "Email", "标签 Tags", "区域 Region", "行业 Industry"]
MAPPING = {"0": "name", "1": "phone", "2": "email", "3": "tags", "4": "custom_region", "5": "custom_industry"}
OPTIONS = {"match_on": "phone", "mode": "create_update", "duplicates": "merge", "unknown_values": "error",
           "owner_missing": "error"}
NEW_TAG = "2026 展会"
TARGETS = {"csv_seconds": 60.0, "rss_mb": 300.0, "small_seconds": 3.0, "small_rows": 10_000}


# ---------------------------------------------------------------- the file

def typed(phone: str, n: int) -> str:
    """An E.164 Chinese mobile as a person writes it in a spreadsheet."""
    digits = phone[3:]
    return (digits, digits, digits, f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}",
            f"{digits[:3]}-{digits[3:7]}-{digits[7:]}")[n % 5]


def write_rows(path: Path, rows: int, phones: list[str]) -> None:
    """The CSV: about half of the rows update an existing customer (by phone), the rest are new."""
    tags = [name for name, _c, _s in TAGS]
    options = {key: [(en, zh) for _k, en, zh, _w in opts] for key, (_en, _zh, opts) in SELECTS.items()}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n in range(rows):
            chinese = n % 3 != 0
            if chinese:
                name = SURNAMES[n % len(SURNAMES)][0] + GIVEN[(n // 7) % len(GIVEN)]
                email = f"{SURNAMES[n % len(SURNAMES)][1]}{n}@{('qq.com', '163.com')[n % 2]}"
            else:
                first, last = FIRST[n % len(FIRST)], LAST[(n // 3) % len(LAST)]
                name, email = f"{first} {last}", f"{first.lower()}.{last.lower()}{n}@example.com"
            phone = phones[(n // 2) % len(phones)] if n % 2 == 0 and phones else f"+86137{n:08d}"
            region = options["region"][n % len(options["region"])][n % 2]
            industry = options["industry"][n % len(options["industry"])][(n + 1) % 2]
            row_tags = "，".join([tags[n % len(tags)], tags[(n + 5) % len(tags)], NEW_TAG])
            out.writerow([name, typed(phone, n), email if n % 10 else email.upper(), row_tags, region, industry])


def write_xlsx(csv_path: Path, path: Path) -> None:
    """The same rows as an XLSX workbook (openpyxl's streaming writer)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    book.save(path)


# ---------------------------------------------------------------- measuring

def reset_peak() -> None:
    """Start the process's RSS high-water mark again from its current size (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def peak_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rows_of(imp):
    """The engine's seam to the reader (the pages' helper wires the real one): headers and streamed rows."""
    from crm.imports.reading import FileInfo, open_rows

    info = FileInfo(**imp.file_info)
    return info.headers, open_rows(imp.file_path, info)


class Phases:
    """Seconds per phase of the engine, by wrapping its functions (the engine is not changed for the bench)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        from crm.imports import applying, jobs

        jobs.stage = self.timed("stage", jobs.stage)
        applying.decide = self.timed("decide", applying.decide)
        applying.apply = self.timed("apply", applying.apply)
        jobs.rows_of = rows_of
        self.slow = SlowStatements()

    def timed(self, name: str, func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        return run

    def take(self) -> dict[str, float]:
        taken, self.seconds = self.seconds, {}
        return taken


class SlowStatements:
    """The engine's statements that took over a quarter of a second, by their first words (what dominates)."""

    def __init__(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.seconds: dict[str, float] = {}
        event.listen(Engine, "before_cursor_execute", self.before)  # every engine: the jobs make their own app
        event.listen(Engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        if took > 0.25:
            words = " ".join(statement.split()[:9])
            self.seconds[words] = self.seconds.get(words, 0.0) + took

    def take(self) -> dict[str, float]:
        taken, self.seconds = self.seconds, {}
        return dict(sorted(taken.items(), key=lambda item: -item[1]))


def run_engine(app, big, path: Path, name: str, phases: Phases, profile: bool) -> dict:
    """Sniff, check and import one file as the admin; seconds per step, counts, peak RSS."""
    from crm.extensions import db
    from crm.imports import jobs, reading, service
    from crm.imports.models import Import
    from crm.members.models import Member
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    result = {"file": name, "bytes": path.stat().st_size}
    reset_peak()
    with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
        started = time.perf_counter()
        info = reading.sniff(path, max_bytes=1 << 31)
        result["sniff"] = time.perf_counter() - started
        viewer = db.session.get(Member, big.admin_member_id)
        imp = service.create_import(viewer, name, str(path), info.__dict__)
        service.set_mapping(viewer, imp, MAPPING, OPTIONS)
        imp.status = "checking"  # what service.start_check does, without queueing the job
        db.session.commit()
        import_id = imp.id
        db.session.remove()
    profiler = cProfile.Profile() if profile else None
    for step, job, status in (("check", jobs.check_import, "checked"), ("import", jobs.run_import, "done")):
        started = time.perf_counter()
        if profiler and step == "check":
            profiler.enable()
        got = job(big.tenant_id, import_id)
        if profiler and step == "check":
            profiler.disable()
        result[step] = {"seconds": time.perf_counter() - started, **phases.take(), "slow": phases.slow.take()}
        if got != status:
            raise SystemExit(f"{name}: the {step} ended {got!r}, not {status!r}")
        if step == "check":
            with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
                db.session.get(Import, import_id).status = "importing"
                db.session.commit()
    with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
        result["counts"] = {k: v for k, v in db.session.get(Import, import_id).counts.items() if k != "notes"}
        db.session.remove()
    result["end_to_end"] = result["sniff"] + result["check"]["seconds"] + result["import"]["seconds"]
    result["peak_rss_mb"] = peak_mb()
    result["import_id"] = import_id
    if profiler:
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
    return result


def undo(app, big, import_id: int) -> float:
    """Undo an import as its admin would (service.undo, committed); returns the seconds it took."""
    from crm.extensions import db
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
        started = time.perf_counter()
        service.undo(db.session.get(Member, big.admin_member_id), db.session.get(Import, import_id))
        db.session.commit()
        taken = time.perf_counter() - started
        db.session.remove()
    return taken


# ---------------------------------------------------------------- the floor

FLOOR = """
CREATE TEMP TABLE staged (name text, phone text, email text, tags text, region text, industry text);
COPY staged FROM STDIN (FORMAT csv, HEADER true);
UPDATE staged SET phone = '+86' || right(regexp_replace(phone, '\\D', '', 'g'), 11), email = lower(email);
CREATE INDEX ON staged (phone);
ANALYZE staged;
UPDATE {s}.customers c SET name = s.name, email = s.email, updated_at = now(),
       custom = c.custom || jsonb_build_object('region', s.region, 'industry', s.industry)
  FROM (SELECT DISTINCT ON (phone) * FROM staged ORDER BY phone) s WHERE c.phone = s.phone AND c.deleted_at IS NULL;
INSERT INTO {s}.customers (name, phone, email, custom, kind, stage, preferred_channel, created_at, updated_at)
SELECT DISTINCT ON (phone) s.name, s.phone, s.email, jsonb_build_object('region', s.region, 'industry', s.industry),
       'person', 'lead', 'sms', now(), now()
  FROM staged s WHERE NOT EXISTS (SELECT 1 FROM {s}.customers c WHERE c.phone = s.phone) ORDER BY phone;
"""


def run_floor(raw_url: str, schema: str, path: Path) -> dict:
    """The same import in raw SQL, rolled back; seconds per statement."""
    import psycopg

    seconds = {}
    with psycopg.connect(raw_url) as connection:
        connection.execute("SET statement_timeout = 0")
        for statement in [s.strip() for s in FLOOR.format(s=f'"{schema}"').split(";\n") if s.strip()]:
            started = time.perf_counter()
            if statement.startswith("COPY"):
                with connection.cursor().copy(statement) as copy, open(path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
            else:
                connection.execute(statement)
            seconds[statement.split()[0].lower() + " " + statement.split()[1].lower()] = time.perf_counter() - started
        connection.rollback()
    return {"seconds": seconds, "total": sum(seconds.values())}


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the file (default 1,000,000)")
    parser.add_argument("--xlsx", action="store_true", help="import the same rows as an XLSX workbook too")
    parser.add_argument("--profile", action="store_true", help="cProfile the CSV's check and print the top")
    parser.add_argument("--no-floor", action="store_true", help="skip the raw-SQL floor (it scales like apply)")
    parser.add_argument("--customers", type=int, default=EXISTING["customers"], help="customers already there")
    args = parser.parse_args()
    begun = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    folder = Path(tempfile.mkdtemp(prefix="crm-import-bench-"))
    with services() as (database_url, redis_url, services_mode):
        os.environ["DATABASE_URL"] = database_url
        os.environ["REDIS_URL"] = redis_url
        os.environ["TENANT_CACHE_SECONDS"] = "1000000"
        raw_url = plain_url(database_url)
        with __import__("psycopg").connect(raw_url, autocommit=True) as connection:  # a million rows per statement
            connection.execute(f"ALTER DATABASE {connection.info.dbname} SET statement_timeout = 0")

        from crm import create_app
        from crm.extensions import db
        from tenants.migrations import upgrade_public

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
        step(f"seeding a tenant with {args.customers:,} customers ...")
        big = seed_big_tenant(app, slug="big", **{**EXISTING, "customers": args.customers})
        with __import__("psycopg").connect(raw_url) as connection:
            phones = [p for (p,) in connection.execute(
                f'SELECT phone FROM "{big.schema}".customers WHERE phone LIKE %s AND deleted_at IS NULL '
                "GROUP BY phone HAVING count(*) = 1 ORDER BY min(id)", ("+861%",))]
        csv_path = folder / "customers.csv"
        write_rows(csv_path, args.rows, phones)
        step(f"wrote {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB); the floor ...")
        floor = {"seconds": {}, "total": None} if args.no_floor else run_floor(raw_url, big.schema, csv_path)
        step(f"floor: {floor['total'] or 0:.1f} s; the engine on the CSV ...")
        phases = Phases()
        runs = [run_engine(app, big, csv_path, "customers.csv", phases, args.profile)]
        step(f"CSV: {runs[-1]['end_to_end']:.1f} s end to end, peak RSS {runs[-1]['peak_rss_mb']:.0f} MB")
        if args.xlsx:
            # The same rows again would all be unchanged: the CSV's import is undone first (timed), so the XLSX
            # creates and updates as many customers (the undone ones stay in the trash, as after a real undo).
            runs[-1]["undo_seconds"] = undo(app, big, runs[-1]["import_id"])
            phases.slow.take()  # the undo's statements are not the XLSX's
            step(f"undid the CSV's import in {runs[-1]['undo_seconds']:.1f} s")
            xlsx_path = folder / "customers.xlsx"
            started = time.perf_counter()
            write_xlsx(csv_path, xlsx_path)
            step(f"wrote the XLSX in {time.perf_counter() - started:.1f} s; the engine on it ...")
            runs.append(run_engine(app, big, xlsx_path, "customers.xlsx", phases, False))
            step(f"XLSX: {runs[-1]['end_to_end']:.1f} s end to end, peak RSS {runs[-1]['peak_rss_mb']:.0f} MB")
        info = machine(raw_url, services_mode)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "rows": args.rows,
               "existing_customers": args.customers, "machine": info, "loadavg_at_end": os.getloadavg(),
               "floor": floor, "runs": runs, "targets": TARGETS, "seconds": time.perf_counter() - begun}
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    print(f"\nImport of {results['rows']:,} rows into {results['existing_customers']:,} customers "
          f"(load average at the end {results['loadavg_at_end'][0]:.2f})")
    head = ("file", "sniff", "check", "stage", "decide", "import", "stage", "decide", "apply", "total s",
            "rows/s", "RSS MB")
    print(" | ".join(f"{h:>9}" for h in head))
    for run in results["runs"]:
        check, done = run["check"], run["import"]
        cells = [run["file"][-9:], run["sniff"], check["seconds"], check.get("stage"), check.get("decide"),
                 done["seconds"], done.get("stage"), done.get("decide"), done.get("apply"), run["end_to_end"],
                 results["rows"] / run["end_to_end"], run["peak_rss_mb"]]
        print(" | ".join(f"{c:>9}" if isinstance(c, str) else f"{c or 0:9.2f}" for c in cells))
        print("   counts: " + ", ".join(f"{k} {v:,}" for k, v in run["counts"].items()))
        for step in ("check", "import"):
            print(f"   {step}, slowest statements: " + "; ".join(f"{words} {seconds:.2f}" for words, seconds
                                                                  in list(run[step]["slow"].items())[:6]))
    floor = results["floor"]
    if floor["total"] is None:
        return
    print(f"floor (raw SQL: COPY + normalise + UPDATE + INSERT): {floor['total']:.2f} s  ("
          + ", ".join(f"{k} {v:.2f}" for k, v in floor["seconds"].items()) + ")")


if __name__ == "__main__":
    main()
