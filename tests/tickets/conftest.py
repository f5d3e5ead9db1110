"""Ticket fixtures: tickets made through the service, as a given member, with any fields."""
import pytest


@pytest.fixture
def make_ticket(app):
    """Open a ticket in a tenant as its admin (or another member); returns its id.

    `status` moves it along the workflow; `due_at` (a datetime) is stored as given."""
    from crm.extensions import db
    from crm.members.models import Member
    from crm.tickets import service
    from crm.tickets.models import Ticket
    from tenants.binding import tenant_bound

    path = {"open": [], "pending": ["pending"], "resolved": ["resolved"], "closed": ["resolved", "closed"]}

    def make(tenant, customer_id: int, member_id: int | None = None, status: str = "open", due_at=None,
             **fields) -> int:
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id or tenant.admin_member_id)
            data = {"subject": "Printer jams", "customer_id": customer_id, **fields}
            ticket = service.create_ticket(viewer, data)
            for step in path[status]:
                service.move_ticket(viewer, ticket, step)
            if due_at is not None:
                db.session.get(Ticket, ticket.id).due_at = due_at
            db.session.commit()
            return ticket.id

    return make


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
