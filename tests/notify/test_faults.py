"""Fault checks of the outbox with real processes: RQ workers killed with SIGKILL in the middle of sending a
batch of emails to a real SMTP server, Redis flushed with messages pending, and the sweeper running. Every
message arrives, and arrives once: no Message-ID comes twice.

Email is sent exactly once in effect (crm/notify/smtp.py): the server gets a message's final "." only with the
COMMIT that marks it sent, so a worker killed before that COMMIT leaves the server an unfinished message,
which it drops, and the retry sends it once. What is left is the moment between writing the COMMIT and writing
the "." (microseconds), where a kill loses the message: the test would see a message that never arrived.

The workers are RQ `SimpleWorker` processes (no work horse is forked, so the process killed is the one talking
to the SMTP server and the database), forked from a process that has made the app already (warm_workers.py),
so a replacement sends at once and the test spends its time sending and killing, not starting Python. A kill
lands anywhere in a send: before the claim, between claim and SMTP, inside the SMTP transaction, with the
message held before its final ".", or after it. Messages whose claim went stale, and the jobs Redis lost, are
handed over again by `sweep()`. (The smaller checks, Redis flushed before any worker runs and the SMTP server
down, are in test_outbox.py; a kill at each step of the protocol, one at a time, in test_email_once.py.)"""
import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from crm.extensions import db
from crm.notify.models import Notification, NotificationDue

ROOT = Path(__file__).resolve().parents[2]
BATCH = 600
KILLS = 30
STALE_SECONDS = 2  # the workers' NOTIFY_STALE_SECONDS and the sweeper's: a dead worker's claim expires fast
KILL_AFTER = (0.05, 0.3)  # seconds a warm worker goes on sending before it is killed
# The SMTP server pauses on RCPT TO, so that each transaction is open a while and kills land inside it; longer
# while kills are still to come (a worker then sends fewer messages between two kills), short afterwards.
RCPT_DELAY_KILLING, RCPT_DELAY_AFTER = 0.02, 0.002
FLUSH_AT = 300  # once this many are sent, Redis loses everything (FLUSHDB) with some 300 messages pending
TIMEOUT = 300  # for all to arrive: a busy machine (other tests beside it) stretches the run, not the outcome


class SlowSink:
    """An aiosmtpd handler that takes its time to accept a recipient and records the Message-ID of every
    message that arrives (a message counts once its final dot came)."""

    def __init__(self):
        self.rcpt_delay = RCPT_DELAY_KILLING
        self.message_ids: list[str] = []
        self.recipients: list[str] = []  # accepted RCPT TO addresses: transactions that got that far
        self.data_begun = 0  # DATA commands: messages that began to arrive (a killed worker's never end)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        self.recipients.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        headers = BytesParser(policy=default_policy).parsebytes(envelope.content, headersonly=True)
        self.message_ids.append(str(headers["Message-ID"]))
        return "250 Message accepted for delivery"


class CountingSMTP(SMTP):
    async def smtp_DATA(self, arg):
        self.event_handler.data_begun += 1
        await super().smtp_DATA(arg)


class SinkController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def slow_smtp():
    from tests.conftest import free_port

    sink = SlowSink()
    controller = SinkController(sink, hostname="127.0.0.1", port=free_port(), server_hostname="sink.test")
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield sink
    finally:
        controller.stop()


