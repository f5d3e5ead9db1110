"""Fault checks of the outbox with real processes: RQ workers killed with SIGKILL in the middle of sending a
batch of 1,000 emails to a real SMTP server, Redis flushed with messages pending, and the sweeper running.
Every message arrives; the mailbox holds each once.

Delivery is at-least-once with a stable Message-ID: a kill that falls after the server accepted a message but
before the worker's commit makes the retry hand the server the same message again. A mail store files one
message per Message-ID (as the sink's mailbox does here), so the recipient still sees it once; the test
counts such repeats and checks there is never more than one per kill.

The workers are `rq worker --worker-class rq.worker.SimpleWorker` processes (no work horse is forked, so the
process killed is the one talking to the SMTP server and the database). A kill lands anywhere in a send:
before the claim, between claim and SMTP, inside the SMTP transaction (the server drops a message whose final
dot never came), or after it. Messages whose claim went stale, and the jobs Redis lost, are handed over again
by `sweep()`. (The smaller checks, Redis flushed before any worker runs and the SMTP server down, are in
test_outbox.py.)"""
import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from crm.extensions import db
from crm.notify.models import Notification, NotificationDue

ROOT = Path(__file__).resolve().parents[2]
BATCH = 1000
KILLS = 15
STALE_SECONDS = 2  # the workers' NOTIFY_STALE_SECONDS and the sweeper's: a dead worker's claim expires fast
KILL_AFTER = (0.05, 0.3)  # seconds a warm worker goes on sending before it is killed
# The SMTP server pauses on RCPT TO, so that each transaction is open a while and kills land inside it; longer
# while kills are still to come (a worker then sends fewer messages between two kills), short afterwards.
RCPT_DELAY_KILLING, RCPT_DELAY_AFTER = 0.02, 0.002
FLUSH_AT = 400  # once this many are sent, Redis loses everything (FLUSHDB) with some 600 messages pending
TIMEOUT = 120


class SlowSink:
    """An aiosmtpd handler that takes its time to accept a recipient and records the Message-ID of every
    message that arrives (a message counts once its final dot came)."""

    def __init__(self):
        self.rcpt_delay = RCPT_DELAY_KILLING
        self.message_ids: list[str] = []
        self.recipients: list[str] = []  # accepted RCPT TO addresses: transactions that got that far

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        self.recipients.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        headers = BytesParser(policy=default_policy).parsebytes(envelope.content, headersonly=True)
        self.message_ids.append(str(headers["Message-ID"]))
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_smtp():
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    sink = SlowSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), server_hostname="sink.test")
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield sink
    finally:
        controller.stop()


