"""A tenant admin subscribes in a real browser: Settings > Billing, Choose a plan, pays on the (fake) Stripe
Checkout page, comes back to "waiting for Stripe", and the page turns to the active plan once Stripe's webhook has
been applied. Run: pytest tests/e2e/test_billing_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.billing.conftest import PLATFORM_WEBHOOK_SECRET, WEBHOOK_PATH
from tests.billing.conftest import billing_on, stripe_billing  # noqa: F401 (the fixtures, shared)

pytestmark = pytest.mark.e2e


def test_an_admin_picks_a_plan_pays_on_checkout_and_returns_to_the_active_plan(acme, stripe_billing, live_server,
                                                                                 new_page, login, run_worker, shot):
    stripe_billing.add_webhook(live_server + WEBHOOK_PATH, PLATFORM_WEBHOOK_SECRET)  # the operator's endpoint
    admin = new_page(width=375, height=740)  # on a phone
    login(admin, acme)
    admin.goto(f"/{acme.slug}/settings/billing/")
    expect(admin.locator("#billing-status")).to_contain_text("Free trial until")
    admin.locator("#plan-pro").get_by_role("button", name="Monthly").click()

    expect(admin.get_by_role("heading", name="Pay 29.00 USD")).to_be_visible()  # Stripe's (fake) page
    admin.get_by_role("button", name="Pay").click()

    expect(admin).to_have_url(re.compile(rf"/{acme.slug}/settings/billing/\?checkout=done$"))
    expect(admin.locator("#billing-waiting")).to_contain_text("Waiting for Stripe to confirm")
    run_worker()  # the webhook's jobs; the page asks again by itself
    expect(admin.locator("#billing-waiting")).to_have_count(0, timeout=10_000)
    expect(admin.locator("#billing-plan h2")).to_have_text("Plan: Pro")
    expect(admin.locator("#billing-status")).to_contain_text("Active.")
    expect(admin.locator("#billing-status")).to_contain_text("Renews on")
    expect(admin.get_by_role("button", name="Manage billing")).to_be_visible()
    shot(admin, "billing-active")
