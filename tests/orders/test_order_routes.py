"""Order pages: the form (422 at the field, nothing saved), status buttons, scope, list filters, the htmx
helpers (line, preview, customer search) and the customer page's partial."""
import re
from decimal import Decimal

import pytest
from flask import g, render_template
from sqlalchemy import func, select

from crm.customers.models import Customer
from crm.extensions import db
from crm.members.models import Member
from crm.orders import queries
from crm.orders.models import Order, OrderLine, OrderStatusChange
from crm.timeline.models import TimelineEvent
from tenants.binding import tenant_bound

LINE_FIELDS = ("key", "product_id", "description", "unit", "quantity", "unit_price", "discount")
GOOD_LINES = [{"description": "Green tea", "quantity": "3", "unit_price": "19.99", "discount": "15"},
              {"description": "Gift box", "quantity": "2", "unit_price": "5"}]


def order_form(customer_id, lines=GOOD_LINES, **fields) -> dict:
    """What the order form posts: its own fields, and each line_* input once per row."""
    data = {"customer_id": str(customer_id), "currency": "CNY", "delivery_date": "", "notes": "", **fields}
    for name in LINE_FIELDS:
        data[f"line_{name}"] = [line.get(name, f"a{i}" if name == "key" else "") for i, line in enumerate(lines)]
    return data


def counts(in_tenant, tenant) -> tuple[int, int, int, int]:
    """Orders, lines, status changes and timeline events stored in the tenant."""
    return in_tenant(tenant, lambda: tuple(db.session.scalar(select(func.count()).select_from(model))
                                           for model in (Order, OrderLine, OrderStatusChange, TimelineEvent)))


def stored(in_tenant, tenant, order_id) -> Order:
    def read():
        order = db.session.get(Order, order_id)
        db.session.expunge_all()
        return order
    return in_tenant(tenant, read)


def test_create_order_with_two_lines_through_the_form(app, acme, make_customer, client_as, in_tenant):
    customer_id = make_customer(acme, name="王芳")
    client = client_as(acme.admin_account_id)
    # Totals sent by the client are not read: the server works them out from the lines.
    response = client.post(f"/{acme.slug}/orders/", data=order_form(customer_id, delivery_date="2026-12-24",
                                                                    total="1.00", subtotal="1.00"))
    assert response.status_code == 303
    order_id = int(response.headers["Location"].rsplit("/", 1)[1])
    order = stored(in_tenant, acme, order_id)
    assert (order.subtotal, order.discount_total, order.total) == (Decimal("69.97"), Decimal("9.00"),
                                                                   Decimal("60.97"))
    assert str(order.delivery_date) == "2026-12-24" and order.owner_id == acme.admin_member_id
    page = client.get(response.headers["Location"])
    assert "Order SO-000001 placed." in page.text and "CN¥60.97" in page.text and "王芳" in page.text
    assert "Green tea" in page.text and "Gift box" in page.text


@pytest.mark.parametrize("change, message", [
    ({"lines": [{}]}, "Add at least one line."),
    ({"lines": [GOOD_LINES[0], {"description": "x", "quantity": "0", "unit_price": "1"}]}, "above zero"),
    ({"lines": [{"description": "x", "quantity": "1", "unit_price": "1", "discount": "150"}]}, "from 0 to 100"),
    ({"lines": [{"product_id": "999999", "quantity": "1"}]}, "Choose a product from the list."),
    ({"delivery_date": "2026-02-30"}, "Enter a valid date."),
    ({"customer_id": ""}, "Choose a customer."),
    ({"currency": "XYZ1"}, "Enter a currency code"),
])
def test_bad_input_answers_422_at_the_field_and_saves_nothing(app, acme, make_customer, client_as, in_tenant,
                                                              change, message):
    customer_id = make_customer(acme)
    lines = change.pop("lines", GOOD_LINES)
    data = order_form(customer_id, lines, **{k: v for k, v in change.items() if k != "customer_id"})
    if "customer_id" in change:
        data["customer_id"] = change["customer_id"]
    before = counts(in_tenant, acme)
    response = client_as(acme.admin_account_id).post(f"/{acme.slug}/orders/", data=data,
                                                     headers={"HX-Request": "true"})
    assert response.status_code == 422
    marker = 'id="lines-error"' if message == "Add at least one line." else 'aria-invalid="true"'
    assert message in response.text and marker in response.text
    assert "Nothing was saved." in response.text and "<html" not in response.text
    assert counts(in_tenant, acme) == before == (0, 0, 0, 0)
    if lines is not GOOD_LINES and lines != [{}]:  # what was typed stays in the form
        assert f'value="{lines[-1]["quantity"]}"' in response.text


