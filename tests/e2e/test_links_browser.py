"""Links in messages lead back to the app where it is really served: the app runs on a free port (never 5000),
a reminder email arrives over real SMTP, and its link, opened in a signed-out browser, lands on My day after
sign-in; the inbox shows the same reminder as a card whose link is clickable.
Run: pytest tests/e2e/test_links_browser.py -q -p no:randomly"""
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD
from tests.notify.test_outbox import plan

pytestmark = pytest.mark.e2e


def mailed_link(smtp, to: str, subject: str) -> str:
    mail = next(m for m in smtp.messages if m["To"] == to and m["Subject"] == subject)
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    return re.search(r"https?://\S+", text)[0]


def test_a_reminder_link_opens_the_app_on_its_own_port(new_page, live_server, make_tenant, make_customer, client_as,
                                                       run_worker, smtp_on, shot):
    tenant = make_tenant()
    customer = make_customer(tenant, name="Qian Duo")
    plan(client_as(tenant.admin_account_id), tenant.slug, customer, datetime.now(UTC) + timedelta(minutes=10),
         summary="Confirm the delivery date")
    run_worker()

    link = mailed_link(smtp_on, f"admin@{tenant.slug}.example", "Reminder: Call Qian Duo")
    assert not live_server.endswith(":5000")
    assert link == f"{live_server}/{tenant.slug}/activities/"
    page = new_page()
    page.goto(link)  # as from the mail program: a browser not signed in yet
    page.get_by_label("Email").fill(f"admin@{tenant.slug}.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(link)
    expect(page.get_by_text("Confirm the delivery date")).to_be_visible()

    page.locator("#bell").click()
    card = page.locator("article.message").filter(has_text="Reminder: Call Qian Duo")
    expect(card.get_by_role("heading", name="Reminder: Call Qian Duo")).to_be_visible()
    expect(card.locator("time")).to_be_visible()
    expect(card.locator(".message-body p").first).to_contain_text("Qian Duo")
    shot(page, "inbox-card")
    card.get_by_role("link", name=link).click()
    expect(page).to_have_url(link)
    expect(page.get_by_text("Confirm the delivery date")).to_be_visible()


def test_the_profile_page_on_a_phone(new_page, live_server, make_tenant, login, shot):
    """Name and mobile saved; a wrong current password is refused in place; the right one comes back here."""
    tenant = make_tenant()
    page = new_page(375, 740)
    login(page, tenant)
    page.locator(".topbar .menu summary").click()
    page.get_by_role("link", name="Your profile").click()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Mobile number").fill("138 0013 8000")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_label("Mobile number")).to_have_value("+86 138 0013 8000")
    expect(page.locator(".topbar .menu summary")).to_have_text("Ada Lovelace")

    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password").fill("a-new-password-1")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("This is not your current password.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/profile$"))
    shot(page, "profile-375px")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "wider than a phone"
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("a-new-password-1")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/profile$"))
