"""Sessions in a real browser: signing out another browser from the account page sends that browser to sign-in
at its next click (htmx follows HX-Redirect to a full page), and back where it was; the account page at 375 px.
Run: pytest tests/e2e/test_sessions_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_a_browser_signed_out_elsewhere_goes_to_sign_in_and_back(new_page, make_tenant, login):
    tenant = make_tenant()
    desk, phone = new_page(), new_page(375, 740)
    login(desk, tenant)
    login(phone, tenant)
    phone.goto(f"/{tenant.slug}/customers/")

    desk.locator(".topbar .menu summary").click()
    desk.get_by_role("link", name="Your account").click()
    sessions = desk.locator("li.session")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="This device")).to_have_count(1)
    desk.locator("li.session").filter(has_not_text="This device").get_by_role("button", name="Sign out").click()
    expect(desk.get_by_text("That session has been signed out.")).to_be_visible()
    expect(sessions).to_have_count(1)

    phone.locator(".mainnav").get_by_role("link", name="Customers").click()  # a boosted click: htmx asks
    expect(phone).to_have_url(re.compile(r"/login\?next="))
    expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    phone.get_by_label("Email").fill(f"admin@{tenant.slug}.example")
    phone.get_by_label("Password").fill("password-123")
    phone.get_by_role("button", name="Sign in").click()
    expect(phone).to_have_url(re.compile(rf"/{tenant.slug}/customers/$"))


def test_account_page_on_a_phone(new_page, make_tenant, login, shot):
    tenant = make_tenant()
    page = new_page(375, 740)
    login(new_page(), tenant)  # another browser, so the list has a row with its own button
    login(page, tenant)
    page.goto("/account")
    expect(page.locator("li.session")).to_have_count(2)
    expect(page.get_by_role("button", name="Sign out everywhere else")).to_be_visible()
    shot(page, "sessions-account-375px")
    assert page.evaluate(NO_OVERFLOW), "the account page is wider than a 375 px phone"


def test_back_after_sign_out_shows_no_signed_in_page(page, make_tenant, make_customer, login):
    """htmx keeps snapshots of pages for Back; after sign-out none may show: Back asks the server, which asks
    for sign-in."""
    tenant = make_tenant()
    make_customer(tenant, name="欧阳娜娜")
    login(page, tenant)
    page.goto(f"/{tenant.slug}/")
    page.locator(".mainnav").get_by_role("link", name="Customers").click()  # boosted: htmx snapshots the page
    expect(page.get_by_role("link", name="欧阳娜娜")).to_be_visible()
    htmx_idle(page)
    page.locator(".mainnav").get_by_role("link", name="Deals").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/deals/"))
    page.locator(".topbar .menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.evaluate("history.go(-2)")  # Back twice, to the customer list (htmx reloads it: Playwright's go_back
                                      # would see its own navigation aborted)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("欧阳娜娜")).to_have_count(0)
