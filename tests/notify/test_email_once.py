"""Email exactly once in effect (crm/notify/smtp.py): the SMTP server gets a message's final "." only with the
COMMIT that marks it sent, so a worker that dies before that COMMIT leaves nothing in the mailbox, a stalled
worker whose message was taken over sends nothing, and the retry delivers the message once. The same with
many real worker kills: tests/notify/test_faults.py."""
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event, select

from crm.extensions import db, utcnow
from crm.notify.models import Notification
from tests.conftest import free_port


class WorkerDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, and no `except Exception` catches it."""


class Mailbox:
    """An SMTP server's handler keeping the Message-ID of each message whose final "." came; `before_accepting`
    runs as a message ends, and a `refuse` answer is given to as many messages as it holds."""

    def __init__(self):
        self.message_ids: list[str] = []
        self.before_accepting = lambda: None
        self.refuse: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.before_accepting()
        if self.refuse:
            return self.refuse.pop()
        self.message_ids += [line.split(":", 1)[1].strip() for line in envelope.content.decode().splitlines()
                             if line.lower().startswith("message-id:")]
        return "250 OK"


@pytest.fixture
def mailbox(app, monkeypatch):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    yield box
    controller.stop()


@pytest.fixture
def one_email(acme, in_tenant):
    """An email reminder due now in acme's outbox; its id."""
    from crm.notify import outbox

    def schedule():
        return outbox.schedule(channel="email", kind="reminder", recipient="rep@acme.example", key="once:1",
                               payload={"method": "Call", "customer": "Zhou Min", "due": "10:00",
                                        "summary": "Quote", "link": ""}).id

    return in_tenant(acme, schedule)


def send(app, acme, notification_id) -> str:
    from crm.notify.jobs import send_notification

    with app.app_context():
        return send_notification(acme.id, notification_id)


def row(in_tenant, acme, notification_id) -> tuple[str, int]:
    return in_tenant(acme, lambda: db.session.execute(
        select(Notification.status, Notification.attempts).where(Notification.id == notification_id)).one())


def test_a_worker_that_dies_before_its_commit_leaves_no_email_and_the_retry_sends_it_once(
        app, acme, in_tenant, mailbox, one_email, monkeypatch):
    from crm.notify import outbox

    def die(_ids):
        raise WorkerDied

    with monkeypatch.context() as dying:
        dying.setattr(outbox, "forget", die)  # called as the row is marked sent, just before the COMMIT
        with pytest.raises(WorkerDied):
            send(app, acme, one_email)
    assert mailbox.message_ids == []  # the server got everything but the final "."
    assert row(in_tenant, acme, one_email) == ("sending", 1)
    monkeypatch.setitem(app.config, "NOTIFY_STALE_SECONDS", 0)  # the dead worker's claim has gone stale
    assert send(app, acme, one_email) == "sent"
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]
    assert row(in_tenant, acme, one_email) == ("sent", 2)
    assert send(app, acme, one_email) == "skipped"
    assert len(mailbox.message_ids) == 1


def test_the_row_is_committed_sent_before_the_server_gets_the_final_dot(app, acme, in_tenant, mailbox,
                                                                        one_email):
    seen = []

    def status_once_committed():  # the server's view, from another connection, as the final "." arrives
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            status = row(in_tenant, acme, one_email)[0]
            if status == "sent":
                break
            time.sleep(0.01)
        seen.append(status)

    mailbox.before_accepting = status_once_committed
    assert send(app, acme, one_email) == "sent"
    assert seen == ["sent"]
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]


def test_a_message_taken_over_from_a_stalled_worker_reaches_the_mailbox_once(
        app, acme, in_tenant, mailbox, one_email, monkeypatch):
    from crm.notify import messages

    render, outcomes, stalled = messages.render, [], []

    def stall_while_another_worker_sends(notification):
        if not stalled:  # the first worker, between its claim and its SMTP transaction
            stalled.append(True)
            other = threading.Thread(target=lambda: outcomes.append(send(app, acme, one_email)))
            other.start()
            other.join()
        return render(notification)

    monkeypatch.setitem(app.config, "NOTIFY_STALE_SECONDS", 0)  # its claim looks stale at once
    monkeypatch.setattr(messages, "render", stall_while_another_worker_sends)
    outcomes.append(send(app, acme, one_email))
    assert outcomes == ["sent", "taken over"]
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]
    assert row(in_tenant, acme, one_email) == ("sent", 2)


