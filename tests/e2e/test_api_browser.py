"""The API reference page renders in a browser under the app's CSP (no violation, no script error), and a token
made on the profile's token page is shown once, then works against the API.
Run: pytest tests/e2e/test_api_browser.py -q -p no:randomly"""
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_api_reference_page_renders_the_document(page, shot):
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CRM API")
    expect(page.get_by_text("/api/v1/customers/{customer_id}").first).to_be_visible()
    shot(page, "api-reference")


def test_a_token_made_on_the_profile_works_against_the_api(new_page, live_server, make_tenant, make_customer, login,
                                                           shot):
    tenant = make_tenant()
    make_customer(tenant, name="Qian Duo")
    page = new_page(width=375, height=800)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/profile")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="New token")).to_be_visible()
    page.get_by_label("Name").fill("ERP sync")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text()
    shot(page, "api-token-created")
    request = urllib.request.Request(f"{live_server}/api/v1/customers/", headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request) as answer:
        assert b"Qian Duo" in answer.read()
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)
