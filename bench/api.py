"""Benchmark of the REST API and the outgoing webhooks (issue 17).

    .venv/bin/python bench/api.py                         # 100,000 customers, 10,000 webhook events
    .venv/bin/python bench/api.py --customers 20000 --events 2000 --requests 100   # a quick run

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL). The
tenant is bench/bigtenant.py's workspace with 100,000 customers, filled in SQL; the caller is its admin's API token.

1. `GET /api/v1/customers?limit=100`, in process (Flask's test client: no network, no WSGI server), the first page
   and the next four pages by their cursors in turn. Floor: the same rows in raw SQL over psycopg (customers
   newest first with their tags, 100 a page, the same keyset), no serialising.
2. `POST /api/v1/customers` of one customer (a Chinese name, a phone, an email), in process. Floor: one INSERT of
   the same columns and its COMMIT in raw SQL.
3. Webhook fan-out: one subscription to a local receiver (a thread HTTP server in this process that answers 200),
   10,000 `customer.updated` events written in one transaction (emit_many, as an import does), delivered by 2
   `rq worker` processes on the `webhooks` queue. Reported: the write (serialising and the delivery rows) and the
   delivery (from the commit to the last delivery marked), events/s. Floor: the same signed bodies posted to the
   same receiver by 2 processes with the same HTTP call (crm/notify/transport.py), no database, no queue.

Prints a table and writes bench/results/api.json.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigtenant import seed_big_tenant  # noqa: E402
from bench.run import RESULTS, machine, no_nan, plain_url, services, summary  # noqa: E402

OUTPUT = RESULTS / "api.json"
TARGETS = {"list_p95_ms": 40.0, "post_median_ms": 15.0}
OTHERS = {"deals": 10, "orders": 10, "order_lines": 10, "follow_ups": 10, "tickets": 10}
WARMUP = 20
PAGES = 5  # the first page and the next four, in turn


# ---------------------------------------------------------------- the receiver

class Receiver(BaseHTTPRequestHandler):
    """Takes every POST with 200 and counts it."""

    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with Receiver.lock:
            Receiver.count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def start_receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/crm-events"


# ---------------------------------------------------------------- 1 and 2: the API in process

def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def bench_list(client, headers: dict, n: int) -> dict:
    """GET the first page and the next PAGES-1 by their cursors, in turn; every answer must be 200."""
    urls = ["/api/v1/customers/?limit=100"]
    for _page in range(PAGES - 1):
        answer = client.get(urls[-1], headers=headers).get_json()
        urls.append(f"/api/v1/customers/?limit=100&after={answer['next_cursor']}")
    for i in range(WARMUP):
        client.get(urls[i % PAGES], headers=headers)
    ms = []
    for i in range(n):
        def get():
            response = client.get(urls[i % PAGES], headers=headers)
            assert response.status_code == 200 and len(response.get_json()["data"]) == 100, response.status_code
        ms.append(timed(get))
    return summary(ms)


def bench_post(client, headers: dict, n: int) -> dict:
    for i in range(WARMUP):
        client.post("/api/v1/customers/", json={"name": f"预热 {i}"}, headers=headers)
    ms = []
    for i in range(n):
        body = {"name": f"接口客户 {i}", "phone": f"139{i:08d}", "email": f"api{i}@example.com"}

        def post():
            response = client.post("/api/v1/customers/", json=body, headers=headers)
            assert response.status_code == 201, response.get_data(as_text=True)
        ms.append(timed(post))
    return summary(ms)


def list_floor(raw_url: str, schema: str, n: int) -> dict:
    """The same pages in raw SQL: 100 live customers newest first after a keyset id, with their tags."""
    import psycopg

    sql = (f'SELECT c.*, (SELECT json_agg(json_build_object(\'id\', t.id, \'name\', t.name, \'color\', t.color)) '
           f'FROM "{schema}".tags t WHERE t.id = ANY(c.tag_ids)) AS tags FROM "{schema}".customers c '
           f'WHERE c.deleted_at IS NULL AND c.id < %s ORDER BY c.id DESC LIMIT 100')
    with psycopg.connect(raw_url) as connection:
        cursors = [2**31 - 1]
        for _page in range(PAGES - 1):
            cursors.append(connection.execute(sql, (cursors[-1],)).fetchall()[-1][0])
        for i in range(WARMUP):
            connection.execute(sql, (cursors[i % PAGES],)).fetchall()
        ms = [timed(lambda i=i: connection.execute(sql, (cursors[i % PAGES],)).fetchall()) for i in range(n)]
    return summary(ms)


def post_floor(raw_url: str, schema: str, owner_id: int, n: int) -> dict:
    """One INSERT of a customer and its COMMIT, in raw SQL."""
    import psycopg

    sql = (f'INSERT INTO "{schema}".customers (kind, name, phone, email, stage, preferred_channel, owner_id, custom, '
           f"custom_sensitive, tag_ids, created_at, updated_at) VALUES ('person', %s, %s, %s, 'lead', 'sms', {owner_id}, "
           f"'{{}}', '{{}}', '{{}}', now(), now())")
    ms = []
    with psycopg.connect(raw_url) as connection:
        for i in range(WARMUP + n):
            def insert():
                connection.execute(sql, (f"原始客户 {i}", f"+86137{i:08d}", f"raw{i}@example.com"))
                connection.commit()
            took = timed(insert)
            if i >= WARMUP:
                ms.append(took)
    return summary(ms)


# ---------------------------------------------------------------- 3: webhook fan-out

def start_workers(n: int, redis_url: str, logs: Path) -> list:
    # SimpleWorker, as scripts/run.py starts it: rq's forking Worker would make the app again for every job.
    return [subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--worker-class", "rq.worker.SimpleWorker",
                              "--quiet", "--with-scheduler", "--url", redis_url, "webhooks"], cwd=ROOT, env=dict(os.environ),
                             stdout=open(logs / f"worker-{i}.log", "wb"), stderr=subprocess.STDOUT)
            for i in range(n)]


def stop_workers(workers: list) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()


def delivered(app, ref) -> dict:
    from sqlalchemy import func, select

    from crm.extensions import db
    from crm.webhooks.models import WebhookDelivery
    from tenants.binding import tenant_bound

    with app.app_context(), tenant_bound(ref):
        return dict(db.session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
                    .all())


def bench_fanout(app, big, ref, url: str, events: int, redis_url: str, logs: Path, step) -> dict:
    """10,000 events through 2 workers to the receiver; the write and the delivery timed apart."""
    from sqlalchemy import select

    from crm.customers.models import Customer
    from crm.extensions import db
    from crm.members.models import Member
    from crm.webhooks import events as webhooks
    from crm.webhooks import service
    from tenants.binding import tenant_bound

    with app.app_context(), tenant_bound(ref):
        service.create_subscription(db.session.get(Member, big.admin_member_id), url, ["customer.updated"])
    workers = start_workers(2, redis_url, logs)
    try:
        # Warm-up: each worker makes its app on its first job (a delivery of a tenant that does not exist).
        from crm.jobs import queue
        from crm.webhooks.jobs import deliver

        with app.app_context():
            for _worker in workers:
                queue("webhooks").enqueue(deliver, 0, 0)
            while queue("webhooks").count:
                time.sleep(0.1)
        time.sleep(3)
        Receiver.count = 0
        with app.app_context(), tenant_bound(ref):
            ids = db.session.scalars(select(Customer.id).order_by(Customer.id).limit(events)).all()
        step(f"writing {len(ids):,} events ...")
        started = time.perf_counter()
        with app.app_context(), tenant_bound(ref):
            webhooks.emit_many("customer.updated", Customer, ids)
        committed = time.perf_counter()  # the jobs are queued by the commit's after_commit hook: in the write
        step(f"written in {committed - started:.1f} s; delivering ...")
        while True:
            counts = delivered(app, ref)
            if counts.get("delivered", 0) >= len(ids):
                break
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError(f"a worker stopped; see {logs}")
            time.sleep(0.2)
        done = time.perf_counter()
    finally:
        stop_workers(workers)
    delivery = done - committed
    return {"events": len(ids), "write_seconds": committed - started, "delivery_seconds": delivery,
            "events_per_second": len(ids) / delivery, "end_to_end_per_second": len(ids) / (done - started),
            "received": Receiver.count, "statuses": counts}


def _post_bodies(url: str, bodies: list[bytes]) -> int:
    from crm import create_app
    from crm.notify.transport import http_call

    with create_app().app_context():
        for body in bodies:
            assert http_call("POST", url, body=body, headers={"Content-Type": "application/json"}).ok
    return len(bodies)


def fanout_floor(app, ref, url: str, events: int) -> dict:
    """The stored bodies posted again by 2 processes with the same HTTP call: the receiver and HTTP alone."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.webhooks.jobs import body_of
    from crm.webhooks.models import WebhookDelivery
    from tenants.binding import tenant_bound

    with app.app_context(), tenant_bound(ref):
        bodies = [body_of(d) for d in db.session.scalars(select(WebhookDelivery).limit(events))]
    started = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        sent = sum(pool.map(_post_bodies, [url, url], [bodies[0::2], bodies[1::2]]))
    seconds = time.perf_counter() - started
    return {"events": sent, "seconds": seconds, "events_per_second": sent / seconds}


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500, help="timed GETs and POSTs each (default 500)")
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    begun = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    logs = Path(tempfile.mkdtemp(prefix="crm-api-bench-"))
    server, url = start_receiver()
    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_CACHE_SECONDS="1000000",
                          API_RATE_LIMIT="100000000 per minute")
        raw_url = plain_url(database_url)
        from crm import create_app
        from crm.api import tokens
        from crm.extensions import db
        from crm.members.models import Member
        from tenants.binding import tenant_bound
        from tenants.migrations import upgrade_public
        from tenants.service import tenant_ref

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
        step(f"seeding a tenant with {args.customers:,} customers ...")
        big = seed_big_tenant(app, slug="apibench", customers=args.customers, **OTHERS)
        with app.app_context():
            ref = tenant_ref(big.tenant_id)
            with tenant_bound(ref):
                secret = tokens.create_token(db.session.get(Member, big.admin_member_id), big.tenant_id, "bench",
                                             "90").secret
        headers = {"Authorization": f"Bearer {secret}"}
        client = app.test_client()
        step(f"GET /api/v1/customers?limit=100 (load average {os.getloadavg()[0]:.1f}) ...")
        results = {"list": bench_list(client, headers, args.requests),
                   "list_floor": list_floor(raw_url, big.schema, args.requests)}
        step(f"GET: median {results['list']['median']:.1f} ms, p95 {results['list']['p95']:.1f} ms; floor "
             f"{results['list_floor']['median']:.1f} / {results['list_floor']['p95']:.1f} ms. POST ...")
        results["post"] = bench_post(client, headers, args.requests)
        results["post_floor"] = post_floor(raw_url, big.schema, big.admin_member_id, args.requests)
        step(f"POST: median {results['post']['median']:.1f} ms, p95 {results['post']['p95']:.1f} ms; floor "
             f"{results['post_floor']['median']:.1f} / {results['post_floor']['p95']:.1f} ms. Webhook fan-out ...")
        results["fanout"] = bench_fanout(app, big, ref, url, args.events, redis_url, logs, step)
        step(f"fan-out: {results['fanout']['events_per_second']:.0f} events/s; the floor ...")
        results["fanout_floor"] = fanout_floor(app, ref, url, args.events)
        info = machine(raw_url, services_mode)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    server.shutdown()
    results.update({"when": datetime.now(UTC).isoformat(timespec="seconds"), "customers": args.customers,
                    "requests": args.requests, "machine": info, "loadavg_at_end": os.getloadavg(),
                    "targets": TARGETS, "seconds": time.perf_counter() - begun})
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    print(f"\nAPI on {results['customers']:,} customers (load average at the end {results['loadavg_at_end'][0]:.2f})")
    print(f"{'benchmark':<42} | {'median ms':>9} | {'p95 ms':>8} | {'floor med':>9} | {'floor p95':>9} | target")
    for name, key, target in (("GET /api/v1/customers?limit=100", "list", f"p95 < {TARGETS['list_p95_ms']:.0f} ms"),
                              ("POST /api/v1/customers", "post", f"median < {TARGETS['post_median_ms']:.0f} ms")):
        stats, floor = results[key], results[f"{key}_floor"]
        print(f"{name:<42} | {stats['median']:>9.2f} | {stats['p95']:>8.2f} | {floor['median']:>9.2f} | "
              f"{floor['p95']:>9.2f} | {target}")
    fanout, floor = results["fanout"], results["fanout_floor"]
    print(f"\nWebhook fan-out: {fanout['events']:,} events, 2 workers: write {fanout['write_seconds']:.1f} s, "
          f"delivery {fanout['delivery_seconds']:.1f} s = {fanout['events_per_second']:.0f} events/s "
          f"({fanout['end_to_end_per_second']:.0f}/s with the write); floor (2 processes, HTTP only) "
          f"{floor['events_per_second']:.0f} events/s")


if __name__ == "__main__":
    main()