class Workers:
    """Real `rq worker` processes on the notify queue, one per slot; a slot's worker can be killed (SIGKILL)
    and is then replaced by a new process."""

    def __init__(self, slots: int, redis_url: str, smtp_url: str, logs: Path):
        self.redis_url, self.logs = redis_url, logs
        self.env = {**os.environ, "SMTP_URL": smtp_url, "NOTIFY_STALE_SECONDS": str(STALE_SECONDS)}
        self.redis = redis.Redis.from_url(redis_url)
        self.slots: list[tuple[str, subprocess.Popen] | None] = [None] * slots
        self.started = self.kills = 0

    def start(self, slot: int) -> None:
        self.started += 1
        name = f"fault-{os.getpid()}-{self.started}"
        with open(self.logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "rq.cli", "worker", "--worker-class", "rq.worker.SimpleWorker", "--quiet",
                 "--name", name, "--url", self.redis_url, "notify"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.slots[slot] = (name, process)

    def all_warm(self) -> bool:
        """Every worker has finished a job: its app is made and it is busy sending."""
        for name, process in self.slots:
            if process.poll() is not None or int(self.redis.hget(f"rq:worker:{name}", "successful_job_count")
                                                 or 0) < 1:
                return False
        return True

    def kill(self, slot: int) -> None:
        os.kill(self.slots[slot][1].pid, signal.SIGKILL)
        self.slots[slot][1].wait()
        self.kills += 1
        self.start(slot)

    def revive(self) -> None:
        """A worker that stopped by itself is replaced too (its log says why)."""
        for slot, (_name, process) in enumerate(self.slots):
            if process.poll() is not None:
                self.start(slot)

    def stop(self) -> None:
        """Warm shutdown (a worker finishes the message in hand), then SIGKILL for any that hangs."""
        running = [process for _name, process in filter(None, self.slots) if process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, lines: int = 10) -> str:
        tails = []
        for path in sorted(self.logs.glob("fault-*.log")):
            text = path.read_text(errors="replace").strip().splitlines()
            if text:
                tails.append(f"--- {path.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(tails)


def sweeping(app, stop: threading.Event, errors: list) -> None:
    """The periodic sweeper, every second, in its own app context."""
    from crm.notify.jobs import sweep

    while not stop.wait(1.0):
        try:
            with app.app_context():
                sweep(stale_seconds=STALE_SECONDS)
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(repr(error))


@pytest.mark.slow
def test_killed_workers_and_a_redis_flush_still_deliver_every_message_once_to_the_mailbox(
        app, acme, in_tenant, slow_smtp, tmp_path):
    from crm.extensions import redis_connection
    from crm.jobs import queue
    from crm.notify import outbox

    def schedule_batch():
        for i in range(BATCH):
            outbox.schedule(channel="email", kind="reminder", recipient=f"rep{i}@acme.example", key=f"fault:{i}",
                            member_id=acme.admin_member_id,
                            payload={"method": "Call", "customer": f"Customer {i}", "due": "10:00",
                                     "summary": "Quote follow-up", "link": ""})

    def statuses() -> Counter:
        return Counter(dict(db.session.execute(select(Notification.status, func.count())
                                               .group_by(Notification.status)).all()))

    begun = time.monotonic()
    in_tenant(acme, schedule_batch)  # 1,000 rows and due lines, and their jobs handed to RQ at commit
    workers = Workers(2, app.config["REDIS_URL"], slow_smtp.url, tmp_path)
    stop, sweep_errors = threading.Event(), []
    sweeper = threading.Thread(target=sweeping, args=(app, stop, sweep_errors), daemon=True)
    rng = random.Random(6)
    victim, counts, left_in_queue, flushed = 0, Counter(), 0, False
    try:
        workers.start(0)
        workers.start(1)
        sweeper.start()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            counts = in_tenant(acme, statuses)
            if counts["sent"] == BATCH:
                break
            if not flushed and counts["sent"] >= FLUSH_AT:
                with app.app_context():
                    redis_connection().flushdb()  # every job waiting in Redis is lost: the sweeper hands them over
                flushed = True
            workers.revive()
            # Kill only when both workers are warm: each kill then interrupts a worker that is sending.
            if workers.kills < KILLS and workers.all_warm():
                time.sleep(rng.uniform(*KILL_AFTER))
                workers.kill(victim)
                victim = 1 - victim
                if workers.kills == KILLS:
                    slow_smtp.rcpt_delay = RCPT_DELAY_AFTER
            else:
                time.sleep(0.1)
    finally:
        stop.set()
        sweeper.join(30)
        with app.app_context():
            left_in_queue = queue("notify").count
            queue("notify").empty()  # hand-overs of messages already sent (see the report below)
        workers.stop()
    took = time.monotonic() - begun

    counts = in_tenant(acme, statuses)
    arrived = Counter(slow_smtp.message_ids)
    expected = {f"<fault.{i}.t{acme.id}@crm>": f"fault:{i}" for i in range(BATCH)}

    def claimed_again() -> int:
        return db.session.scalar(select(func.count()).where(Notification.attempts > 1))

    def describe(keys) -> list:  # for a message that never arrived: what its row says
        return [(n.idempotency_key, n.status, n.attempts, n.sent_at and n.sent_at.isoformat(),
                 f"{slow_smtp.recipients.count(n.recipient)} transaction(s) begun")
                for n in db.session.scalars(select(Notification).where(Notification.idempotency_key.in_(keys)))]

    retried = in_tenant(acme, claimed_again)
    missing = in_tenant(acme, lambda: describe([key for mid, key in expected.items() if mid not in arrived]))
    report = (f"{took:.1f} s; {workers.kills} kills, {workers.started} worker processes; rows {dict(counts)}, "
              f"{retried} claimed again after a kill; {len(arrived)} distinct messages arrived "
              f"({sum(arrived.values()) - len(arrived)} repeats of a Message-ID), "
              f"{len(slow_smtp.recipients)} SMTP transactions begun; {left_in_queue} jobs were left in the queue; "
              f"never arrived: {missing}\n{workers.log_tail()}")
    print(report)
    assert not sweep_errors, sweep_errors
    assert counts == Counter(sent=BATCH), report
    assert set(arrived) == set(expected), report  # every one arrived (the mailbox holds each once), nothing else
    repeats = sum(n - 1 for n in arrived.values())  # handed over again after a kill, with the same Message-ID
    assert repeats <= workers.kills, report
    assert workers.kills >= KILLS and flushed, report
    # Kills landed inside SMTP transactions (begun, never finished) and on claimed messages.
    assert len(slow_smtp.recipients) > BATCH and retried > 0, report
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(NotificationDue)
                                 .where(NotificationDue.tenant_id == acme.id)) == 0