class Workers:
    """RQ SimpleWorker processes on the notify queue, one per slot, forked from a process that has made the app
    already (warm_workers.py), so a replacement sends at once; a slot's worker can be killed (SIGKILL) and is
    then replaced by a new process."""

    def __init__(self, slots: int, redis_url: str, smtp_url: str, logs: Path):
        self.logs = logs
        env = {**os.environ, "SMTP_URL": smtp_url, "NOTIFY_STALE_SECONDS": str(STALE_SECONDS)}
        with open(logs / "warm_workers.log", "wb") as log:
            self.forks = subprocess.Popen([sys.executable, "-m", "tests.notify.warm_workers", redis_url], cwd=ROOT,
                                          env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          text=True)
        self.redis = redis.Redis.from_url(redis_url)
        self.slots: list[tuple[str, int] | None] = [None] * slots
        self.started = self.kills = 0

    def start(self, slot: int) -> None:
        self.started += 1
        name = f"fault-{os.getpid()}-{self.started}"
        self.forks.stdin.write(f"{name} {self.logs / f'{name}.log'}\n")
        self.forks.stdin.flush()
        pid = self.forks.stdout.readline()
        assert pid, (self.logs / "warm_workers.log").read_text()
        self.slots[slot] = (name, int(pid))

    def all_warm(self) -> bool:
        """Every worker has finished a job: it is busy sending."""
        for name, pid in self.slots:
            if not alive(pid) or int(self.redis.hget(f"rq:worker:{name}", "successful_job_count") or 0) < 1:
                return False
        return True

    def kill(self, slot: int, after: float) -> None:
        """SIGKILL the slot's worker `after` seconds from now, then start another."""
        pid = self.slots[slot][1]
        with on_time():
            time.sleep(after)
            os.kill(pid, signal.SIGKILL)
        gone(pid, 10)
        self.kills += 1
        self.start(slot)

    def revive(self) -> None:
        """A worker that stopped by itself is replaced too (its log says why)."""
        for slot, (_name, pid) in enumerate(self.slots):
            if not alive(pid):
                self.start(slot)

    def stop(self) -> None:
        """Warm shutdown (a worker finishes the message in hand), then SIGKILL for any that hangs."""
        running = [pid for _name, pid in filter(None, self.slots) if alive(pid)]
        for pid in running:
            os.kill(pid, signal.SIGTERM)
        for pid in running:
            if not gone(pid, 15):
                os.kill(pid, signal.SIGKILL)
                gone(pid, 10)
        self.forks.stdin.close()
        self.forks.wait(15)

    def log_tail(self, lines: int = 10) -> str:
        tails = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").strip().splitlines()
            if text:
                tails.append(f"--- {path.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(tails)


@contextmanager
def on_time():
    """Run as a real-time thread where allowed, so that a kill lands when its timer says. On a busy machine an
    ordinary test process waits for a CPU, and gets one when a worker wakes another process, as its COMMIT
    wakes the database's: its kills can then gather at that moment instead of falling anywhere in a send."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (AttributeError, PermissionError):
        yield
        return
    try:
        yield
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # the warm process reaps its dead children at once: a dead worker's pid is gone
    except ProcessLookupError:
        return False
    return True


def gone(pid: int, seconds: float) -> bool:
    """Wait until the process has ended; False if it is still there after `seconds`."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


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
    in_tenant(acme, schedule_batch)  # the rows and due lines, and their jobs handed to RQ at commit
    workers = Workers(2, app.config["REDIS_URL"], slow_smtp.url, tmp_path)
    stop, sweep_errors = threading.Event(), []
    sweeper = threading.Thread(target=sweeping, args=(app, stop, sweep_errors), daemon=True)
    rng = random.Random(6)
    victim, counts, left_in_queue, flushed, killing_took = 0, Counter(), 0, False, None
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
                workers.kill(victim, after=rng.uniform(*KILL_AFTER))
                victim = 1 - victim
                if workers.kills == KILLS:
                    slow_smtp.rcpt_delay = RCPT_DELAY_AFTER
                    killing_took = time.monotonic() - begun
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
    repeats = sum(n - 1 for n in arrived.values())  # the same Message-ID more than once
    report = (f"{took:.1f} s (the kills were over after {killing_took or 0:.1f} s); {workers.kills} kills, "
              f"{workers.started} worker processes; rows {dict(counts)}, {retried} claimed again after a kill; "
              f"{len(arrived)} distinct messages arrived, {repeats} repeats of a Message-ID; "
              f"{len(slow_smtp.recipients)} SMTP transactions begun, {slow_smtp.data_begun} DATA begun "
              f"({slow_smtp.data_begun - len(slow_smtp.message_ids)} never ended: a kill inside DATA or with the "
              f"message held); {left_in_queue} jobs were left in the queue; never arrived: {missing}\n"
              f"{workers.log_tail()}")
    print(report)
    assert not sweep_errors, sweep_errors
    assert counts == Counter(sent=BATCH), report
    assert set(arrived) == set(expected), report  # every one arrived (no loss), nothing else
    assert repeats == 0, report
    assert workers.kills >= KILLS and flushed, report
    # Kills landed inside SMTP transactions (begun, never finished) and on claimed messages.
    assert len(slow_smtp.recipients) > BATCH and retried > 0, report
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(NotificationDue)
                                 .where(NotificationDue.tenant_id == acme.id)) == 0
