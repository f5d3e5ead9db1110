"""The shared customer chooser and the customer form's duplicate warning in a real browser: every search
refines the list (not only the first), the keyboard picks, and the warning follows both phone and email.
Run: pytest tests/e2e/test_chooser_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import modal_shown

pytestmark = pytest.mark.e2e

LILEI = "李雷 · +86 139 1234 5678"


@pytest.fixture
def tenant(make_tenant, make_customer):
    """A workspace with three customers to choose from."""
    tenant = make_tenant("星辰贸易 Stellar")
    make_customer(tenant, name="欧阳娜娜", company="星辰科技")
    make_customer(tenant, name="李雷", phone="13912345678", email="lilei@example.com")
    make_customer(tenant, name="韩梅梅")
    return tenant


def search(page, scope, text: str) -> None:
    with page.expect_response(lambda r: "/customers/choices" in r.url and r.status == 200):
        scope.get_by_role("searchbox", name="Customer").fill(text)


def choose_lilei_after_two_searches(page, scope) -> None:
    """Search once, then again for someone else: the list follows the second search; the keys pick."""
    found = scope.get_by_role("listbox", name="Customers found")
    search(page, scope, "欧阳")
    expect(found.locator("option")).to_have_text(["欧阳娜娜 · 星辰科技"])
    search(page, scope, "李")
    expect(found.locator("option")).to_have_text([LILEI])
    scope.get_by_role("searchbox", name="Customer").press("Enter")
    expect(found).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(found.locator("option:checked")).to_have_text(LILEI)


def test_the_deal_form_chooser_refines_on_every_search(page, tenant, login):
    login(page, tenant)
    page.goto(f"/{tenant.slug}/deals/")
    page.get_by_role("link", name="+ New deal").click()
    modal = page.locator("dialog#modal")
    modal_shown(page, "New deal")
    modal.get_by_label("Title").fill("Tea for the office")
    choose_lilei_after_two_searches(page, modal)
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()

    page.get_by_role("link", name="Tea for the office").click()
    expect(page.locator(".kv", has_text="Customer")).to_contain_text("李雷")


def test_the_order_form_chooser_refines_on_every_search(page, tenant, login):
    login(page, tenant)
    page.goto(f"/{tenant.slug}/orders/new")
    choose_lilei_after_two_searches(page, page)
    line = page.locator(".order-line").nth(0)
    line.get_by_label("Description").fill("Green tea")
    line.get_by_label("Quantity").fill("2")
    line.get_by_label("Unit price").fill("10")
    page.get_by_role("button", name="Place order").click()

    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/orders/\d+$"))
    expect(page.locator(".kv", has_text="Customer")).to_contain_text("李雷")


def test_the_duplicate_warning_follows_the_phone_and_then_the_email(page, tenant, make_customer, login):
    make_customer(tenant, name="王芳", phone="13900001234")
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/")
    page.get_by_role("link", name="+ New customer").click()
    modal = page.locator("dialog#modal")
    warning = modal.locator("#duplicates")
    modal.get_by_label("Name").fill("New person")

    def change(label: str, value: str) -> None:
        with page.expect_response(lambda r: "/customers/duplicates" in r.url):
            modal.get_by_label(label, exact=True).fill(value)
            modal.get_by_label(label, exact=True).press("Tab")

    change("Phone", "138 0000 0000")  # nobody has it
    expect(warning).to_be_empty()
    change("Phone", "139 0000 1234")
    expect(warning).to_contain_text("Possible duplicate")
    expect(warning.get_by_role("link")).to_have_text(["王芳"])
    change("Email", "LiLei@example.com")
    expect(warning.get_by_role("link")).to_have_count(2)
    expect(warning.get_by_role("link", name="王芳")).to_be_visible()
    expect(warning.get_by_role("link", name="李雷")).to_be_visible()
