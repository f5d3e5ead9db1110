"""The customer form's address on a phone: the province, city and district selects cascade through htmx (广东省 →
深圳市 → 南山区), the modal stays within 375 px, and the customer's page writes the address from the province
down; then the list's place filter finds the customer. Run: pytest tests/e2e -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_choosing_guangdong_shenzhen_nanshan_on_a_phone(new_page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("地址测试 Address Co")
    make_customer(tenant, name="杭州客户", country="CN", region="浙江省", city="杭州市")
    page = new_page(375, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/")
    htmx_idle(page)
    page.locator(".page-head a.primary").click()
    modal_shown(page, "New customer")
    modal = page.locator("dialog#modal")
    modal.get_by_label("Name", exact=True).fill("深圳南山客户")
    expect(modal.locator("#country")).to_have_value("CN")  # the workspace's country
    expect(modal.locator("#city option")).to_have_count(1)  # only "—" before a province is chosen

    modal.locator("#region").select_option("广东省")
    expect(modal.locator("#city option[value='深圳市']")).to_have_count(1)
    htmx_idle(page)
    modal.locator("#city").select_option("深圳市")
    expect(modal.locator("#district option[value='南山区']")).to_have_count(1)
    htmx_idle(page)
    modal.locator("#district").select_option("南山区")
    modal.get_by_label("Street address").fill("科技园路1号")
    expect(modal.locator("#region")).to_have_value("广东省")
    expect(modal.locator("#city")).to_have_value("深圳市")
    shot(page, "address-01-form-375px")
    assert page.evaluate(NO_OVERFLOW), "the customer form is wider than a 375 px phone"

    modal.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/customers/\d+$"))
    expect(page.locator("#customer-address")).to_contain_text("广东省 深圳市 南山区")
    expect(page.locator("#customer-address")).to_contain_text("科技园路1号")
    shot(page, "address-02-page-375px")
    assert page.evaluate(NO_OVERFLOW), "the customer's page is wider than a 375 px phone"

    # The list's place filter: a province offers its cities, and the list shows who is there.
    page.goto(f"/{tenant.slug}/customers/?country=CN")
    htmx_idle(page)
    page.locator("#filters details.filter-fold > summary").click()
    page.locator("#place-filter > summary").click()
    page.locator("#filter-region").select_option("广东省")
    expect(page.locator("#filter-city option[value='深圳市']")).to_have_count(1)
    htmx_idle(page)
    expect(page.locator("#results")).to_contain_text("深圳南山客户")
    expect(page.locator("#results")).not_to_contain_text("杭州客户")
    assert page.evaluate(NO_OVERFLOW), "the list with its place filter is wider than a 375 px phone"
