"""Saved views in a real browser, on a desktop and at 375 px (where the tabs fold behind a "Views" button in the
filter row): filter the customer list, save it as a view, see its tab, go back to all customers and open the view
again from its tab, without the page scrolling sideways.
Run: pytest tests/e2e/test_saved_views_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e

WIDTH = "Math.max(document.documentElement.scrollWidth, window.innerWidth)"


def show_views(page, width: int) -> None:
    """On a phone, open the "Views" fold (wider screens show the tabs above the list)."""
    if width < 720:
        page.locator(".views-fold > summary").click()


@pytest.mark.parametrize("width", [1280, 375])
def test_save_the_filtered_customer_list_as_a_view_and_open_it_from_its_tab(new_page, make_tenant, make_customer,
                                                                            login, shot, width):
    tenant = make_tenant("晨光贸易 Dawn")
    make_customer(tenant, name="李雷 Lead", stage="lead")
    make_customer(tenant, name="韩梅梅 Customer", stage="customer")
    page = new_page(width=width, height=800)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/")
    rows = page.locator("#rows")
    expect(rows).to_contain_text("韩梅梅 Customer")
    if width < 720:  # a phone folds the filters behind one button
        page.locator(".filter-fold > summary").click()
    with page.expect_response(lambda r: "/customers/?" in r.url and r.status == 200):
        page.get_by_label("Lifecycle stage").select_option("lead")
    htmx_idle(page)
    expect(rows).not_to_contain_text("韩梅梅 Customer")

    show_views(page, width)
    page.get_by_role("link", name="Save view").click()
    modal_shown(page, "Save this view")
    page.locator("dialog#modal").get_by_label("Name").fill("My leads")
    page.locator("dialog#modal").get_by_role("button", name="Save").click()
    show_views(page, width)
    tabs = page.get_by_role("navigation", name="Saved views")
    tab = tabs.get_by_role("link", name="My leads")
    expect(tab).to_have_attribute("aria-current", "page")
    expect(page.locator("#flashes")).to_contain_text("View My leads saved.")
    expect(rows).to_contain_text("李雷 Lead")
    expect(rows).not_to_contain_text("韩梅梅 Customer")
    assert page.evaluate(WIDTH) <= width, "the page scrolls sideways"
    shot(page, f"saved-view-{width}")

    tabs.get_by_role("link", name="All").click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    expect(rows).to_contain_text("韩梅梅 Customer")
    show_views(page, width)
    expect(tabs.get_by_role("link", name="All")).to_have_attribute("aria-current", "page")
    tab.click()
    # The view keeps the columns too: a new workspace has custom fields (its two classifications) to pick from.
    expect(page).to_have_url(re.compile(r"/customers/\?stage=lead(&columns_set=1)?&saved=\d+$"))
    show_views(page, width)
    expect(tab).to_have_attribute("aria-current", "page")
    expect(rows).not_to_contain_text("韩梅梅 Customer")
    assert page.evaluate(WIDTH) <= width
