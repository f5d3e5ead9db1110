"""The home page's key numbers on a phone: the cards wrap two to a row without widening the page, in Chinese too,
and a card leads to its list."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_key_numbers_wrap_on_a_phone_and_lead_to_their_lists(new_page, make_tenant, make_deal, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    make_deal(tenant, stage="Negotiation", amount="123456789.00")
    page = new_page(375, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/")
    cards = page.locator("section.kpis .stat")
    expect(cards).to_have_count(6)
    expect(cards.nth(2)).to_contain_text("¥92,592,591.75")  # 75 % of the deal
    first, second, third = (cards.nth(i).bounding_box() for i in range(3))
    assert first["y"] == second["y"] and third["y"] > first["y"], "the cards do not wrap two to a row"
    shot(page, "workbench-375px")
    assert page.evaluate(NO_OVERFLOW), "the home page is wider than a 375 px phone"

    page.get_by_role("button", name="中文").click()
    expect(page.locator("section.kpis")).to_contain_text("加权在途商机")
    assert page.evaluate(NO_OVERFLOW), "the Chinese home page is wider than a 375 px phone"
    page.locator("section.kpis .stat", has_text="加权在途商机").click()
    expect(page).to_have_url(f"{page.url.split('/' + tenant.slug)[0]}/{tenant.slug}/deals/list?status=open")
