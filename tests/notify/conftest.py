"""Helpers for outbox tests: run the notify queue in this process, read rows of a tenant's outbox."""
import pytest
from rq import SimpleWorker
from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification


@pytest.fixture
def run_worker(app):
    """Run every job waiting on the notify queue (scheduled ones included when due), in this process."""
    from crm.jobs import queue

    def run():
        with app.app_context():
            SimpleWorker([queue("notify")], connection=queue().connection).work(burst=True, with_scheduler=True)

    return run


@pytest.fixture
def outbox_rows(in_tenant):
    def rows(tenant, **where):
        def read():
            stmt = select(Notification).order_by(Notification.id)
            for name, value in where.items():
                stmt = stmt.where(getattr(Notification, name) == value)
            return [(n.channel, n.kind, n.status, n.attempts, n.recipient, n.last_error)
                    for n in db.session.scalars(stmt)]
        return in_tenant(tenant, read)

    return rows


@pytest.fixture
def smtp_on(app, smtp_server):
    app.config["SMTP_URL"] = smtp_server.url
    yield smtp_server
    app.config["SMTP_URL"] = ""
