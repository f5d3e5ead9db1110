"""Benchmark of the notifications outbox: dispatch by real RQ workers, and the sweeper.

    .venv/bin/python bench/notify.py           # full: 10,000 reminders, 100 tenants; sweeper over 1,000 tenants
    .venv/bin/python bench/notify.py --quick   # 2,000 reminders, 20 tenants; sweeper over 200 tenants

(1) Dispatch: 100 tenants, each with 100 due reminders written with `crm.notify.outbox.schedule` (half email,
half SMS), sent by 2 `rq worker` processes to local sinks: an SMTP server (aiosmtpd) for email, and an HTTP
server standing in for the SMS provider (each tenant's SMS settings: the generic HTTP provider, with an
encrypted auth token). Measured: wall time from the moment the messages fall due until the last is sent,
messages per second, and each message's latency (sent_at - due_at).
(2) Sweeper: 10 due lines per tenant for 1,000 tenants in `public.notification_due`; `sweep()` timed as a
whole (the query, the RQ hand-overs into Redis, the commit) with nothing to do, with one stale line per
tenant, and with every line stale; and the EXPLAIN of its query.

Uses the same services as bench/run.py: embedded PostgreSQL + Valkey in a temporary folder, or the servers
named by DATABASE_URL and REDIS_URL when both are set (a database `crm_bench`, dropped at the end; the Redis
database must have no other work on the notify queue). Prints a table and writes bench/results/notify.json.
"""
import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (
    RESULTS,
    fmt,
    machine,
    no_nan,
    percentile,
    plain_url,
    services,
    summary,
)

FULL = {"tenants": 100, "per_tenant": 100, "paced": 200, "paced_per_second": 10, "sweep_tenants": 1000,
        "sweep_lines": 10, "sweep_runs": 30, "stale_runs": 7}
QUICK = {"tenants": 20, "per_tenant": 100, "paced": 100, "paced_per_second": 10, "sweep_tenants": 200,
         "sweep_lines": 10, "sweep_runs": 15, "stale_runs": 5}
PACED_LEAD = 3.0  # seconds between writing the paced reminders and the first one falling due
WORKERS = 2
DISPATCH_TIMEOUT = 600  # seconds: the run stops (and says so) rather than wait for ever
FAKE_TENANT_BASE = 1_000_000  # tenant ids of the sweeper's due lines (no schema needed: sweep reads public only)
TARGETS = {"sweep_idle_p95_ms": 50.0}
WORKER_CLASSES = {"simple": "rq.worker.SimpleWorker", "fork": "rq.worker.Worker"}


# ---------------------------------------------------------------- sinks

class SmtpSink:
    """aiosmtpd handler counting what arrives, by Message-ID."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    async def handle_DATA(self, server, session, envelope):
        from email.parser import BytesParser
        from email.policy import default

        message_id = str(BytesParser(policy=default).parsebytes(envelope.content, headersonly=True)["Message-ID"])
        self.ids[message_id] = self.ids.get(message_id, 0) + 1
        return "250 OK"


class SmsSink(BaseHTTPRequestHandler):
    """The generic HTTP SMS provider's API: POST JSON {"to", "text", "reference"}, answer {"id"}."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        ok = self.headers.get("Authorization") == "Bearer bench-token" and body.get("to", "").startswith("+")
        references = self.server.references  # {reference: times accepted}
        with self.server.lock:
            reference = body.get("reference", "")
            references[reference] = references.get(reference, 0) + ok
        answer = json.dumps({"id": f"sms-{len(references)}"} if ok else {"error": "refused"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sinks():
    from aiosmtpd.controller import Controller

    smtp = SmtpSink()
    smtp_port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port, server_hostname="sink.bench")
    controller.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), SmsSink)
    http.daemon_threads, http.references, http.lock = True, {}, threading.Lock()
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield smtp, f"smtp://127.0.0.1:{smtp_port}", http.references, f"http://127.0.0.1:{http.server_port}/sms"
    finally:
        http.shutdown()
        controller.stop()


# ---------------------------------------------------------------- workers

