"""The Revenue and Team packs in a real browser: in Chinese on a phone (375 px, no sideways scroll, charts drawn),
and on a desktop where a segment's count in the RFM report lists the customers of that segment.
Run: pytest tests/e2e/test_revenue_browser.py -q -p no:randomly"""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from crm.extensions import db, utcnow
from tests.e2e.htmx import htmx_idle

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


@pytest.fixture
def buyers(make_tenant, make_customer, in_tenant):
    """Five customers with one order each today, the later the bigger: the last two are Champions, the middle one
    Loyal, the first two Lost."""
    from crm.orders.models import Order
    from crm.settings import workspace_currency

    tenant = make_tenant("星辰贸易 Stellar")
    ids = [make_customer(tenant, name=f"客户 {n}") for n in range(1, 6)]

    def make():
        for n, customer_id in enumerate(ids, start=1):
            db.session.add(Order(customer_id=customer_id, owner_id=tenant.admin_member_id, status="completed",
                                 currency=workspace_currency(), subtotal=Decimal(n * 100), total=Decimal(n * 100),
                                 created_at=utcnow() - timedelta(hours=6 - n)))

    in_tenant(tenant, make)
    return tenant


def test_revenue_and_team_in_chinese_on_a_phone(new_page, buyers, login, shot):
    page = new_page(width=375, height=812)
    login(page, buyers)
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto(f"/{buyers.slug}/reports/?pack=revenue")
    amount = page.locator("#report-revenue_amount")
    expect(amount.get_by_role("heading", name="订单收入")).to_be_visible()
    expect(amount.locator(".chart svg")).to_be_visible()
    rfm = page.locator("#report-revenue_rfm")
    rfm.scroll_into_view_if_needed()
    expect(rfm.locator("table")).to_contain_text("冠军客户")
    htmx_idle(page)
    assert page.evaluate(NO_OVERFLOW), "the revenue reports are wider than the phone"
    shot(page, "reports-revenue-zh-phone")
    page.get_by_role("link", name="团队").click()
    board = page.locator("#report-team_leaderboard")
    expect(board.locator("table")).to_contain_text("订单收入")
    htmx_idle(page)
    assert page.evaluate(NO_OVERFLOW), "the team reports are wider than the phone"


def test_a_segment_count_lists_its_customers(page, buyers, login, shot):
    login(page, buyers)
    page.goto(f"/{buyers.slug}/reports/?pack=revenue")
    rfm = page.locator("#report-revenue_rfm")
    rfm.scroll_into_view_if_needed()
    champions = rfm.locator("tbody tr", has_text="Champions")
    expect(champions.locator("td").first).to_have_text("2")
    champions.locator("td").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"by=champions"))
    listed = page.locator("#report-revenue_rfm_customers")
    listed.scroll_into_view_if_needed()
    expect(listed.locator("tbody tr")).to_have_count(2)
    expect(listed.locator("tbody")).to_contain_text("客户 5")
    expect(listed.locator("tbody")).to_contain_text("客户 4")
    expect(listed.locator("select[name=by]")).to_have_value("champions")
    shot(page, "reports-rfm-segment")
