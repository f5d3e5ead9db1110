"""The top bar's search in a real browser: "/" puts the cursor in it, typing a Chinese name lists the customer,
the arrow keys choose and Enter opens it; Ctrl-K and Escape; at 375 px the box works without the page scrolling
sideways. Run: pytest tests/e2e/test_search_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, switch_language

pytestmark = pytest.mark.e2e

WIDTH = "Math.max(document.documentElement.scrollWidth, window.innerWidth)"


@pytest.fixture
def tenant(make_tenant, make_customer, make_order):
    """A workspace with two customers whose names share a character, and an order."""
    tenant = make_tenant("星辰贸易 Stellar")
    make_customer(tenant, name="欧阳娜娜", company="星辰科技", phone="13912345678")
    lilei = make_customer(tenant, name="李娜", email="li.na@example.com")
    tenant.order_id = make_order(tenant, lilei)
    return tenant


def type_search(page, text: str) -> None:
    with page.expect_response(lambda r: "/search/" in r.url and r.status == 200):
        page.keyboard.type(text)
    htmx_idle(page)


def test_slash_then_a_chinese_name_then_the_arrow_keys_and_enter_open_the_customer(page, tenant, login, shot):
    login(page, tenant)
    page.goto(f"/{tenant.slug}/deals/")
    box = page.get_by_role("searchbox", name="Search everything")
    page.locator("body").press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "/" itself is not typed
    type_search(page, "娜")
    results = page.locator("#topsearch-results")
    expect(results).to_be_visible()
    expect(results.get_by_role("heading", name="Customers")).to_be_visible()
    expect(results.get_by_role("link")).to_have_count(2)
    shot(page, "search-dropdown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    second = results.get_by_role("link").nth(1)
    expect(second).to_be_focused()
    page.keyboard.press("ArrowUp")
    first = results.get_by_role("link").first
    expect(first).to_be_focused()
    name = first.locator(".strong").inner_text()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/customers/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    expect(page.locator("#topsearch-results")).to_be_hidden()


def test_ctrl_k_finds_an_order_by_number_escape_closes_and_enter_opens_the_full_page(page, tenant, login):
    login(page, tenant)
    page.keyboard.press("Control+k")
    box = page.get_by_role("searchbox", name="Search everything")
    expect(box).to_be_focused()
    type_search(page, str(tenant.order_id))
    results = page.locator("#topsearch-results")
    expect(results.get_by_role("link", name=re.compile(f"SO-{tenant.order_id:06d}"))).to_be_visible()
    page.keyboard.press("Escape")
    expect(results).to_be_hidden()
    expect(box).to_be_focused()
    box.fill("李娜")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/\?q="))
    expect(page.locator(".search-page")).to_contain_text("li.na@example.com")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_on_a_phone_the_box_works_without_sideways_scrolling(new_page, tenant, login, language, shot):
    page = new_page(width=375, height=740)
    login(page, tenant)
    if language == "zh":
        switch_language(page, "中文", "zh-CN")
        expect(page.locator(".mainnav")).to_contain_text("客户")
    box = page.get_by_role("searchbox", name={"en": "Search everything", "zh": "搜索全部"}[language])
    box.click()
    type_search(page, "欧阳")
    link = page.locator("#topsearch-results").get_by_role("link", name=re.compile("欧阳娜娜"))
    expect(link).to_be_visible()
    box_left, box_right = (lambda b: (b["x"], b["x"] + b["width"]))(link.bounding_box())
    assert box_left >= 0 and box_right <= 375, "the dropdown leaves the screen"
    assert page.evaluate(WIDTH) <= 375, "the page scrolls sideways"
    shot(page, f"search-phone-{language}")
    link.click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/customers/\d+$"))
    assert page.evaluate(WIDTH) <= 375