class Workers:
    def __init__(self, n: int, worker_class: str, redis_url: str, env: dict, logs: Path):
        self.processes, self.names, self.redis_url, self.env, self.logs = [], [], redis_url, env, logs
        self.n, self.worker_class = n, worker_class

    def start(self) -> None:
        for i in range(self.n):
            name = f"bench-notify-{os.getpid()}-{i}"
            with open(self.logs / f"{name}.log", "wb") as log:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "rq.cli", "worker", "--worker-class", self.worker_class, "--quiet",
                     "--with-scheduler", "--name", name, "--url", self.redis_url, "notify"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))
            self.names.append(name)

    def warm_up(self, app, timeout: float = 120) -> float:
        """Hand each worker a job that makes its app (a send for a tenant that does not exist) and wait until
        every worker has finished one; returns the seconds it took."""
        import redis

        from crm.jobs import queue
        from crm.notify.jobs import send_notification

        started = time.perf_counter()
        client = redis.Redis.from_url(self.redis_url)
        with app.app_context():
            notify = queue("notify")
            while time.perf_counter() - started < timeout:
                done = [int(client.hget(f"rq:worker:{name}", "successful_job_count") or 0) for name in self.names]
                if all(done):
                    return time.perf_counter() - started
                if self.dead():
                    raise RuntimeError(f"a worker stopped during warm-up; see {self.logs}")
                if notify.count < self.n:
                    notify.enqueue(send_notification, 0, 0)
                time.sleep(0.1)
        raise RuntimeError(f"workers not ready after {timeout} s; see {self.logs}")

    def dead(self) -> bool:
        return any(process.poll() is not None for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ---------------------------------------------------------------- (1) dispatch

def provision(app, n: int) -> list:
    """n tenants (schemas built cold, one admin account), each with the generic HTTP SMS provider set up."""
    from crm.accounts.models import Account
    from crm.extensions import db
    from crm.accounts.service import create_workspace
    from tenants.service import ref_of

    with app.app_context():
        admin = Account(email="notify-bench@example.com", name="Bench Admin", password_hash="x", language="en")
        db.session.add(admin)
        db.session.commit()
        refs = []
        for i in range(n):
            refs.append(ref_of(create_workspace(f"Notify bench {i} 通知", f"notify-bench-{i}", admin)))
            db.session.commit()
        return refs


def write_reminders(app, refs: list, per_tenant: int, sms_url: str) -> dict:
    """Each tenant's SMS settings and `per_tenant` reminders (half email, half SMS), written with
    outbox.schedule. They are written due in a day (their RQ jobs wait in the scheduled registry, which no
    worker here reads); fall_due() later makes them all due at once and hands them over."""
    from crm.extensions import db
    from crm.notify import channel_settings, outbox
    from tenants.binding import tenant_bound

    later = datetime.now(UTC) + timedelta(days=1)
    started = time.perf_counter()
    with app.app_context():
        for n, ref in enumerate(refs):
            with tenant_bound(ref):
                channel_settings.save_sms({"provider": "http", "url": sms_url, "auth_header": "Authorization",
                                 "auth_value": "Bearer bench-token"})
                for i in range(per_tenant):
                    sms = i % 2 == 1
                    outbox.schedule(channel="sms" if sms else "email", kind="reminder", member_id=1,
                                    recipient=f"+86138{n:04d}{i:04d}" if sms else f"rep{i}@t{n}.example",
                                    key=f"bench:{n}:{i}", due_at=later, source=f"bench:{n}:{i}",
                                    payload={"method": "Call", "customer": f"客户 {n}-{i}", "due": "10:00",
                                             "summary": "Follow up on the quote", "link": ""})
        db.session.remove()
    return {"seconds": time.perf_counter() - started}


def clear_redis(app) -> None:
    from crm.jobs import queue

    with app.app_context():
        notify = queue("notify")
        notify.empty()
        scheduled = notify.scheduled_job_registry
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)


def fall_due(app, refs: list) -> tuple[datetime, float]:
    """Every reminder falls due now: its row and due line say so, and its job is handed to RQ (one pipeline),
    as RQ's scheduler would move the scheduled jobs at their time."""
    from sqlalchemy import select, text

    from crm.extensions import db
    from crm.jobs import queue
    from crm.notify import outbox
    from crm.notify.jobs import send_notification
    from crm.notify.models import Notification
    from tenants.binding import tenant_bound

    with app.app_context():
        started = time.perf_counter()
        now = datetime.now(UTC)
        jobs = []
        for ref in refs:
            with tenant_bound(ref):
                db.session.execute(Notification.__table__.update().values(due_at=now))
                ids = db.session.scalars(select(Notification.id)).all()
                jobs += [(ref.id, notification_id) for notification_id in ids]
        db.session.execute(text("update public.notification_due set due_at = :now, enqueued_at = :now"),
                           {"now": now})
        db.session.commit()
        notify = queue("notify")
        with notify.connection.pipeline() as pipe:
            notify.enqueue_many([notify.prepare_data(send_notification, args=job, job_id=outbox.job_id(*job))
                                 for job in jobs], pipeline=pipe)
            pipe.execute()
        return now, time.perf_counter() - started