def test_a_message_refused_at_its_final_dot_is_retried_not_counted_as_sent(app, acme, in_tenant, mailbox,
                                                                           one_email):
    mailbox.refuse = ["451 4.3.0 Try again later"]
    assert send(app, acme, one_email) == "retrying"
    status, _attempts = row(in_tenant, acme, one_email)
    assert status == "scheduled" and mailbox.message_ids == []
    in_tenant(acme, lambda: db.session.execute(Notification.__table__.update().values(due_at=utcnow())))
    assert send(app, acme, one_email) == "sent"
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]


def test_a_database_connection_lost_at_the_commit_still_delivers_once(app, acme, in_tenant, mailbox, one_email,
                                                                      monkeypatch):
    from crm.notify import outbox

    forget, lost = outbox.forget, []

    def lose_the_connection(ids):
        forget(ids)
        if lost:
            return
        lost.append(True)
        pid = db.session.execute(select(db.func.pg_backend_pid())).scalar()
        with db.engine.connect() as other:  # the server ends this session, as a restart or a proxy would
            other.execute(select(db.func.pg_terminate_backend(pid, 5000)))

    with monkeypatch.context() as losing:
        losing.setattr(outbox, "forget", lose_the_connection)
        first = send(app, acme, one_email)
    if first != "sent":  # the COMMIT never reached the server: nothing went out, the retry sends it
        assert mailbox.message_ids == []
        monkeypatch.setitem(app.config, "NOTIFY_STALE_SECONDS", 0)
        in_tenant(acme, lambda: db.session.execute(Notification.__table__.update().values(due_at=utcnow())))
        assert send(app, acme, one_email) == "sent"
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]
    assert row(in_tenant, acme, one_email)[0] == "sent"
    assert send(app, acme, one_email) == "skipped"


def test_a_platform_email_whose_worker_dies_at_its_commit_is_sent_once_on_retry(app, mailbox):
    from crm.accounts.models import OutboundEmail
    from crm.notify.email import deliver_email, queue_email

    with app.app_context():
        email_id = queue_email("someone@example.com", "Reset your password", "Open the link.").id
        db.session.commit()

    def die(session, _context, _instances):
        raise WorkerDied

    with app.app_context():
        event.listen(db.session, "before_flush", die)  # as the row is written sent, just before the COMMIT
        try:
            with pytest.raises(WorkerDied):
                deliver_email(email_id)
        finally:
            event.remove(db.session, "before_flush", die)
    assert mailbox.message_ids == []
    with app.app_context():
        assert deliver_email(email_id) == "sent"
        assert deliver_email(email_id) == "skipped"
        assert db.session.get(OutboundEmail, email_id).status == "sent"
    assert mailbox.message_ids == [f"<outbound-{email_id}@crm>"]


def test_a_commit_that_cannot_be_written_aborts_the_smtp_transaction(app, acme, in_tenant, mailbox, one_email,
                                                                     monkeypatch):
    import psycopg

    from crm.notify import smtp

    def database_gone(_connection):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as gone:
        gone.setattr(smtp, "_send_commit", database_gone)
        assert send(app, acme, one_email) == "retrying"
    assert mailbox.message_ids == []
    assert row(in_tenant, acme, one_email)[0] == "scheduled"
    in_tenant(acme, lambda: db.session.execute(Notification.__table__.update().values(due_at=utcnow())))
    assert send(app, acme, one_email) == "sent"
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]


def test_the_commit_and_the_dot_are_written_unpreempted_and_the_worker_is_ordinary_again(
        app, acme, in_tenant, mailbox, one_email, monkeypatch):
    import os

    from crm.notify import smtp

    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, PermissionError):
        pytest.skip("this system does not allow real-time priority")
    release, policies = smtp.Held.release, []

    def noting_the_policy(held):
        policies.append(os.sched_getscheduler(0))
        return release(held)

    monkeypatch.setattr(smtp.Held, "release", noting_the_policy)
    assert send(app, acme, one_email) == "sent"
    assert policies == [os.SCHED_FIFO]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert mailbox.message_ids == [f"<once.1.t{acme.id}@crm>"]
