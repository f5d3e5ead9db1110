"""Finding orders: the ones a viewer may act on, the filtered order list (keyset pages), a customer's orders."""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from crm import listing, validation
from crm.customers import queries as customers
from crm.customers.models import Customer
from crm.errors import NotFound
from crm.settings import on_local_days
from crm.extensions import db
from crm.members.access import members_in_reach, scoped
from crm.members.models import Member
from crm.orders.header import EARLIEST, LATEST
from crm.orders.models import STATUSES, Order
from crm.payments.state import STATES as PAYMENT_STATES
from crm.payments.state import state_condition
from crm.validation import record_id

PAGE_SIZE = 25
NEWEST = (listing.Key(Order.id, descending=True),)


def visible(viewer: Member, action: str = "view"):
    """Orders the viewer may act on."""
    return scoped(select(Order), viewer, "orders", action, Order)


def get_order(viewer: Member, order_id: int, action: str = "view", lock: bool = False) -> Order:
    """An order the viewer may act on; anything else is simply not found."""
    stmt = visible(viewer, action).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=Order)
    order = db.session.scalar(stmt)
    if order is None:
        raise NotFound()
    return order


@dataclass
class OrderQuery:
    """What the order list was asked for: filters and the keyset cursor."""

    status: str = ""
    paid: str = ""  # a payment state: unpaid, partly_paid, paid
    since: date | None = None
    until: date | None = None
    customer_id: int | None = None
    customer: str = ""  # part of the customer's name, phone, email or company
    owner: str = ""  # a member id or "me"
    after: str = ""
    # At or after these times (the API's sync clients ask; the page has no control for them).
    created_since: datetime | None = None
    updated_since: datetime | None = None

    @classmethod
    def from_args(cls, args) -> "OrderQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        owner = args.get("owner", "")
        return cls(status=args.get("status", "") if args.get("status") in STATUSES else "",
                   paid=args.get("paid", "") if args.get("paid") in PAYMENT_STATES else "",
                   since=_filter_day(args.get("since")), until=_filter_day(args.get("until")),
                   customer_id=record_id(args.get("customer_id")),
                   customer=validation.clipped(args.get("customer"), 100),
                   owner=owner if owner == "me" or record_id(owner) else "",
                   after=args.get("after", ""))

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"status": self.status, "paid": self.paid, "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "customer_id": self.customer_id,
                  "customer": self.customer, "owner": self.owner, "after": ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.status or self.paid or self.since or self.until or self.customer_id or self.customer
                    or self.owner)


def _filter_day(value) -> date | None:
    return validation.or_none(validation.day, value, "day", EARLIEST, LATEST)


def list_orders(viewer: Member, query: OrderQuery, limit: int = PAGE_SIZE,
                whole_rows: bool = False) -> tuple[list[Order], str]:
    """One page of matching orders, newest first, and the cursor of the next page ('' on the last one).
    `whole_rows`: with their lines and status history (the API shows them), else what the list shows."""
    stmt = filtered(visible(viewer), viewer, query)
    return listing.page(stmt if whole_rows else _for_lists(stmt), NEWEST, query.after, limit)


def filtered(stmt, viewer: Member, query: OrderQuery):
    if query.status:
        stmt = stmt.where(Order.status == query.status)
    if query.paid:
        stmt = stmt.where(state_condition(query.paid))
    stmt = stmt.where(*on_local_days(Order.created_at, query.since, query.until))
    if query.customer_id:
        stmt = stmt.where(Order.customer_id == query.customer_id)
    if query.customer:
        stmt = stmt.where(Order.customer_id.in_(_customers_matching(query.customer)))
    if query.owner:
        stmt = stmt.where(Order.owner_id == (viewer.id if query.owner == "me" else int(query.owner)))
    if query.created_since:
        stmt = stmt.where(Order.created_at >= query.created_since)
    if query.updated_since:
        stmt = stmt.where(Order.updated_at >= query.updated_since)
    return stmt


def _customers_matching(text: str):
    """Ids of customers whose name, phone, email or company contains `text` (the customers' gram index)."""
    term = text.lower()
    condition = Customer.search_text.contains(term, autoescape=True)
    grams = customers.query_grams(term)
    if grams:
        condition = Customer.search_grams.contains(grams) & condition
    return select(Customer.id).where(condition)


def _for_lists(stmt):
    """Lists show the customer's and owner's names only, and no lines."""
    return stmt.options(joinedload(Order.customer).load_only(Customer.id, Customer.name),
                        joinedload(Order.owner).load_only(Member.id, Member.name).lazyload(Member.role),
                        lazyload(Order.lines), lazyload(Order.changes))


def orders_for_customer(viewer: Member, customer_id: int, limit: int = 20) -> list[Order]:
    """The newest orders of one customer that the viewer may see (for the customer's page)."""
    stmt = visible(viewer).where(Order.customer_id == customer_id)
    return list(db.session.scalars(_for_lists(stmt).order_by(Order.id.desc()).limit(limit)).unique())


def members_for_filter(viewer: Member) -> list[Member]:
    """The members whose orders the viewer's owner filter offers: those its view scope reaches."""
    return members_in_reach(viewer, "orders", "view")