def schedule_paced(app, refs: list, n: int, per_second: float) -> None:
    """n more reminders written with outbox.schedule, due one after the other (per_second) from a few seconds
    from now: their jobs go to RQ's scheduled registry and the workers' scheduler enqueues each at its time,
    as in production. Spread across the tenants, alternately email and SMS."""
    from crm.extensions import db
    from crm.notify import outbox
    from tenants.binding import tenant_bound

    first = datetime.now(UTC) + timedelta(seconds=PACED_LEAD)
    with app.app_context():
        for k in range(n):
            ref, sms = refs[k % len(refs)], k % 2 == 1
            with tenant_bound(ref):
                outbox.schedule(channel="sms" if sms else "email", kind="reminder", member_id=1,
                                recipient=f"+86139{k:08d}" if sms else f"paced{k}@bench.example",
                                key=f"paced:{k}", due_at=first + timedelta(seconds=k / per_second),
                                payload={"method": "Call", "customer": f"客户 {k}", "due": "10:00",
                                         "summary": "Paced reminder", "link": ""})
        db.session.remove()


def wait_until_done(app, workers, timeout: float) -> bool:
    """Poll public.notification_due until no line is left (every message finished); False when it stopped
    early (timeout, or a worker died)."""
    from sqlalchemy import text

    from crm.extensions import db

    started = time.perf_counter()
    with app.app_context():
        while True:
            left = db.session.execute(text("select count(*) from public.notification_due")).scalar()
            db.session.commit()
            if not left:
                return True
            if time.perf_counter() - started > timeout or workers.dead():
                return False
            time.sleep(0.1)


def outbox_rows(app, refs: list) -> list[tuple]:
    from sqlalchemy import select

    from crm.extensions import db
    from crm.notify.models import Notification
    from tenants.binding import tenant_bound

    rows = []
    with app.app_context():
        for ref in refs:
            with tenant_bound(ref):
                rows += db.session.execute(select(Notification.channel, Notification.status, Notification.due_at,
                                                  Notification.sent_at, Notification.attempts,
                                                  Notification.idempotency_key, Notification.last_error)).all()
    return rows