def test_a_customer_the_rep_may_not_see_cannot_be_put_on_an_order(app, acme, add_member, make_customer, client_as,
                                                                  in_tenant):
    account, _rep = add_member(acme, "sales_rep", "Rita Rep")
    hidden = make_customer(acme, name="Not Rita's")  # owned by nobody the rep reaches
    response = client_as(account).post(f"/{acme.slug}/orders/", data=order_form(hidden))
    assert response.status_code == 422 and "Choose a customer." in response.text
    assert counts(in_tenant, acme)[0] == 0


def test_status_buttons_show_only_legal_moves_and_an_illegal_move_is_refused(app, acme, make_customer, make_order,
                                                                           client_as, in_tenant):
    order_id = make_order(acme, make_customer(acme))
    client = client_as(acme.admin_account_id)
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    assert re.findall(r'name="to" value="(\w+)"', page.text) == ["shipped", "cancelled"]

    refused = client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "completed"})
    assert refused.status_code == 303
    page = client.get(refused.headers["Location"])
    assert "An order that is Placed cannot become Completed." in page.text
    assert stored(in_tenant, acme, order_id).status == "placed"

    moved = client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped", "note": "SF 123"})
    page = client.get(moved.headers["Location"])
    assert "Order SO-000001 is now Shipped." in page.text and "SF 123" in page.text
    assert re.findall(r'name="to" value="(\w+)"', page.text) == ["received", "refund_requested"]
    assert stored(in_tenant, acme, order_id).status == "shipped"


def test_final_statuses_offer_no_moves(app, acme, make_customer, make_order, client_as):
    order_id = make_order(acme, make_customer(acme))
    client = client_as(acme.admin_account_id)
    client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "cancelled"})
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    assert 'name="to"' not in page.text and "Cancelled" in page.text
    again = client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"})
    assert "An order that is Cancelled cannot become Shipped." in client.get(again.headers["Location"]).text


def test_a_rep_gets_404_on_another_reps_order_and_does_not_list_it(app, acme, add_member, make_customer, make_order,
                                                                   client_as, in_tenant):
    rita_account, rita = add_member(acme, "sales_rep", "Rita Rep")
    _sam_account, sam = add_member(acme, "sales_rep", "Sam Rep")
    mine = make_order(acme, make_customer(acme, member_id=rita, name="Rita's customer"), member_id=rita)
    theirs = make_order(acme, make_customer(acme, member_id=sam, name="Sam's customer"), member_id=sam)
    client = client_as(rita_account)
    listing = client.get(f"/{acme.slug}/orders/")
    assert "SO-000001" in listing.text and "SO-000002" not in listing.text and "Sam's customer" not in listing.text
    assert client.get(f"/{acme.slug}/orders/{mine}").status_code == 200
    for method, path in (("GET", ""), ("GET", "/edit"), ("POST", ""), ("POST", "/status"), ("POST", "/link"),
                         ("POST", "/link/revoke")):
        response = client.open(f"/{acme.slug}/orders/{theirs}{path}", method=method,
                               data=order_form(1) if method == "POST" else None)
        assert response.status_code == 404, (method, path)
        assert "Sam's customer" not in response.text
    assert stored(in_tenant, acme, theirs).status == "placed"
    assert stored(in_tenant, acme, theirs).link_nonce is None


def test_support_agent_sees_every_order_but_may_not_place_or_move_one(app, acme, add_member, make_customer,
                                                                      make_order, client_as):
    account, _agent = add_member(acme, "support_agent", "Su Agent")
    order_id = make_order(acme, make_customer(acme))
    client = client_as(account)
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    assert page.status_code == 200 and 'name="to"' not in page.text
    assert client.get(f"/{acme.slug}/orders/new").status_code == 403
    assert client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"}).status_code == 403


