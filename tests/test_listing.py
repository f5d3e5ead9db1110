"""Keyset pages (crm/listing.py): cursors that survive whatever a URL holds, pages that add up to the whole list
in every order."""
import base64
import json
import string
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from crm import listing
from crm.customers.models import Customer
from crm.extensions import db
from crm.listing import Key


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


@pytest.mark.parametrize("text", [
    "", "garbage", "李雷", "%00", "\x00", "====", "W10", "a" * 5000,
    made_by_hand(["Zhang"]), made_by_hand(["Zhang", 5, 6]), made_by_hand({"name": "Zhang", "id": 5}),
    made_by_hand("Zhang"), made_by_hand(5), made_by_hand(None),
    listing.cursor(["Zhang", 5])[:-4],  # cut short
    listing.cursor(["Zhang", 5]).replace("W", "X", 1),  # tampered
])
def test_anything_else_is_not_a_cursor(text):
    assert listing.read_cursor(text, [str, int]) is None


@pytest.mark.parametrize("value, kind", [
    (2**31, int), (99999999999999999999, int), (-2**31 - 1, int), (1.0, int), (True, int), ("7", int), ([7], int),
    (7, str), ("a\x00b", str), ({"a": 1}, str),
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