def bench_dispatch(app, sizes: dict, redis_url: str, worker_class: str, logs: Path, step) -> dict:
    n = sizes["tenants"] * sizes["per_tenant"]
    paced_stopped = True
    step(f"(1) provisioning {sizes['tenants']} tenants ...")
    started = time.perf_counter()
    refs = provision(app, sizes["tenants"])
    provisioned = time.perf_counter() - started
    with sinks() as (smtp, smtp_url, sms_references, sms_url):
        step(f"(1) writing {n} reminders with outbox.schedule ...")
        written = write_reminders(app, refs, sizes["per_tenant"], sms_url)
        clear_redis(app)
        env = {**os.environ, "SMTP_URL": smtp_url}
        workers = Workers(WORKERS, WORKER_CLASSES[worker_class], redis_url, env, logs)
        try:
            workers.start()
            warm = workers.warm_up(app)
            step(f"(1) workers ready after {warm:.1f} s; {n} reminders fall due ...")
            gc.collect()
            due_at, handed_over = fall_due(app, refs)
            t0 = time.perf_counter()
            stopped = not wait_until_done(app, workers, DISPATCH_TIMEOUT)
            wall = time.perf_counter() - t0
            if not stopped:
                step(f"(1) {sizes['paced']} reminders due one by one, {sizes['paced_per_second']:g} a second ...")
                schedule_paced(app, refs, sizes["paced"], sizes["paced_per_second"])
                paced_stopped = not wait_until_done(app, workers, PACED_LEAD + sizes["paced"] / sizes[
                    "paced_per_second"] + 60)
        finally:
            workers.stop()
        rows = outbox_rows(app, refs)
        arrived_email, arrived_sms = dict(smtp.ids), dict(sms_references)
    clear_redis(app)
    paced = [r for r in rows if r.idempotency_key.startswith("paced:")]
    rows = [r for r in rows if not r.idempotency_key.startswith("paced:")]
    paced_latency = [(r.sent_at - r.due_at).total_seconds() * 1000 for r in paced if r.status == "sent"]
    sent = [r for r in rows if r.status == "sent"]
    latency = [(r.sent_at - r.due_at).total_seconds() * 1000 for r in sent]
    by_channel = {}
    for channel in ("email", "sms"):
        mine = [(r.sent_at - r.due_at).total_seconds() * 1000 for r in sent if r.channel == channel]
        by_channel[channel] = summary(mine)
    first, last = min((r.sent_at for r in sent), default=None), max((r.sent_at for r in sent), default=None)
    return {
        "messages": n, "tenants": sizes["tenants"], "workers": WORKERS, "worker_class": WORKER_CLASSES[worker_class],
        "provision_seconds": provisioned, "write_seconds": written["seconds"], "warm_up_seconds": warm,
        "hand_over_seconds": handed_over, "wall_seconds": wall, "stopped_early": stopped,
        "messages_per_second": len(sent) / wall if wall else float("nan"),
        "first_to_last_sent_seconds": (last - first).total_seconds() if sent else float("nan"),
        "latency_ms": summary(latency, stopped), "latency_ms_by_channel": by_channel,
        "statuses": {s: sum(1 for r in rows if r.status == s) for s in sorted({r.status for r in rows})},
        "attempts_over_1": sum(1 for r in rows if r.attempts > 1),
        "errors": sorted({r.last_error for r in rows if r.last_error})[:5],
        "email_arrived": len(arrived_email), "email_twice": sum(1 for v in arrived_email.values() if v > 1),
        "sms_arrived": len([k for k, v in arrived_sms.items() if v]),
        "sms_twice": sum(1 for v in arrived_sms.values() if v > 1),
        "due_at": due_at.isoformat(),
        "paced": {"messages": sizes["paced"], "per_second": sizes["paced_per_second"],
                  "statuses": {st: sum(1 for r in paced if r.status == st) for st in sorted({r.status for r in paced})},
                  "latency_ms": summary(paced_latency, stopped or paced_stopped)},
    }


# ---------------------------------------------------------------- (2) sweeper

class Captured:
    """The SQL statements (and parameters) an engine runs while switched on."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.statements = False, []
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.statements.append((statement, parameters))


def fill_due_lines(raw_url: str, tenants: int, lines: int) -> None:
    """`lines` due lines for each of `tenants` tenant ids, due over the next week (the usual state: reminders
    waiting for their time), written straight into public.notification_due."""
    import psycopg

    with psycopg.connect(raw_url, autocommit=True) as connection:
        connection.execute("delete from public.notification_due")
        connection.execute(
            "insert into public.notification_due (tenant_id, notification_id, due_at, enqueued_at) "
            "select %(base)s + t, n, now() + make_interval(mins => 1 + (t * 7919 + n * 104729) %% 10080), now() "
            "from generate_series(1, %(tenants)s) t, generate_series(1, %(lines)s) n",
            {"base": FAKE_TENANT_BASE, "tenants": tenants, "lines": lines})
        connection.execute("vacuum (analyze) public.notification_due")


def make_stale(raw_url: str, which: str) -> int:
    """Lines due an hour ago whose hand-over is as old (Redis lost them): one per tenant, or all of them."""
    import psycopg

    where = "where notification_id = 1" if which == "one per tenant" else ""
    with psycopg.connect(raw_url) as connection:
        count = connection.execute(f"update public.notification_due set due_at = now() - interval '1 hour', "
                                   f"enqueued_at = now() - interval '1 hour' {where}").rowcount
        connection.commit()
    return count


def restore_future(raw_url: str) -> None:
    import psycopg

    with psycopg.connect(raw_url, autocommit=True) as connection:
        connection.execute("update public.notification_due set due_at = now() + make_interval(mins => 1 + "
                           "((tenant_id - %(base)s) * 7919 + notification_id * 104729) %% 10080), "
                           "enqueued_at = now()", {"base": FAKE_TENANT_BASE})
        connection.execute("vacuum (analyze) public.notification_due")


def timed_sweeps(app, runs: int, reset=None) -> tuple[list[float], list[int]]:
    from crm.jobs import queue
    from crm.notify.jobs import sweep

    times, handed = [], []
    with app.app_context():
        notify = queue("notify")
        for _ in range(runs):
            if reset is not None:
                reset()
            notify.empty()
            gc.collect()
            started = time.perf_counter_ns()
            handed.append(sweep())
            times.append((time.perf_counter_ns() - started) / 1e6)
        notify.empty()
    return times, handed


def explain(app, raw_url: str, captured: Captured, reset=None) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the query sweep() sent, with its own parameters (rolled back); `reset`
    puts the lines back as they were before that sweep handed them over."""
    import psycopg

    from crm.notify.jobs import sweep

    with app.app_context():
        captured.statements, captured.on = [], True
        try:
            sweep()
        finally:
            captured.on = False
        from crm.jobs import queue

        queue("notify").empty()
    if reset is not None:
        reset()
    statement, parameters = next((s, p) for s, p in captured.statements if "notification_due" in s
                                 and s.lstrip().upper().startswith("SELECT"))
    with psycopg.connect(raw_url) as connection:
        plan = [line for (line,) in connection.execute("explain (analyze, buffers) " + statement, parameters)]
        connection.rollback()
    return {"sql": " ".join(statement.split()), "plan": plan,
            "uses_due_at_index": any("Index" in line and "notification_due_due_at" in line for line in plan)}