def test_edit_changes_lines_while_placed_and_only_dates_and_notes_after(app, acme, make_customer, make_order,
                                                                         client_as, in_tenant):
    customer_id = make_customer(acme)
    order_id = make_order(acme, customer_id)
    client = client_as(acme.admin_account_id)
    form = client.get(f"/{acme.slug}/orders/{order_id}/edit")
    assert form.status_code == 200 and 'value="19.99"' in form.text and 'value="15"' in form.text
    lines = [{"description": "Green tea", "quantity": "10", "unit_price": "10", "discount": "0"}]
    assert client.post(f"/{acme.slug}/orders/{order_id}", data=order_form(customer_id, lines)).status_code == 303
    assert stored(in_tenant, acme, order_id).total == Decimal("100.00")

    client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"})
    form = client.get(f"/{acme.slug}/orders/{order_id}/edit")
    assert "line_quantity" not in form.text and "fixed" in form.text
    data = order_form(customer_id, [{"description": "Other", "quantity": "1", "unit_price": "1"}],
                      delivery_date="2027-01-05", notes="Call before delivery")
    assert client.post(f"/{acme.slug}/orders/{order_id}", data=data).status_code == 303
    order = stored(in_tenant, acme, order_id)
    assert order.total == Decimal("100.00") and str(order.delivery_date) == "2027-01-05"
    assert order.notes == "Call before delivery"


def test_list_filters_by_status_customer_owner_and_date(app, acme, add_member, make_customer, make_order,
                                                        client_as, in_tenant):
    _account, rep = add_member(acme, "sales_rep", "Rita Rep")
    first_customer, second_customer = make_customer(acme, name="First Co"), make_customer(acme, name="Second Co")
    shipped = make_order(acme, first_customer)
    make_order(acme, second_customer)
    make_order(acme, make_customer(acme, member_id=rep, name="Rita's"), member_id=rep)
    client = client_as(acme.admin_account_id)
    client.post(f"/{acme.slug}/orders/{shipped}/status", data={"to": "shipped"})

    def numbers(query: str) -> list[str]:
        page = client.get(f"/{acme.slug}/orders/?{query}", headers={"HX-Request": "true"})
        assert page.status_code == 200
        return re.findall(r">(SO-\d+)</a>", page.text)

    assert numbers("") == ["SO-000003", "SO-000002", "SO-000001"]
    assert numbers("status=shipped") == ["SO-000001"]
    assert numbers("status=placed") == ["SO-000003", "SO-000002"]
    assert numbers(f"customer_id={second_customer}") == ["SO-000002"]
    assert numbers("customer=second") == ["SO-000002"] and numbers("customer=co") == ["SO-000002", "SO-000001"]
    assert numbers("customer=nobody") == []
    assert numbers(f"owner={rep}") == ["SO-000003"]
    assert numbers("owner=me") == ["SO-000002", "SO-000001"]
    assert numbers("since=2000-01-01&until=2999-12-31") == ["SO-000003", "SO-000002", "SO-000001"]
    assert numbers("since=2999-01-01") == [] and numbers("until=2000-01-02") == []
    assert numbers("status=nonsense&since=bad&owner=x") == ["SO-000003", "SO-000002", "SO-000001"]


def test_list_pages_with_a_keyset_more_link(app, acme, make_customer, make_order, client_as):
    customer_id = make_customer(acme)
    for _ in range(queries.PAGE_SIZE + 2):
        make_order(acme, customer_id)
    client = client_as(acme.admin_account_id)
    page = client.get(f"/{acme.slug}/orders/")
    assert len(re.findall(r">(SO-\d+)</a>", page.text)) == queries.PAGE_SIZE
    more = re.search(r'hx-get="([^"]*after=[^"]*)"', page.text)[1].replace("&amp;", "&")
    rest = client.get(more, headers={"HX-Request": "true"})
    assert re.findall(r">(SO-\d+)</a>", rest.text) == ["SO-000002", "SO-000001"] and "<table" not in rest.text


