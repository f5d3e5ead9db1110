"""The global search: one typed text looked for in every kind of record the viewer may view, a few of each.

Each kind is found by its own feature's search (the customer list's grams, the order and ticket numbers,
the product catalogue's), inside the viewer's scope for that kind; a kind the role may not view is left out.
Nothing is counted: a group says only whether more of what the viewer may see match than it shows."""
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from crm import validation
from crm.contacts.models import Contact
from crm.customers.models import Customer
from crm.customers.queries import CustomerQuery, list_customers, search_term, text_match
from crm.deals import deal_queries as deals
from crm.deals.models import Deal
from crm.extensions import db
from crm.members.access import scoped
from crm.members.models import Member
from crm.orders import chooser as order_chooser
from crm.orders import queries as orders
from crm.orders.models import Order
from crm.products import service as products
from crm.tickets import service as tickets
from crm.tickets.models import Ticket
from crm.validation import record_id

SHOWN = 5  # rows per kind: the dropdown is for jumping to a record, "see all" for browsing
RECENT_DEALS = 1000  # the newest deals a title search reads first (see _deals)
MAX_LENGTH = 100


@dataclass
class Group:
    """The matches of one kind: at most SHOWN rows, and whether the viewer may see more."""

    kind: str  # customers, contacts, deals, orders, tickets, products
    rows: list
    more: bool = False


def clean_query(q) -> str:
    """What was typed, trimmed and clipped as the lists clip their searches."""
    return validation.clipped(q, MAX_LENGTH)


def search(viewer: Member, q: str) -> list[Group]:
    """The groups that have matches, in a fixed order, each within the viewer's view scope for its kind."""
    q = clean_query(q)
    if not q:
        return []
    finders = (("customers", "customers", _customers), ("contacts", "customers", _contacts), ("deals", "deals", _deals),
               ("orders", "orders", _orders), ("tickets", "tickets", _tickets), ("products", "products", _products))
    groups = [Group(kind, *find(viewer, q)) for kind, resource, find in finders if viewer.can(resource, "view")]
    return [group for group in groups if group.rows]


def _customers(viewer: Member, q: str) -> tuple[list, bool]:
    """The customer list's own search: grams for any substring (Chinese too), phones with or without the
    country code, emails, companies, exact ID numbers."""
    rows, next_cursor, _total = list_customers(viewer, CustomerQuery(q=q), limit=SHOWN)
    return rows, bool(next_cursor)


def _contacts(viewer: Member, q: str) -> tuple[list, bool]:
    """Contacts of the customers the viewer may view whose name, phones, email or WeChat id contain the text (their
    grams, as customers'), with their customer's name; newest first."""
    stmt = (select(Contact, Customer.name).join(Customer, Customer.id == Contact.customer_id)
            .where(Customer.deleted_at.is_(None), text_match(Contact.search_text, Contact.search_grams, search_term(q)))
            .options(load_only(Contact.id, Contact.name, Contact.title, Contact.customer_id, Contact.mobile,
                               Contact.phone, Contact.email)))
    rows = db.session.execute(scoped(stmt, viewer, "customers", "view", Customer)
                              .order_by(Contact.id.desc()).limit(SHOWN + 1)).all()
    return rows[:SHOWN], len(rows) > SHOWN


def _deals(viewer: Member, q: str) -> tuple[list, bool]:
    """Deals whose title contains the text, newest first. A word many titles share is found among the newest deals
    (a short walk of the primary key); anything rarer through the title's grams (GIN), whose matches are then few,
    sorted after the lookup (`id + 0`). The index alone gathers and sorts every match of a common word (114 ms for
    one deal in ten of 50,000), the walk alone reads every deal for a rare one (docs/benchmarks.md)."""
    term = q.lower()
    stmt = deals.visible(viewer).options(
        load_only(Deal.id, Deal.title, Deal.customer_id),
        joinedload(Deal.customer).load_only(Customer.id, Customer.name)).limit(SHOWN + 1)
    newest = select(func.max(Deal.id)).scalar_subquery() - RECENT_DEALS
    common = stmt.where(Deal.id > newest, func.lower(Deal.title).contains(term, autoescape=True))
    rows = list(db.session.scalars(common.order_by(Deal.id.desc())).unique())
    if len(rows) <= SHOWN:
        rare = stmt.where(text_match(func.lower(Deal.title), Deal.title_grams, term))
        rows = list(db.session.scalars(rare.order_by((Deal.id + 0).desc())).unique())
    return rows[:SHOWN], len(rows) > SHOWN


def _orders(viewer: Member, q: str) -> tuple[list, bool]:
    """The order a number names: as the order chooser reads it (SO-000042, so42, #42, 42), or an order's whole
    number as stored or in capitals (an imported one's own). Through the unique index on the number, not the
    chooser's case-blind `upper(imported_number)`, which reads every order, on every keystroke with a digit."""
    typed = q[:20]
    found = order_chooser.NUMBER.fullmatch(typed)
    order_id = record_id(found.group(1)) if found else None
    conditions = [Order.number.in_(sorted({typed, typed.upper()}))]
    if order_id:
        conditions.append(Order.id == order_id)
    stmt = orders.visible(viewer).where(or_(*conditions)).options(
        joinedload(Order.customer).load_only(Customer.id, Customer.name), lazyload("*"))
    return list(db.session.scalars(stmt.order_by(Order.id.desc()).limit(SHOWN)).unique()), False


def _tickets(viewer: Member, q: str) -> tuple[list, bool]:
    """The ticket a number names (TK-000042, #42, 42)."""
    number = tickets.NUMBER.fullmatch(q)
    ticket_id = record_id(number.group(1)) if number else None
    if ticket_id is None:
        return [], False
    stmt = tickets.visible(viewer).where(Ticket.id == ticket_id).options(
        joinedload(Ticket.customer).load_only(Customer.id, Customer.name).lazyload("*"))
    return list(db.session.scalars(stmt).unique()), False


def _products(_viewer: Member, q: str) -> tuple[list, bool]:
    """Active products whose name or SKU contains the text (one catalogue: any view scope sees it all)."""
    rows = products.list_products(q, limit=SHOWN + 1)
    return rows[:SHOWN], len(rows) > SHOWN
