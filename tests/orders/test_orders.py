"""Order rules: line totals with discounts and rounding, the status workflow, history, timeline and audit."""
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.errors import Invalid
from crm.extensions import db
from crm.members.models import Member
from crm.orders import service
from crm.orders.forms import LineInput
from crm.orders.models import MOVES, Order, OrderStatusChange
from crm.orders.totals import line_amounts
from crm.timeline.models import TimelineEvent

D = Decimal


def admin(tenant) -> Member:
    return db.session.get(Member, tenant.admin_member_id)


@pytest.mark.parametrize("quantity, price, discount, gross, total", [
    ("3", "19.99", "15", "59.97", "50.97"),      # 50.9745 -> 50.97
    ("0.5", "0.05", "0", "0.03", "0.03"),        # 0.025 rounds half up (half-even would give 0.02)
    ("1", "10.05", "50", "10.05", "5.03"),       # 5.025 -> 5.03
    ("2.5", "3.99", "100", "9.98", "0.00"),      # 9.975 -> 9.98; all of it discounted
    ("7", "14.29", "12.5", "100.03", "87.53"),   # 87.52625 -> 87.53
])
def test_line_total_is_quantity_times_price_less_the_discount_half_up_to_cents(quantity, price, discount, gross,
                                                                                total):
    assert line_amounts(D(quantity), D(price), D(discount)) == (D(gross), D(total))


def test_order_totals_add_up_the_rounded_lines(app, acme, make_customer, make_order, in_tenant):
    customer_id = make_customer(acme)
    order_id = make_order(acme, customer_id, lines=[
        {"description": "Green tea", "quantity": "3", "unit_price": "19.99", "discount": "15"},
        {"description": "Cup", "quantity": "1", "unit_price": "0.01", "discount": "50"},
        {"description": "Cup", "quantity": "1", "unit_price": "0.01", "discount": "50"},
        {"description": "Box", "quantity": "2", "unit_price": "5"},
    ])

    def check():
        order = db.session.get(Order, order_id)
        assert [line.total for line in order.lines] == [D("50.97"), D("0.01"), D("0.01"), D("10.00")]
        assert (order.subtotal, order.discount_total, order.total) == (D("69.99"), D("9.00"), D("60.99"))
        assert order.subtotal - order.discount_total == order.total
        assert order.number == "SO-000001" and order.status == "placed" and order.currency == "CNY"

    in_tenant(acme, check)


def test_a_product_line_takes_the_products_name_unit_and_price(app, acme, make_customer, make_product, make_order,
                                                                in_tenant):
    product_id = make_product(acme, name="Oolong 乌龙", unit="box", price="88.00")
    order_id = make_order(acme, make_customer(acme), lines=[{"product_id": str(product_id), "quantity": "2",
                                                             "discount": "10"}])

    def check():
        line = db.session.get(Order, order_id).lines[0]
        assert (line.description, line.unit, line.unit_price, line.total) == ("Oolong 乌龙", "box", D("88.00"),
                                                                              D("158.40"))

    in_tenant(acme, check)


def test_order_numbers_are_per_tenant(app, acme, globex, make_customer, make_order, in_tenant):
    first = make_order(acme, make_customer(acme))
    second = make_order(acme, make_customer(acme))
    other = make_order(globex, make_customer(globex))
    assert in_tenant(acme, lambda: [db.session.get(Order, i).number for i in (first, second)]) == [
        "SO-000001", "SO-000002"]
    assert in_tenant(globex, lambda: db.session.get(Order, other).number) == "SO-000001"