def bench_sweeper(app, raw_url: str, sizes: dict, step) -> dict:
    import psycopg

    from crm.extensions import db

    tenants, lines = sizes["sweep_tenants"], sizes["sweep_lines"]
    step(f"(2) {tenants * lines} due lines for {tenants} tenants; timing sweep() ...")
    fill_due_lines(raw_url, tenants, lines)
    with app.app_context():
        captured = Captured(db.engine)
    results = {"tenants": tenants, "lines": tenants * lines}
    idle, handed = timed_sweeps(app, sizes["sweep_runs"])
    results["idle"] = {**summary(idle), "handed_over": max(handed)}
    results["idle_explain"] = explain(app, raw_url, captured)
    for which, key in (("one per tenant", "stale_one_per_tenant"), ("all", "stale_all")):
        make_stale(raw_url, which)
        with psycopg.connect(raw_url, autocommit=True) as connection:
            connection.execute("vacuum (analyze) public.notification_due")
        times, handed = timed_sweeps(app, sizes["stale_runs"], reset=lambda w=which: make_stale(raw_url, w))
        results[key] = {**summary(times), "handed_over": max(handed),
                        "per_line_ms": percentile(times, 50) / max(handed) if max(handed) else float("nan")}
        make_stale(raw_url, which)
        results[f"{key}_explain"] = explain(app, raw_url, captured, reset=lambda w=which: make_stale(raw_url, w))
        restore_future(raw_url)
    with app.app_context():
        from crm.jobs import queue

        queue("notify").empty()
    return results


# ---------------------------------------------------------------- report

def rows_of(results: dict) -> list[list[str]]:
    d, s = results["dispatch"], results["sweeper"]
    lat = d["latency_ms"]
    early = " [stopped early]" if d["stopped_early"] else ""
    rows = [
        [f"(1) dispatch: {d['messages']:,} due reminders, {d['tenants']} tenants, {d['workers']} workers{early}",
         str(d["messages"]), f"{d['wall_seconds']:.2f} s", f"{d['messages_per_second']:.1f} msg/s", "", "", ""],
        ["(1)   latency sent_at - due_at, all", str(lat["n"]), fmt(lat["median"]), fmt(lat["p95"]), fmt(lat["p99"]),
         "", ""],
    ]
    for channel, stats in d["latency_ms_by_channel"].items():
        rows.append([f"(1)   latency, {channel}", str(stats["n"]), fmt(stats["median"]), fmt(stats["p95"]),
                     fmt(stats["p99"]), "", ""])
    paced = d["paced"]["latency_ms"]
    rows.append([f"(1) one at a time: {d['paced']['messages']} reminders due {d['paced']['per_second']:g}/s "
                 "through RQ's scheduler, latency" + (" [stopped early]" if paced.get("stopped_early") else ""),
                 str(paced["n"]), fmt(paced["median"]), fmt(paced["p95"]), fmt(paced["p99"]), "", ""])
    target = TARGETS["sweep_idle_p95_ms"]
    for key, label in (("idle", "nothing stale"), ("stale_one_per_tenant", "1 stale line per tenant"),
                       ("stale_all", "every line stale (limit 5,000)")):
        stats = s[key]
        explain_key = f"{key}_explain"
        index = "due_at index" if s[explain_key]["uses_due_at_index"] else "NO due_at index"
        name = (f"(2) sweep(), {s['tenants']:,} tenants / {s['lines']:,} lines, {label}: "
                f"{stats['handed_over']:,} handed over ({index})")
        rows.append([name, str(stats["n"]), fmt(stats["median"]),
                     fmt(stats["p95"]), fmt(stats["p99"]),
                     f"p95 < {target:g} ms" if key == "idle" else "",
                     ("PASS" if stats["p95"] < target else "FAIL") if key == "idle" else "-"])
    return rows


