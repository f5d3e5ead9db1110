"""An end customer pays an order in a real browser: the order's status link, Pay, the (fake) Stripe Checkout page,
back to the status page, and the order shows paid there and on the staff's order page.
Run: pytest tests/e2e/test_payments_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.fake_stripe import API_KEY
from tests.payments.conftest import WEBHOOK_SECRET, endpoint_path

pytestmark = pytest.mark.e2e


def test_a_customer_pays_the_order_through_checkout(app, acme, admin, fake_stripe, live_server, make_customer,
                                                    make_order, new_page, login, run_worker, shot):
    assert admin.post(f"/{acme.slug}/settings/payments",
                      data={"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}).status_code == 303
    # The tenant pastes its endpoint into Stripe's dashboard and selects the events.
    fake_stripe.add_webhook(live_server + endpoint_path(admin, acme), WEBHOOK_SECRET)
    customer_id = make_customer(acme, name="王芳 Wang Fang", phone="13900001234")
    order_id = make_order(acme, customer_id)
    admin.post(f"/{acme.slug}/orders/{order_id}/link")
    link = re.search(r'readonly value="https?://[^/]+(/o/[^"]+)"', admin.get(f"/{acme.slug}/orders/{order_id}").text)[1]

    customer = new_page(width=375, height=740)  # on a phone
    customer.goto(link)
    expect(customer.locator("#payment-state")).to_contain_text("Unpaid")
    expect(customer.locator("#amount-due")).to_have_text("CN¥50.97")
    customer.get_by_role("button", name="Pay CN¥50.97").click()

    expect(customer.get_by_role("heading", name="Pay 50.97 CNY")).to_be_visible()  # Stripe's (fake) page
    customer.get_by_label("alipay").check()
    customer.get_by_role("button", name="Pay").click()

    expect(customer).to_have_url(re.compile(re.escape(link) + r"\?paid=1$"))
    expect(customer.get_by_role("status")).to_contain_text("Your payment shows here as soon as Stripe confirms it.")
    run_worker()  # the webhook's job
    customer.reload()
    expect(customer.locator("#payment-state")).to_contain_text("Paid")
    expect(customer.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    shot(customer, "payments-paid-public")

    staff = new_page()
    login(staff, acme)
    staff.goto(f"/{acme.slug}/orders/{order_id}")
    expect(staff.locator("#order-payment-state")).to_have_text("Paid")
    expect(staff.locator("#order-paid")).to_have_text("CN¥50.97")
    expect(staff.locator("#payments-card")).to_contain_text("Alipay")
    staff.goto(f"/{acme.slug}/orders/?paid=paid")
    expect(staff.locator(f"#order-{order_id}")).to_be_visible()
