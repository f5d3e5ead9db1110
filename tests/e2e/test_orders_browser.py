"""Orders in a real browser: place an order with two lines (a product and a free-text line with a discount),
watch the totals, ship it, and follow it through its public status link in a fresh browser with no account,
in English and (at phone width) in Chinese. Run: pytest tests/e2e/test_orders_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def add_product(in_tenant, tenant, **fields) -> int:
    from crm.products import service

    return in_tenant(tenant, lambda: service.create_product(fields).id)


def add_order(in_tenant, tenant, customer_id: int) -> int:
    """3 x 19.99 less 15%, placed by the tenant's admin."""
    from crm.extensions import db
    from crm.members.models import Member
    from crm.orders import service
    from crm.orders.forms import LineInput

    line = LineInput(key="a1", description="Green tea", quantity="3", unit_price="19.99", discount="15")
    return in_tenant(tenant, lambda: service.create_order(db.session.get(Member, tenant.admin_member_id),
                                                          {"customer_id": str(customer_id)}, [line]).id)


def place_order(page, tenant) -> None:
    """Fill the order form: customer by search, a product line and a free-text line with 15% off."""
    page.goto(f"/{tenant.slug}/orders/")
    page.get_by_role("link", name="+ New order").click()
    expect(page.get_by_role("heading", name="New order")).to_be_visible()

    search = page.get_by_role("searchbox", name="Customer")
    with page.expect_response(lambda r: "/customers/choices" in r.url):
        search.fill("王芳")
    expect(page.get_by_role("listbox", name="Customers found").locator("option")).to_have_text(["王芳 · +86 139 0000 1234"])
    search.press("Enter")  # to the list, where the arrow keys pick
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("listbox", name="Customers found")).to_have_value(re.compile(r"^\d+$"))

    first = page.locator(".order-line").nth(0)
    with page.expect_response(lambda r: "/orders/line" in r.url):
        first.get_by_label("Product").select_option(label="Longjing 龙井 (LJ-1)")
    first = page.locator(".order-line").nth(0)
    expect(first.get_by_label("Description")).to_have_value("Longjing 龙井")
    expect(first.get_by_label("Unit price")).to_have_value("88.00")
    first.get_by_label("Quantity").fill("2")
    first.get_by_label("Quantity").press("Tab")
    expect(page.locator("#line-total-" + first.get_attribute("id").removeprefix("line-"))).to_have_text("CN¥176.00")

    page.get_by_role("button", name="+ Add line").click()
    second = page.locator(".order-line").nth(1)
    expect(second).to_be_visible()
    second.get_by_label("Description").fill("Gift wrapping 礼品包装")
    second.get_by_label("Quantity").fill("3")
    second.get_by_label("Unit price").fill("19.99")
    second.get_by_label("Discount (%)").fill("15")
    second.get_by_label("Discount (%)").press("Tab")
    expect(page.locator("#order-total")).to_have_text("CN¥226.97")  # 176.00 + 3 x 19.99 x 0.85 = 50.97
    expect(page.locator("#order-totals")).to_contain_text("CN¥235.97")  # subtotal before the discount
    htmx_idle(page)


