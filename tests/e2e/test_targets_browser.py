"""Sales targets in a browser: a member's targets edited in place on a phone (a refused amount, then a saved one),
the row's progress bars, the home page's "This month" card, and the page in Chinese on a desktop."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_targets_are_edited_in_place_on_a_phone_and_shown_at_home(new_page, make_tenant, add_member, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    add_member(tenant, "sales_rep", "Rui Rep")
    page = new_page(375, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/targets/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Targets")
    page.get_by_role("link", name="Edit the targets of Rui Rep").click()
    amount = page.get_by_label("Won deal amount · Rui Rep")
    expect(amount).to_be_visible()
    htmx_idle(page)
    amount.fill("12.345")
    page.get_by_label("Follow-ups done · Rui Rep").fill("20")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/targets/")) as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 422
    expect(page.locator(".targets .error").first).to_contain_text("at most two decimals")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Follow-ups done · Rui Rep")).to_have_value("20")
    assert page.evaluate(NO_OVERFLOW), "the targets form is wider than a 375 px phone"

    amount.fill("5000")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/targets/")) as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 200
    row = page.locator("tr", has_text="Rui Rep")
    expect(row).to_contain_text("¥5,000.00")
    expect(row.get_by_role("progressbar", name=re.compile("Won deal amount of Rui Rep"))).to_be_visible()
    shot(page, "targets-375px")
    assert page.evaluate(NO_OVERFLOW), "the targets page is wider than a 375 px phone"
    page.reload()
    expect(page.locator("tr", has_text="Rui Rep")).to_contain_text("¥5,000.00")

    page.goto(f"/{tenant.slug}/")
    card = page.locator("section.this-month")
    expect(card.get_by_role("heading", name="This month")).to_be_visible()
    expect(card).to_contain_text("No target")  # the admin's own month: nobody set theirs
    shot(page, "targets-home-375px")
    assert page.evaluate(NO_OVERFLOW), "the home page is wider than a 375 px phone"


def test_the_targets_page_in_chinese_on_a_desktop(page, make_tenant, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    login(page, tenant)
    page.get_by_role("button", name="中文").click()
    page.locator(".mainnav summary", has_text="更多").click()
    page.locator(".mainnav").get_by_role("link", name="目标").click()
    expect(page).to_have_url(re.compile(r"/targets/"))
    page.goto(f"/{tenant.slug}/targets/?month=2026-03")
    expect(page.get_by_role("heading", level=1)).to_have_text("目标 · 2026年3月")
    expect(page.get_by_role("columnheader", name="赢单金额")).to_be_visible()
    page.get_by_role("link", name="下个月").click()
    expect(page).to_have_url(re.compile(r"month=2026-04"))
    expect(page.get_by_role("heading", level=1)).to_have_text("目标 · 2026年4月")
    shot(page, "targets-zh")
