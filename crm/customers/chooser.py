"""The customer chooser that every form picking a customer shares (deals, orders, tickets): the customers
the viewer may see that match what was typed, and the one the form has chosen."""
from sqlalchemy.orm import lazyload

from crm import validation
from crm.customers.models import Customer
from crm.customers.queries import CustomerQuery, list_customers, visible
from crm.extensions import db
from crm.members.models import Member
from crm.validation import record_id

LIMIT = 8  # a short list to pick from: typing more narrows it


def matching(viewer: Member, q: str, limit: int = LIMIT) -> list[Customer]:
    """Customers the viewer may see whose name, phone, email or company contains `q`; none for an empty `q`."""
    q = validation.clipped(q, 100)
    if not q:
        return []
    rows, _cursor, _total = list_customers(viewer, CustomerQuery(q=q), limit=limit)
    return rows


def chosen(viewer: Member, customer_id) -> Customer | None:
    """The customer a form or filter names, when the viewer may see it; None otherwise."""
    customer_id = record_id(customer_id)
    if customer_id is None:
        return None
    return db.session.scalar(visible(viewer).where(Customer.id == customer_id).options(lazyload("*")))