def test_preview_works_out_totals_and_line_totals_from_the_lines(app, acme, client_as):
    data = order_form(1, [GOOD_LINES[0], {"key": "bad1", "description": "x", "quantity": "zero", "unit_price": "1"}],
                      total="999")
    response = client_as(acme.admin_account_id).post(f"/{acme.slug}/orders/preview", data=data,
                                                     headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert re.search(r'id="order-total">CN¥50.97<', response.text)
    assert re.search(r'id="line-total-a0"[^>]*hx-swap-oob="true">CN¥50.97<', response.text)
    assert re.search(r'id="line-total-bad1"[^>]*hx-swap-oob="true">—<', response.text)
    assert "Lines with a problem are not counted yet." in response.text


def test_choosing_a_product_fills_the_line_with_its_name_unit_and_price(app, acme, make_product, client_as):
    product_id = make_product(acme, name="Jasmine 茉莉", unit="tin", price="42.50")
    response = client_as(acme.admin_account_id).get(
        f"/{acme.slug}/orders/line?line_key=abc123&line_product_id={product_id}&line_quantity=2&line_discount=5",
        headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Trigger-After-Swap"] == "recompute"
    assert 'id="line-abc123"' in response.text
    for value in ("Jasmine 茉莉", "tin", "42.50", "2", "5"):
        assert f'value="{value}"' in response.text
    blank = client_as(acme.admin_account_id).get(f"/{acme.slug}/orders/line", headers={"HX-Request": "true"})
    assert re.search(r'name="line_key" value="[0-9a-f]{8}"', blank.text)


def test_deactivated_products_are_not_offered_on_new_lines(app, acme, make_product, client_as, in_tenant):
    from crm.products import service as products
    from crm.products.models import Product

    kept, retired = make_product(acme, name="Kept tea"), make_product(acme, name="Retired tea")
    in_tenant(acme, lambda: products.set_active(db.session.get(Product, retired), False))
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/orders/new")
    assert f'value="{kept}"' in page.text and "Retired tea" not in page.text


def test_new_order_from_the_customer_page_starts_with_that_customer(app, acme, make_customer, client_as):
    customer_id = make_customer(acme, name="韩梅梅")
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/orders/new?customer_id={customer_id}")
    assert re.search(rf'<option value="{customer_id}" selected>韩梅梅', page.text)


def test_customer_partial_lists_the_orders_the_member_may_see(app, acme, add_member, make_customer, make_order):
    _account, rep = add_member(acme, "sales_rep", "Rita Rep")
    customer_id = make_customer(acme, member_id=rep, name="Shared")
    make_order(acme, customer_id, member_id=rep)
    make_order(acme, customer_id)  # the admin's order for the same customer: not the rep's to see
    with app.test_request_context(), tenant_bound(acme.ref):
        g.member = db.session.get(Member, rep)
        html = render_template("orders/_customer_orders.html", customer=db.session.get(Customer, customer_id),
                               customer_orders=queries.orders_for_customer(g.member, customer_id))
    assert "SO-000001" in html and "SO-000002" not in html and "CN¥50.97" in html
    assert f"/orders/new?customer_id={customer_id}" in html


def test_orders_go_to_owners_within_the_members_reach(app, acme, add_member, make_customer, client_as, in_tenant):
    rep_account, rep = add_member(acme, "sales_rep", "Rita Rep")
    admin = client_as(acme.admin_account_id)
    form = admin.get(f"/{acme.slug}/orders/new")
    assert f'<option value="{rep}">Rita Rep</option>' in form.text
    response = admin.post(f"/{acme.slug}/orders/", data=order_form(make_customer(acme), owner_id=str(rep)))
    assert stored(in_tenant, acme, int(response.headers["Location"].rsplit("/", 1)[1])).owner_id == rep

    rep_client = client_as(rep_account)
    assert 'name="owner_id"' not in rep_client.get(f"/{acme.slug}/orders/new").text
    mine = make_customer(acme, member_id=rep, name="Rita's buyer")
    refused = rep_client.post(f"/{acme.slug}/orders/", data=order_form(mine, owner_id=str(acme.admin_member_id)))
    assert refused.status_code == 422 and "You can only give orders to members you work with." in refused.text
    placed = rep_client.post(f"/{acme.slug}/orders/", data=order_form(mine))
    assert placed.status_code == 303
    assert stored(in_tenant, acme, int(placed.headers["Location"].rsplit("/", 1)[1])).owner_id == rep
