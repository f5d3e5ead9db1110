"""Keyset pages (crm/listing.py): cursors that survive whatever a URL holds, pages that add up to the whole list
in every order, and every list of the app paging with `after` and its "load more" row."""
import base64
import json
import re
import string
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from crm import listing
from crm.customers.models import Customer
from crm.extensions import db
from crm.listing import Key
from tests.conftest import HX


def made_by_hand(value) -> str:
    """A cursor as someone editing the URL would make it."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


# Cursors

def test_a_cursor_reads_back_as_the_values_it_was_made_of():
    at = datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
    values = [7, 'Li "Lei" 李雷/+', Decimal("-12500.50"), date(2027, 1, 31), at, None, 2**31 - 1]
    text = listing.cursor(values)
    assert listing.read_cursor(text, [int, str, Decimal, date, datetime, datetime, int]) == values
    assert set(text) <= set(string.ascii_letters + string.digits + "-_=")  # travels in a URL as it is


def test_the_longest_title_fits_a_cursor():
    """A deal title is up to 200 characters; Chinese ones take three bytes each, and the cursor still holds it."""
    title = "龙井茶叶" * 50
    assert listing.read_cursor(listing.cursor([title, 5]), [str, int]) == [title, 5]


@pytest.mark.parametrize("text", [
    "", "garbage", "李雷", "%00", "\x00", "====", "W10", "a" * 5000,
    made_by_hand(["Zhang"]), made_by_hand(["Zhang", 5, 6]), made_by_hand({"name": "Zhang", "id": 5}),
    made_by_hand("Zhang"), made_by_hand(5), made_by_hand(None),
    listing.cursor(["Zhang", 5])[:-4],  # cut short
    listing.cursor(["Zhang", 5]).replace("W", "X", 1),  # tampered
    base64.urlsafe_b64encode(b"[" * 1100).decode(),  # nested past the JSON parser's recursion limit
])
def test_anything_else_is_not_a_cursor(text):
    assert listing.read_cursor(text, [str, int]) is None


@pytest.mark.parametrize("value, kind", [
    (2**31, int), (99999999999999999999, int), (-2**31 - 1, int), (1.0, int), (True, int), ("7", int), ([7], int),
    (7, str), ("a\x00b", str), ({"a": 1}, str), ("\ud800", str),
    ("1e999999", Decimal), ("NaN", Decimal), ("Infinity", Decimal), (12, Decimal), ("12,5", Decimal),
    ("2026-13-45", date), (20260101, date),
    ("2026-05-01T08:30:00", datetime), ("yesterday", datetime), (1714552200, datetime),
])
def test_a_value_a_query_cannot_compare_with_makes_no_cursor(value, kind):
    """Ids past PostgreSQL's integer, NUL in text, numbers with exponents, days that do not exist and times
    without a zone would fail the statement or compare wrongly: the list starts over instead."""
    assert listing.read_cursor(made_by_hand([value]), [kind]) is None


# Keyset pages over real rows: names with ties, pool times with ties and NULLs

ORDERS = {
    "name, id": ((Key(Customer.name, str), Key(Customer.id)),
                 lambda c: (c.name, c.id)),
    "name desc, id desc": ((Key(Customer.name, str, descending=True), Key(Customer.id, descending=True)),
                           lambda c: (c.name, c.id), True),
    "name, id desc (mixed)": ((Key(Customer.name, str), Key(Customer.id, descending=True)),
                              lambda c: (c.name, -c.id)),
    "pooled desc nulls last, id desc": ((Key(Customer.pooled_at, datetime, descending=True, nullable=True),
                                         Key(Customer.id, descending=True)),
                                        lambda c: (c.pooled_at is None, -c.pooled_at.timestamp() if c.pooled_at
                                                   else 0, -c.id)),
    "pooled nulls last, id": ((Key(Customer.pooled_at, datetime, nullable=True), Key(Customer.id)),
                              lambda c: (c.pooled_at is None, c.pooled_at or 0, c.id)),
}


@pytest.fixture
def ties(acme, make_customer, in_tenant):
    """Nine customers whose names and pool times repeat, some never pooled; their ids."""
    base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    rows = [("Li", base), ("Wang", None), ("Li", base), ("An", base + timedelta(days=1)), ("Li", None),
            ("Wang", base), ("Zhao", base - timedelta(days=3)), ("An", None), ("Li", base + timedelta(days=1))]
    ids = [make_customer(acme, name=name) for name, _at in rows]
    in_tenant(acme, lambda: [db.session.execute(update(Customer).where(Customer.id == customer_id)
                                                .values(pooled_at=at)) for customer_id, (_name, at) in zip(ids, rows)])
    return ids


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("limit", [1, 2, 3, 9])
def test_pages_add_up_to_the_whole_list_in_order_ties_and_nulls_included(acme, in_tenant, ties, order, limit):
    keys, sort_key, *reverse = ORDERS[order]

    def walk():
        whole = sorted(db.session.scalars(select(Customer)), key=sort_key, reverse=bool(reverse))
        pages, after = [], ""
        while True:
            rows, after = listing.page(select(Customer), keys, after, limit)
            pages.append([c.id for c in rows])
            if not after:
                return [c.id for c in whole], pages

    whole, pages = in_tenant(acme, walk)
    assert [customer_id for page in pages for customer_id in page] == whole
    assert len(pages) == -(-len(whole) // limit)  # the last page says so: no empty page after it
    assert all(len(page) == limit for page in pages[:-1])


def test_a_cursor_counts_only_with_the_context_it_was_made_in(acme, in_tenant, ties):
    keys = (Key(Customer.id),)

    def read():
        first, after = listing.page(select(Customer), keys, "", 4, context=["monday"])
        same = listing.page(select(Customer), keys, after, 4, context=["monday"])[0]
        other = listing.page(select(Customer), keys, after, 4, context=["tuesday"])[0]
        return [c.id for c in first], [c.id for c in same], [c.id for c in other]

    first, same, other = in_tenant(acme, read)
    assert same == ties[4:8] and other == first == ties[:4]


# Every list of the app pages with `after` and never fails on a bad cursor

def seed_customers(tenant, run, n):
    from crm.customers import writes

    run(tenant, lambda viewer: [writes.create_customer(viewer, {"name": f"Row {i:03d}"}) for i in range(n)])


def seed_pool(tenant, run, n):
    from crm.customers import writes

    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def make(viewer):
        for i in range(n):
            customer = writes.create_customer(viewer, {"name": f"Row {i:03d}", "owner_id": ""})
            customer.pooled_at = None if i % 7 == 0 else at + timedelta(hours=i % 3)  # ties and NULLs

    run(tenant, make)


def seed_deals(tenant, run, n):
    from crm.customers import writes
    from crm.deals import deals, stages

    def make(viewer):
        customer = writes.create_customer(viewer, {"name": "Deal customer"})
        lead = stages.stages(1)[0]  # the default pipeline's first stage
        for i in range(n):
            deals.create_deal(viewer, {"title": f"Row {i:03d}", "customer_id": customer.id, "stage_id": lead.id})

    run(tenant, make)


def seed_tickets(tenant, run, n):
    from crm.customers import writes
    from crm.tickets import service
    from crm.tickets.models import PRIORITIES

    def make(viewer):
        customer = writes.create_customer(viewer, {"name": "Ticket customer"})
        for i in range(n):
            ticket = service.create_ticket(viewer, {"subject": f"Row {i:03d}", "customer_id": customer.id,
                                                    "owner_id": str(viewer.id), "priority": PRIORITIES[i % 4]})
            ticket.due_at = ticket.due_at - timedelta(days=i % 2 * 10)  # half overdue

    run(tenant, make)


def seed_orders(tenant, run, n):
    from crm.customers import writes
    from crm.orders import service
    from crm.orders.forms import LineInput

    def make(viewer):
        customer = writes.create_customer(viewer, {"name": "Order customer"})
        for _i in range(n):
            service.create_order(viewer, {"customer_id": str(customer.id), "owner_id": str(viewer.id)},
                                 [LineInput(key="k0", description="Tea", quantity="1", unit_price="9.99")])

    run(tenant, make)


def seed_audit(tenant, run, n):
    from crm.audit.service import record

    run(tenant, lambda viewer: [record("update", "customer", i + 1, summary=f"Row {i:03d}", actor=viewer)
                                for i in range(n)])


def seed_campaigns(tenant, run, n):
    from crm.campaigns import service

    data = {"channel": "email", "language": "en", "subject": "Hello", "body": "Hello {{ customer }}", "send_at": ""}
    run(tenant, lambda viewer: [service.create_campaign(viewer, {**data, "name": f"Row {i:03d}"}, {})
                                for i in range(n)])


def seed_timeline(tenant, run, n):
    from crm.customers import writes
    from crm.timeline import service

    def make(viewer):
        customer = writes.create_customer(viewer, {"name": "Busy customer"})
        for i in range(n):
            service.log("note", customer_id=customer.id, actor=viewer, text=f"Row {i:03d}")

    run(tenant, make)


# list: (URL, what marks one row, seeder, page size)
LISTS = {
    "customers": ("/customers/", r'id="customer-(\d+)"', seed_customers, 25),
    "customers by name": ("/customers/?sort=name", r'id="customer-(\d+)"', seed_customers, 25),
    "pool": ("/pool/", r'id="pool-(\d+)"', seed_pool, 25),
    "deal list": ("/deals/list", r'id="deal-(\d+)"', seed_deals, 50),
    "deal list by title": ("/deals/list?sort=title", r'id="deal-(\d+)"', seed_deals, 50),
    "deal board column": ("/deals/stages/{lead}/cards", r'data-deal-id="(\d+)"', seed_deals, 30),
    "tickets": ("/tickets/", r'id="ticket-(\d+)"', seed_tickets, 25),
    "ticket queue": ("/tickets/?view=mine", r'id="ticket-(\d+)"', seed_tickets, 25),
    "orders": ("/orders/", r'id="order-(\d+)"', seed_orders, 25),
    "audit log": ("/settings/audit/", r'id="audit-(\d+)"', seed_audit, 50),
    "campaigns": ("/campaigns/", r'id="campaign-(\d+)"', seed_campaigns, 25),
    "timeline": ("/customers/{customer}/timeline", r"Note: (Row \d+)", seed_timeline, 30),
}
# Lists that exist only as a part of a page: htmx asks for them (opened as a page, they send to their page).
FRAGMENTS = {"deal board column", "timeline"}
# A NUL is refused before any view reads it (tests/test_hostile.py), so it is no cursor to test here.
BAD_CURSORS = ["garbage", "W10", made_by_hand([99999999999]), made_by_hand(["x", 2**40]),
               made_by_hand([None, None]), made_by_hand({"id": 1}), made_by_hand(["2026-13-45", 1]),
               made_by_hand(["1e999999", 1]), made_by_hand(["a\x00b", 1]), "A" * 5000,
               made_by_hand(["\ud800", 1]), base64.urlsafe_b64encode(b"[" * 1100).decode()]


@pytest.fixture
def run(in_tenant):
    """run(tenant, fn): fn(the admin member) inside the tenant; committed when it returns."""
    from crm.members.models import Member

    return lambda tenant, fn: in_tenant(tenant, lambda: fn(db.session.get(Member, tenant.admin_member_id)))


@pytest.fixture
def seeded(acme, admin, run, stage_ids):
    """Fill one list with a page and a few more rows; returns its first page's URL, the row marker, the page size."""

    def seed(name: str) -> tuple[str, str, int]:
        url, marker, fill, size = LISTS[name]
        fill(acme, run, size + 3)
        customer = run(acme, lambda viewer: db.session.scalar(select(func.max(Customer.id))))
        return f"/{acme.slug}{url.format(customer=customer, lead=stage_ids(acme)['Lead'])}", marker, size

    return seed


