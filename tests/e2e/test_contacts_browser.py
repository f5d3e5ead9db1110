"""Contacts on a phone: add two people to a company on its page (the modal form, the first one primary), then open a
ticket from the Tickets page, find the company with the chooser, and pick who asked among its contacts, whose list
follows the customer chosen. Run: pytest tests/e2e/test_contacts_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def add_contact(page, name: str, title: str, mobile: str) -> None:
    page.locator("#customer-contacts").get_by_role("link", name="+ New contact").click()
    modal_shown(page, "New contact at 星辰科技")
    modal = page.locator("dialog#modal")
    modal.get_by_label("Name").fill(name)
    modal.get_by_label("Title").fill(title)
    modal.get_by_label("Mobile").fill(mobile)
    modal.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Contact {name} added.")).to_be_visible()


def test_add_contacts_then_pick_one_on_a_new_ticket_on_a_phone(new_page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("联系人测试 Contacts Co")
    company = make_customer(tenant, name="星辰科技", kind="company")
    make_customer(tenant, name="Other Co")
    page = new_page(375, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/{company}")
    add_contact(page, "王芳", "采购经理", "139 1234 5678")
    add_contact(page, "李娜", "CTO", "13900000002")
    card = page.locator("#customer-contacts")
    expect(card.locator(".contact-row")).to_have_count(2)
    expect(card.locator(".contact-row").first).to_contain_text("Primary")
    expect(card.locator(".contact-row").first).to_contain_text("王芳")
    expect(card.get_by_role("link", name=re.compile("139 1234 5678"))).to_have_attribute("href", "tel:+8613912345678")
    shot(page, "contacts-01-customer-page-375px")
    assert page.evaluate(NO_OVERFLOW), "the customer page is wider than a 375 px phone"

    page.goto(f"/{tenant.slug}/tickets/")
    page.locator(".page-head").get_by_role("link", name=re.compile("New ticket")).click()
    modal_shown(page, "New ticket")
    contact = page.locator("select#contact_id")
    expect(contact.locator("option")).to_have_count(1)  # no customer yet: nobody to pick
    page.locator("#customer_q").fill("星辰")
    expect(page.locator("select#customer_id option", has_text="星辰科技")).to_have_count(1)
    htmx_idle(page)
    page.locator("select#customer_id").select_option(str(company))
    expect(contact.locator("option", has_text="李娜")).to_have_count(1)
    contact.select_option(label="李娜 · CTO")
    page.locator("dialog#modal").get_by_label("Subject").fill("Printer jams")
    shot(page, "contacts-02-ticket-form-375px")
    page.locator("dialog#modal").get_by_role("button", name="Open ticket").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/tickets/\d+$"))
    expect(page.locator(".record-contact")).to_contain_text("李娜")
    assert page.evaluate(NO_OVERFLOW), "the ticket page is wider than a 375 px phone"
