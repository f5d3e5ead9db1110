"""Helpers for outbox tests: run the notify queue in this process, read rows of a tenant's outbox."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification


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
