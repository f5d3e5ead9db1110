"""Benchmark of file uploads and of "Export everything" (issue 15): time and peak memory of one upload of 1, 5 and
25 MB to a customer through the app's own route, and of the workspace export that then holds those files.

    .venv/bin/python bench/upload.py

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL with a
database `crm_bench`, dropped at the end); files go to a temporary FILE_DIR. One workspace is signed up as the app
does; its admin posts each file (a PDF header, then random bytes: nothing compresses) as the Files card's form does,
REPEATS times per size, through Flask's test client with a session and a CSRF token. The request body is built
before the clock and the memory count start, so what is measured is the server's work: parsing the multipart body
(werkzeug spools a file over 500 KB to disk), the type check, SHA-256, the thumbnail attempt, storing the file and
the transaction. Peak memory is tracemalloc's peak of Python allocations during the request; "flat" means it does
not grow with the file's size. Then the export job (`export_everything`) is run in this process once, timed and
counted the same way. Prints a table and writes bench/results/upload.json.
"""
import io
import json
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, machine, no_nan, plain_url, services, summary  # noqa: E402

SIZES_MB = (1, 5, 25)
REPEATS = 3


def body(megabytes: int) -> bytes:
    head = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n"
    return head + os.urandom(megabytes * 1024 * 1024 - len(head))


def measured(run) -> tuple[float, float]:
    """(milliseconds, peak MiB of Python allocations) of one call."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        run()
    finally:
        took = (time.perf_counter() - started) * 1000
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return took, peak / 1048576


def signed_in(app, account_id: int):
    """A test client with a session of `account` and the header its writes carry (the pages' CSRF token)."""
    from itsdangerous import URLSafeTimedSerializer

    from crm.accounts.models import Account
    from crm.accounts.sessions import start_session
    from crm.extensions import db

    client = app.test_client()
    with app.app_context():
        token = start_session(db.session.get(Account, account_id), "127.0.0.1", "bench")
        db.session.commit()
    raw = uuid.uuid4().hex
    with client.session_transaction() as session:
        session.update({"_user_id": token, "_fresh": True, "csrf_token": raw})
    return client, {"X-CSRFToken": URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw),
                    "HX-Request": "true"}


def upload_rounds(app, client, headers, slug: str, customer_id: int, step) -> dict:
    from werkzeug.test import EnvironBuilder

    rounds = {}
    for size in SIZES_MB:
        content, took, peaks = body(size), [], []
        for i in range(REPEATS):
            builder = EnvironBuilder(path=f"/{slug}/files/customer/{customer_id}", method="POST", headers=headers,
                                     data={"files": [(io.BytesIO(content), f"big-{size}-{i}.pdf")]},
                                     content_type="multipart/form-data")
            environ = builder.get_environ()  # the body is encoded here, before the count starts
            answer = {}
            ms, peak = measured(lambda: answer.setdefault("r", client.open(environ)))
            assert answer["r"].status_code == 200, answer["r"].status_code
            took.append(ms)
            peaks.append(peak)
        rounds[f"{size} MB"] = {**summary(took), "peak_mib": max(peaks)}
        step(f"  {size} MB: median {rounds[f'{size} MB']['median']:.0f} ms, peak {max(peaks):.1f} MiB")
    return rounds


def export_round(app, tenant_id: int, member_id: int) -> dict:
    from crm.workspace_export.jobs import export_everything

    with app.app_context():
        result = {}
        ms, peak = measured(lambda: result.setdefault("r", export_everything(tenant_id, member_id)))
        from crm.extensions import db
        from crm.workspace_export.models import WorkspaceExport
        from tenants.binding import tenant_bound
        from tenants.resolver import tenant_by_id

        with tenant_bound(tenant_by_id(tenant_id)):
            size = db.session.get(WorkspaceExport, result["r"]["ok"]).bytes
    return {"ms": ms, "peak_mib": peak, "archive_mib": size / 1048576}


def main() -> None:
    begun = time.perf_counter()
    load_at_start = os.getloadavg()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    files = tempfile.mkdtemp(prefix="crm-bench-files-")
    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_POOL_SIZE="0",
                          ARGON2_PROFILE="CHEAPEST", FILE_DIR=files)
        from crm import create_app
        from crm.accounts import service as accounts
        from crm.customers import writes
        from crm.extensions import db
        from crm.members.models import Member
        from tenants.binding import tenant_bound
        from tenants.migrations import upgrade_public
        from tenants.service import tenant_ref

        app, raw_url = create_app(), plain_url(database_url)
        with app.app_context():
            upgrade_public(db.engine)
            account, made = accounts.sign_up("Files Co", "files", "Admin", "admin@files.example", "x" * 12, "en")
            db.session.commit()
            tenant, account_id = tenant_ref(made.id), account.id
            with tenant_bound(tenant):
                admin = db.session.scalar(db.select(Member).where(Member.account_id == account_id))
                customer_id, member_id = writes.create_customer(admin, {"name": "张伟"}).id, admin.id
                db.session.commit()
        client, headers = signed_in(app, account_id)
        step("uploads ...")
        results = {"uploads": upload_rounds(app, client, headers, "files", customer_id, step)}
        step("export of the workspace with those files ...")
        results["export"] = export_round(app, tenant.id, member_id)
        with app.app_context():
            db.engine.dispose()
        info = machine(raw_url, services_mode)
        info["loadavg_at_start"] = load_at_start
    shutil.rmtree(files, ignore_errors=True)
    results.update(when=datetime.now(UTC).isoformat(timespec="seconds"), machine=info,
                   seconds=time.perf_counter() - begun)
    print("\nUpload of one file to a customer, and Export everything (peak: Python allocations, tracemalloc)")
    print(" | ".join(f"{h:>16}" for h in ("what", "n", "median ms", "p95 ms", "peak MiB")))
    for size, s in results["uploads"].items():
        print(" | ".join(f"{c:>16}" for c in (f"upload {size}", s["n"], f"{s['median']:.0f}", f"{s['p95']:.0f}",
                                               f"{s['peak_mib']:.1f}")))
    e = results["export"]
    print(" | ".join(f"{c:>16}" for c in (f"export {e['archive_mib']:.0f} MB", 1, f"{e['ms']:.0f}", "",
                                           f"{e['peak_mib']:.1f}")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "upload.json"
    out.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