def more_link(html: str) -> str | None:
    found = re.search(r'hx-get="([^"]*after=[^"]*)"', html)
    return found[1].replace("&amp;", "&") if found else None


@pytest.mark.parametrize("name", LISTS)
def test_every_list_pages_with_after_to_its_end(admin, seeded, name):
    url, marker, size = seeded(name)
    page = admin.get(url, headers=HX if name in FRAGMENTS else {})
    assert page.status_code == 200
    seen = re.findall(marker, page.text)
    assert len(seen) == size
    if "<table" in page.text:  # a table ends with the shared more_row
        assert '<tr class="more"' in page.text and "Load more" in page.text
    link = more_link(page.text)
    while link:
        rest = admin.get(link, headers=HX)
        assert rest.status_code == 200 and "<html" not in rest.text
        seen += re.findall(marker, rest.text)
        link = more_link(rest.text)
    assert len(seen) == len(set(seen)) >= size + 3


@pytest.mark.parametrize("name", LISTS)
def test_a_bad_cursor_shows_the_first_page(admin, seeded, name):
    url, marker, _size = seeded(name)
    first = re.findall(marker, admin.get(url, headers=HX if name in FRAGMENTS else {}).text)
    joiner = "&" if "?" in url else "?"
    for cursor in BAD_CURSORS:
        for headers in (HX,) if name in FRAGMENTS else ({}, HX):
            page = admin.get(f"{url}{joiner}after={cursor}", headers=headers)
            assert page.status_code == 200, cursor
            assert re.findall(marker, page.text) == first, cursor
