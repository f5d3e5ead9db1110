"""What every report counts from: the records the viewer's `reports` scope reaches (the same `scoped()` the lists
use, so a rep's numbers are the rep's own), narrowed by the lists' own filters (so a number and the list it links
to agree), and counted per bucket of a period in SQL.

The packs (customers.py, sales.py) build their reports on these."""
from datetime import date

from flask import url_for
from sqlalchemy import func, select

from crm.customers import queries as customer_queries
from crm.customers.models import Customer
from crm.customers.queries import CustomerQuery
from crm.deals import deal_queries
from crm.deals.deal_queries import DealQuery
from crm.deals.models import Deal
from crm.extensions import db, utcnow
from crm.members.access import scoped
from crm.members.models import Member
from crm.reports.periods import Period, bucket_of
from crm.tickets import service as ticket_service
from crm.tickets.models import Ticket
from crm.tickets.service import TicketQuery


def customers(viewer: Member, query: CustomerQuery):
    """Live customers the viewer's reports reach, narrowed by the customer list's filters."""
    stmt = scoped(select(Customer).where(Customer.deleted_at.is_(None)), viewer, "reports", "view", Customer)
    return customer_queries.filtered(stmt, viewer, query)


def deals(viewer: Member, query: DealQuery):
    """Deals the viewer's reports reach, narrowed by the deal list's filters."""
    stmt = deal_queries.filtered(scoped(select(Deal), viewer, "reports", "view", Deal), viewer, query)
    if query.pipeline_id:
        stmt = stmt.where(Deal.pipeline_id == query.pipeline_id)
    return stmt


def tickets(viewer: Member, query: TicketQuery):
    """Tickets the viewer's reports reach (by the ticket list's rule on the assignee, so unassigned ones from team
    scope up), narrowed by the ticket list's filters."""
    stmt = select(Ticket).where(ticket_service.reach(viewer, "view", "reports"))
    return ticket_service.filtered(stmt, viewer, query, utcnow())


def count(stmt) -> int:
    return db.session.scalar(stmt.with_only_columns(func.count()).order_by(None))


def per_bucket(stmt, column, period: Period, **aggregates) -> dict[date, object]:
    """`aggregates` (name: SQL aggregate) of the rows of `stmt` whose `column` falls in the period, per bucket."""
    start, end = period.bounds()
    bucket = bucket_of(column, period.bucket).label("bucket")
    stmt = (stmt.where(column >= start, column < end)
            .with_only_columns(bucket, *(aggregate.label(name) for name, aggregate in aggregates.items()))
            .group_by(bucket).order_by(None))
    return {row.bucket: row for row in db.session.execute(stmt)}


def customer_list(viewer: Member, query: CustomerQuery) -> str | None:
    """The customer list showing these customers; None when the viewer may not open it."""
    return url_for("customers.index", **query.args()) if viewer.can("customers", "view") else None


def deal_list(viewer: Member, query: DealQuery) -> str | None:
    """The deal list showing these deals; None when the viewer may not open it."""
    return url_for("deals.list", **query.args()) if viewer.can("deals", "view") else None


def ticket_list(viewer: Member, query: TicketQuery) -> str | None:
    """The ticket list showing these tickets; None when the viewer may not open it."""
    return url_for("tickets.index", **query.args()) if viewer.can("tickets", "view") else None


def sources(viewer: Member, limit: int = 50) -> list[str]:
    """The customer sources the viewer's reports reach, most used first: what the source filter offers."""
    stmt = (customers(viewer, CustomerQuery()).where(Customer.source.is_not(None))
            .with_only_columns(Customer.source).group_by(Customer.source)
            .order_by(func.count().desc(), Customer.source).limit(limit))
    return list(db.session.scalars(stmt))