@pytest.mark.parametrize("line, field, message", [
    ({"description": "x", "quantity": "0", "unit_price": "1"}, "quantity", "above zero"),
    ({"description": "x", "quantity": "-1", "unit_price": "1"}, "quantity", "above zero"),
    ({"description": "x", "quantity": "1.2345", "unit_price": "1"}, "quantity", "three decimals"),
    ({"description": "x", "quantity": "1", "unit_price": "1", "discount": "100.01"}, "discount", "0 to 100"),
    ({"description": "x", "quantity": "1", "unit_price": "1", "discount": "-5"}, "discount", "0 to 100"),
    ({"description": "x", "quantity": "1", "unit_price": "1.999"}, "unit_price", "two decimals"),
    ({"description": "x", "quantity": "1", "unit_price": "abc"}, "unit_price", "two decimals"),
    ({"description": "x", "quantity": "99999999999", "unit_price": "999999999"}, "unit_price", "too large"),
    ({"product_id": "999999", "quantity": "1"}, "product_id", "Choose a product"),
    ({"quantity": "1", "unit_price": "1"}, "description", "Describe the item"),
])
def test_bad_lines_are_refused_with_the_message_at_the_field(app, acme, make_customer, in_tenant, line, field,
                                                             message):
    customer_id = make_customer(acme)

    def attempt():
        rows = [LineInput(key="a", description="Fine", quantity="1", unit_price="2"), LineInput(key="b", **line)]
        with pytest.raises(Invalid) as refused:
            service.create_order(admin(acme), {"customer_id": str(customer_id)}, rows)
        return refused.value.errors

    errors = in_tenant(acme, attempt)
    assert list(errors) == [f"lines.1.{field}"] and message in errors[f"lines.1.{field}"]
    assert in_tenant(acme, lambda: db.session.scalars(select(Order)).all()) == []


def test_an_order_needs_a_line_and_blank_rows_are_skipped(app, acme, make_customer, in_tenant):
    customer_id = make_customer(acme)

    def attempt():
        with pytest.raises(Invalid) as refused:
            service.create_order(admin(acme), {"customer_id": str(customer_id)}, [LineInput(key="a")])
        return refused.value.errors

    assert in_tenant(acme, attempt) == {"lines": "Add at least one line."}


def walk(tenant, order_id, *moves):
    """Make the moves in turn as the tenant's admin; returns the order's status and its history."""
    def run():
        order = db.session.get(Order, order_id)
        for to in moves:
            service.move_order(admin(tenant), order, to)
        return order.status, [(c.from_status, c.to_status, c.actor_name) for c in order.changes]

    return run


LEGAL_PATHS = [
    ("shipped", "received", "completed", "refund_requested", "refunded"),
    ("cancelled",),
    ("shipped", "refund_requested", "refunded"),
    ("shipped", "received", "refund_requested"),
    ("shipped", "received", "refund_requested", "received", "completed"),  # the refund declined
]


@pytest.mark.parametrize("path", LEGAL_PATHS)
def test_every_legal_move_is_made_and_kept_with_who_and_when(app, acme, make_customer, make_order, in_tenant, path):
    order_id = make_order(acme, make_customer(acme))
    status, history = in_tenant(acme, walk(acme, order_id, *path))
    assert status == path[-1]
    steps = ["placed", *path]
    assert history == [(None, "placed", "Ada Admin")] + [(a, b, "Ada Admin") for a, b in pairwise(steps)]


def test_the_legal_paths_cover_every_move():
    made = {pair for path in LEGAL_PATHS for pair in pairwise(("placed", *path))}
    assert made == {(a, b) for a, moves in MOVES.items() for b in moves}


@pytest.mark.parametrize("path, illegal", [
    ((), "received"), ((), "completed"), ((), "refund_requested"), ((), "refunded"), ((), "placed"),
    (("shipped",), "placed"), (("shipped",), "cancelled"), (("shipped", "received"), "shipped"),
    (("cancelled",), "shipped"), (("cancelled",), "placed"),
    (("shipped", "received", "completed"), "cancelled"),
    (("shipped", "refund_requested", "refunded"), "refund_requested"), ((), "lost"), ((), ""),
    (("shipped", "refund_requested"), "completed"), (("shipped", "refund_requested", "refunded"), "received"),
    ((), "partially_refunded"), (("shipped",), "refunded"),
])
def test_illegal_moves_are_refused_and_change_nothing(app, acme, make_customer, make_order, in_tenant, path,
                                                      illegal):
    order_id = make_order(acme, make_customer(acme))
    in_tenant(acme, walk(acme, order_id, *path))

    def attempt():
        order = db.session.get(Order, order_id)
        with pytest.raises(Invalid) as refused:
            service.move_order(admin(acme), order, illegal)
        return refused.value.errors["status"]

    message = in_tenant(acme, attempt)
    assert "cannot become" in message or "Choose what happened" in message
    status, history = in_tenant(acme, walk(acme, order_id))
    assert status == (path[-1] if path else "placed") and len(history) == len(path) + 1


