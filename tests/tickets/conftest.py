"""Ticket fixtures: the stored ticket, read back for assertions (tickets are made by the root `make_ticket`)."""
import pytest


@pytest.fixture
def ticket_row(app):
    """The stored ticket (detached, for assertions)."""
    from crm.extensions import db
    from crm.tickets.models import Ticket
    from tenants.binding import tenant_bound

    def get(tenant, ticket_id: int):
        with app.app_context(), tenant_bound(tenant.ref):
            ticket = db.session.get(Ticket, ticket_id)
            db.session.expunge(ticket)
            return ticket

    return get
