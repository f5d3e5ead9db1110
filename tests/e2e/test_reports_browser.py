"""Reports in a real browser: in Chinese on a phone (375 px, no sideways scroll) with its charts drawn as SVG, and
on a desktop where clicking a step of the sales funnel opens the deal list of the deals it counts.
Run: pytest tests/e2e/test_reports_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from tests.e2e.htmx import htmx_idle

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


@pytest.fixture
def sales(make_tenant, make_customer, in_tenant):
    """Three deals made today: one still in Lead, one moved on to Qualified, one to Proposal."""
    from crm.deals.deals import create_deal, move_deal_to_stage
    from crm.deals.models import Stage
    from crm.members.models import Member

    tenant = make_tenant("星辰贸易 Stellar")
    customer_id = make_customer(tenant, name="欧阳娜娜", level="A", source="展会")

    def make():
        viewer = db.session.get(Member, tenant.admin_member_id)
        stages = dict(db.session.execute(select(Stage.name_en, Stage.id)).all())
        for title, amount, moves in (("ERP 升级", "12500", []), ("CRM seats", "800", ["Qualified"]),
                                     ("云服务", "3000", ["Qualified", "Proposal"])):
            deal = create_deal(viewer, {"title": title, "customer_id": customer_id, "stage_id": stages["Lead"],
                                        "amount": amount})
            for stage in moves:
                move_deal_to_stage(viewer, deal, stages[stage])

    in_tenant(tenant, make)
    return tenant


def funnel_step(page, step: int, steps: int) -> tuple[float, float]:
    """The middle of a funnel step (the chart draws the steps top to bottom in equal bands)."""
    chart = page.locator("#report-sales_funnel .chart")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    band = (box["height"] - 16) / steps
    return box["x"] + box["width"] / 2, box["y"] + 8 + band * (step + 0.5)


def test_reports_in_chinese_on_a_phone(new_page, sales, login, shot):
    page = new_page(width=375, height=812)
    login(page, sales)
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto(f"/{sales.slug}/reports/")
    expect(page.get_by_role("heading", name="报表", level=1)).to_be_visible()
    new = page.locator("#report-customers_new")
    expect(new.get_by_role("heading", name="新增客户")).to_be_visible()
    expect(new.locator(".chart svg")).to_be_visible()
    expect(new.locator("table")).to_contain_text("全部客户")
    page.get_by_role("link", name="销售").click()
    funnel = page.locator("#report-sales_funnel")
    expect(funnel.locator(".chart svg")).to_be_visible()
    expect(funnel.locator(".chart svg")).to_contain_text("线索")
    expect(funnel.get_by_role("button", name="下载图表图片")).to_be_visible()
    htmx_idle(page)
    assert page.evaluate(NO_OVERFLOW), "the reports are wider than the phone"
    shot(page, "reports-zh-phone")


def test_clicking_a_funnel_step_opens_the_deals_it_counts(page, sales, login, shot):
    login(page, sales)
    page.goto(f"/{sales.slug}/reports/?pack=sales")
    funnel = page.locator("#report-sales_funnel")
    expect(funnel.locator(".chart svg")).to_be_visible()
    expect(funnel.locator("tbody tr").nth(1)).to_contain_text("Qualified")
    expect(funnel.locator("tbody tr").nth(1).locator("td").first).to_have_text("2")
    assert page.evaluate(NO_OVERFLOW)
    shot(page, "reports-desktop")
    with page.expect_download() as saved:
        funnel.get_by_role("button", name="Download chart image").click()
    assert saved.value.suggested_filename == "sales_funnel.png"
    with page.expect_download() as exported:
        funnel.get_by_role("link", name="XLSX").click()
    assert exported.value.suggested_filename.endswith(".xlsx")
    x, y = funnel_step(page, 1, 5)  # Lead, Qualified, Proposal, Negotiation, Won
    page.mouse.click(x, y)
    expect(page).to_have_url(re.compile(r"/deals/list\?.*reached="))
    rows = page.locator("tr[id^=deal-]")
    expect(rows).to_have_count(2)
    expect(page.locator("#results")).to_contain_text("CRM seats")
    expect(page.locator("#results")).to_contain_text("云服务")