def test_creating_and_moving_an_order_is_on_the_customers_timeline_and_in_the_audit_log(
        app, acme, make_customer, make_order, in_tenant):
    customer_id = make_customer(acme)
    order_id = make_order(acme, customer_id)
    in_tenant(acme, walk(acme, order_id, "shipped"))

    def read():
        events = db.session.scalars(select(TimelineEvent).where(TimelineEvent.customer_id == customer_id)
                                    .order_by(TimelineEvent.id)).all()
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "order").order_by(AuditEntry.id))
        return [(e.kind, e.payload) for e in events], [(a.action, a.summary, a.changes) for a in audit]

    events, audit = in_tenant(acme, read)
    link = ["orders.show", {"order_id": order_id}]
    assert events == [
        ("order_created", {"number": "SO-000001", "total": {"en": "CN¥50.97", "zh": "¥50.97"}, "link": link}),
        ("order_status", {"number": "SO-000001", "from": {"en": "Placed", "zh": events[1][1]["from"]["zh"]},
                          "to": {"en": "Shipped", "zh": events[1][1]["to"]["zh"]}, "link": link}),
    ]
    assert audit[0][:2] == ("create", "SO-000001")
    assert audit[1] == ("update", "SO-000001", {"status": ["placed", "shipped"]})


def test_timeline_sentence_reads_in_the_readers_language(app, acme, make_customer, make_order, in_tenant):
    from flask_babel import force_locale

    from crm.timeline.service import sentence

    customer_id = make_customer(acme)
    make_order(acme, customer_id)

    def read():
        event = db.session.scalars(select(TimelineEvent).where(TimelineEvent.customer_id == customer_id)).one()
        with app.test_request_context(), force_locale("en"):
            english = sentence(event)
        with app.test_request_context(), force_locale("zh_Hans_CN"):
            chinese = sentence(event)
        return english, chinese

    english, chinese = in_tenant(acme, read)
    assert english == "Order SO-000001 placed, total CN¥50.97"
    assert "¥50.97" in chinese and "CN¥" not in chinese


def test_status_history_rows_are_kept(app, acme, make_customer, make_order, in_tenant):
    order_id = make_order(acme, make_customer(acme))

    def move_with_note():
        service.move_order(admin(acme), db.session.get(Order, order_id), "cancelled", "  customer changed mind ")
        changes = db.session.scalars(select(OrderStatusChange).where(OrderStatusChange.order_id == order_id)
                                     .order_by(OrderStatusChange.id)).all()
        return [(c.from_status, c.to_status, c.note, c.actor_id, c.at is not None) for c in changes]

    assert in_tenant(acme, move_with_note) == [
        (None, "placed", None, acme.admin_member_id, True),
        ("placed", "cancelled", "customer changed mind", acme.admin_member_id, True)]


def test_a_customers_first_order_follows_placing_cancelling_and_moving_orders(app, acme, make_customer, make_order,
                                                                              in_tenant):
    from crm.customers.models import Customer

    first_customer, second_customer = make_customer(acme), make_customer(acme, name="Li Na")
    earlier, later = make_order(acme, first_customer), make_order(acme, first_customer)

    def firsts():
        db.session.expire_all()
        placed = dict(db.session.execute(select(Order.id, Order.created_at)).all())
        return placed, [db.session.get(Customer, c).first_ordered_at for c in (first_customer, second_customer)]

    placed, first = in_tenant(acme, firsts)
    assert first == [placed[earlier], None] and placed[earlier] < placed[later]
    in_tenant(acme, lambda: service.move_order(admin(acme), db.session.get(Order, earlier), "cancelled"))
    assert in_tenant(acme, firsts)[1] == [placed[later], None]
    in_tenant(acme, lambda: service.update_order(admin(acme), db.session.get(Order, later),
                                                 {"customer_id": str(second_customer)}, None))
    assert in_tenant(acme, firsts)[1] == [None, placed[later]]