def print_table(rows: list[list[str]], results: dict) -> None:
    header = ["benchmark", "n", "median/p50 ms", "p95 ms", "p99 ms", "target", "pass/fail"]
    widths = [max(len(h), *(len(line[i]) for line in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in rows:
        print("  ".join(cell.rjust(w) if 0 < i < 5 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    d = results["dispatch"]
    print(f"\n(1) rows {d['statuses']}; email arrived {d['email_arrived']:,} ({d['email_twice']} twice), SMS arrived "
          f"{d['sms_arrived']:,} ({d['sms_twice']} twice); {d['attempts_over_1']} needed a second attempt"
          + (f"; errors: {d['errors']}" if d["errors"] else ""))
    print(f"    first to last message sent {d['first_to_last_sent_seconds']:.2f} s; hand-over of all jobs "
          f"{d['hand_over_seconds']:.2f} s (inside the wall time); workers ({d['worker_class']}) warm after "
          f"{d['warm_up_seconds']:.1f} s; set-up: {d['tenants']} tenants {d['provision_seconds']:.1f} s, "
          f"reminders written {d['write_seconds']:.1f} s")
    s = results["sweeper"]
    print("\n(2) the sweeper's query and its plan with nothing stale:")
    print(f"    {s['idle_explain']['sql']}")
    for line in s["idle_explain"]["plan"]:
        print(f"    | {line}")
    print("    with every line stale:")
    for line in s["stale_all_explain"]["plan"]:
        print(f"    | {line}")
    m = results["machine"]
    print(f"\nmachine: {m['nproc']} CPU ({m['cpu']}), Python {m['python']}, {m['postgres'].split(' on ')[0]}, "
          f"{m['services']} services; {results['mode']} mode, {results['seconds']:.1f} s; "
          f"load average {m['loadavg_at_start'][0]:.2f} at start, {m['loadavg_at_end'][0]:.2f} at end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--worker-class", choices=sorted(WORKER_CLASSES), default="simple",
                        help="simple: rq's SimpleWorker, jobs run in the worker process (default); fork: rq's "
                             "default Worker, a forked work horse per job")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    sizes = QUICK if args.quick else FULL
    begun = time.perf_counter()
    load_at_start = os.getloadavg()
    if load_at_start[0] > 0.5:
        print(f"note: load average {load_at_start[0]:.2f} at start; other work on this machine will show in the "
              "figures", file=sys.stderr, flush=True)

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:5.1f}s] {message}", flush=True)

    logs = Path(__import__("tempfile").mkdtemp(prefix="crm-bench-notify-"))
    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_POOL_SIZE="0")
        raw_url = plain_url(database_url)

        from crm import create_app
        from crm.extensions import db
        from crm.jobs import queue
        from tenants.migrations import upgrade_public

        app = create_app()
        try:
            with app.app_context():
                upgrade_public(db.engine)
                if queue("notify").count:
                    raise SystemExit("the notify queue of this Redis has jobs: use an empty Redis database")
            dispatch = bench_dispatch(app, sizes, redis_url, args.worker_class, logs, step)
            sweeper = bench_sweeper(app, raw_url, sizes, step)
            info = machine(raw_url, services_mode)
            info["loadavg_at_start"] = load_at_start
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "mode": mode, "sizes": sizes,
               "targets": TARGETS, "machine": info, "dispatch": dispatch, "sweeper": sweeper,
               "worker_logs": str(logs), "seconds": time.perf_counter() - begun}
    results["table"] = rows_of(results)
    print_table(results["table"], results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "notify.json").write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {(RESULTS / 'notify.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