def test_place_ship_and_follow_an_order_through_its_public_link(browser, live_server, new_page, make_tenant,
                                                                 make_customer, in_tenant, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    make_customer(tenant, name="王芳", phone="13900001234")
    add_product(in_tenant, tenant, name="Longjing 龙井", sku="LJ-1", unit="tin", price="88.00")
    page = new_page()
    login(page, tenant)

    place_order(page, tenant)
    shot(page, "orders-01-form-two-lines")
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/orders/\d+$"))
    expect(page.locator("#flashes")).to_contain_text("Order SO-000001 placed.")
    expect(page.locator("#order-total")).to_have_text("CN¥226.97")
    expect(page.locator("#order-status")).to_have_text("Placed")

    page.get_by_role("button", name="Mark shipped").click()
    expect(page.locator("#order-status")).to_have_text("Shipped")
    expect(page.locator("#flashes")).to_contain_text("Order SO-000001 is now Shipped.")
    expect(page.get_by_role("button", name="Mark received")).to_be_visible()
    expect(page.get_by_role("button", name="Mark shipped")).to_have_count(0)

    # Shipping told the customer, with a status link: the order page shows that link.
    link = page.locator("#public-link-url")
    expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/o/\d+\.\d+\.[A-Za-z0-9_-]{43}$"))
    url = link.input_value()
    shot(page, "orders-02-shipped-with-link")

    visitor = new_page()  # a fresh context: no cookies, nobody signed in
    visitor.goto(url)
    expect(visitor.locator("h1")).to_have_text("Order SO-000001")
    expect(visitor.locator("#order-status")).to_have_text("Shipped")
    history = visitor.locator("#status-history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Shipped")
    expect(history.nth(1)).to_contain_text("Placed")
    expect(visitor.locator("body")).not_to_contain_text("王芳")
    expect(visitor.locator("body")).not_to_contain_text("CN¥")
    expect(visitor.locator("a")).to_have_count(0)
    shot(visitor, "orders-03-public-status")

    phone = browser.new_context(base_url=live_server, viewport={"width": 360, "height": 740}, locale="zh-CN",
                                timezone_id="Asia/Shanghai")
    try:
        chinese = phone.new_page()
        chinese.goto(url)
        expect(chinese.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(chinese.locator("#order-status")).to_have_attribute("class", re.compile("order-status-shipped"))
        expect(chinese.locator("#status-history time").first).to_have_text(re.compile(r"^\d{4}/\d{1,2}/\d{1,2}"))
        shot(chinese, "orders-04-public-status-zh-360px")
        assert chinese.evaluate(NO_OVERFLOW), "the public status page is wider than a 360 px phone"
    finally:
        phone.close()

    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("button", name="Create status link")).to_be_visible()
    visitor.goto(url)
    expect(visitor.get_by_role("heading", name="Not found")).to_be_visible()


def test_order_form_and_page_fit_a_phone(new_page, make_tenant, make_customer, in_tenant, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    customer_id = make_customer(tenant, name="王芳")
    add_product(in_tenant, tenant, name="Longjing 龙井", sku="LJ-1", price="88.00")
    order_id = add_order(in_tenant, tenant, customer_id)
    page = new_page(360, 740)
    login(page, tenant)

    page.goto(f"/{tenant.slug}/orders/new?customer_id={customer_id}")
    expect(page.get_by_role("listbox", name="Customers found").locator("option:checked")).to_have_text("王芳")
    page.get_by_role("button", name="+ Add line").click()
    expect(page.locator(".order-line")).to_have_count(2)
    page.locator(".order-line").nth(1).get_by_role("button", name="Remove").click()
    expect(page.locator(".order-line")).to_have_count(1)
    shot(page, "orders-05-form-360px")
    assert page.evaluate(NO_OVERFLOW), "the order form is wider than a 360 px phone"

    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#lines-error")).to_have_text("Add at least one line.")
    expect(page.get_by_role("listbox", name="Customers found").locator("option:checked")).to_have_text("王芳")

    page.goto(f"/{tenant.slug}/orders/{order_id}")
    expect(page.locator("#order-total")).to_have_text("CN¥50.97")
    shot(page, "orders-06-order-360px")
    assert page.evaluate(NO_OVERFLOW), "the order page is wider than a 360 px phone"

    page.goto(f"/{tenant.slug}/orders/")
    expect(page.locator(f"#order-{order_id}")).to_be_visible()
    assert page.evaluate(NO_OVERFLOW), "the order list is wider than a 360 px phone"


def test_a_partial_refund_on_a_phone(new_page, make_tenant, make_customer, in_tenant, login, shot):
    from crm.extensions import db
    from crm.members.models import Member
    from crm.orders import service
    from crm.orders.models import Order

    tenant = make_tenant("Harbour Agency")
    order_id = add_order(in_tenant, tenant, make_customer(tenant, name="Ann Lee"))

    def ask_for_refund():
        order, admin = db.session.get(Order, order_id), db.session.get(Member, tenant.admin_member_id)
        for to in ("shipped", "received", "refund_requested"):
            service.move_order(admin, order, to)

    in_tenant(tenant, ask_for_refund)
    page = new_page(375, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/orders/{order_id}")
    page.get_by_text("Mark refunded…").click()
    amount = page.get_by_label("Amount refunded (CNY)")
    expect(amount).to_have_value("50.97")
    amount.fill("60")
    page.get_by_role("button", name="Confirm: Mark refunded").click()
    expect(page.locator("#refund-amount-error")).to_have_text(
        "A refund cannot be more than the order's total, CN¥50.97.")
    expect(amount).to_have_value("60")
    shot(page, "orders-07-refund-refused-375px")
    assert page.evaluate(NO_OVERFLOW), "the refused refund is wider than a 375 px phone"

    amount.fill("20")
    page.get_by_role("button", name="Confirm: Mark refunded").click()
    expect(page.locator("#order-status")).to_have_text("Partially refunded")
    expect(page.locator("#order-refunded")).to_have_text("CN¥20.00")
    expect(page.locator("#status-history li").first).to_contain_text("CN¥20.00")
    shot(page, "orders-08-partially-refunded-375px")
    assert page.evaluate(NO_OVERFLOW), "the refunded order is wider than a 375 px phone"
