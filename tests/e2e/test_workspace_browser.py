"""A company outside China in a real browser: a London agency signs up (its browser says en-US but lives in
Europe/London) and works in London time, pounds and UK numbers; a US company set up on Settings > Workspace keeps
US numbers and shows its logo. Run: pytest tests/e2e -q -p no:randomly"""
import io
import re
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import TenantInfo
from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e


def new_customer(page, slug: str, name: str, phone: str) -> None:
    page.goto(f"/{slug}/customers/")
    page.get_by_role("link", name="+ New customer").click()
    modal_shown(page, "New customer")
    modal = page.locator("dialog#modal")
    modal.get_by_label("Name").fill(name)
    modal.get_by_label("Phone").fill(phone)
    modal.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/{slug}/customers/\d+$"))


def signed_up(app, slug: str) -> TenantInfo:
    from crm.extensions import db
    from crm.members.models import Member
    from tenants.binding import tenant_bound
    from tenants.models import Tenant

    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        info = TenantInfo(tenant.id, tenant.slug, tenant.name, 0, 0)
        with tenant_bound(info.ref):
            admin = db.session.scalars(select(Member)).one()
            info.admin_account_id, info.admin_member_id = admin.account_id, admin.id
    return info


def test_a_london_agency_works_in_london_time_pounds_and_uk_numbers(app, new_page, make_deal, in_tenant, shot):
    page = new_page(locale="en-US", timezone_id="Europe/London")
    slug = f"fog-{uuid.uuid4().hex[:8]}"
    page.goto("/signup")
    # The browser's languages say US; its time zone says London, and the country and currency follow it.
    expect(page.get_by_label("Time zone")).to_have_value("Europe/London")
    expect(page.get_by_label("Country (for phone numbers)")).to_have_value("GB")
    expect(page.get_by_label("Currency")).to_have_value("GBP")
    expect(page.get_by_label("Default language")).to_have_value("en")
    htmx_idle(page)
    with page.expect_response(lambda r: "/signup/slug" in r.url and "company=" in r.url):
        page.get_by_label("Company name").fill("Fog & Brick")
    htmx_idle(page)
    with page.expect_response(lambda r: "/signup/slug" in r.url and f"slug={slug}" in r.url):
        page.locator("#slug").fill(slug)
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Work email").fill(f"ada@{slug}.example")
    page.get_by_label("Password").fill("a-long-password")
    shot(page, "workspace-01-signup-london")
    page.get_by_role("button", name="Create workspace").click()
    expect(page).to_have_url(re.compile(rf"/{slug}/$"))

    new_customer(page, slug, "Alice Brown", "020 7946 0958")
    expect(page.locator("#field-phone")).to_contain_text("+44 20 7946 0958")

    page.get_by_role("link", name="Plan", exact=True).click()
    modal_shown(page, "Plan a follow-up")
    page.get_by_label("When").fill("2031-07-01T14:30")
    page.get_by_label("What").fill("Call back about the shop front")
    page.locator("dialog#modal").get_by_role("button", name="Save").click()
    expect(page.locator("#follow-ups .follow-up-due")).to_have_text(re.compile(r"2:30\s?PM"))
    tenant = signed_up(app, slug)

    def due_times():
        from crm.extensions import db
        from crm.followups.models import Activity

        return list(db.session.scalars(select(Activity.due_at)))

    assert in_tenant(tenant, due_times) == [datetime(2031, 7, 1, 13, 30, tzinfo=UTC)]  # 14:30 British Summer Time

    page.goto(f"/{slug}/deals/new")
    expect(page.get_by_label("Currency")).to_have_value("GBP")
    deal_id = make_deal(tenant, amount="1200")
    page.goto(f"/{slug}/deals/{deal_id}")
    expect(page.locator(".deal-amount")).to_have_text("£1,200.00")
    shot(page, "workspace-02-london-deal")


def test_a_us_company_set_up_on_the_workspace_tab_keeps_us_numbers_and_its_logo(page, make_tenant, login, shot):
    from PIL import Image

    tenant = make_tenant("Bay Tools 湾区工具")
    login(page, tenant)
    page.locator(".mainnav").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Workspace", exact=True)).to_be_visible()
    expect(page.locator(".topbar .brand .logo")).to_have_text("◆")
    page.get_by_label("Company name").fill("Bay Tools Inc.")
    page.get_by_label("Country (for phone numbers)").select_option("US")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Time zone").select_option("America/Los_Angeles")
    page.get_by_label("Default language").select_option("en")
    logo = io.BytesIO()
    Image.new("RGB", (400, 200), (20, 90, 200)).save(logo, "PNG")
    page.get_by_label("Logo").set_input_files({"name": "logo.png", "mimeType": "image/png", "buffer": logo.getvalue()})
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#flashes")).to_contain_text("Workspace settings saved.")
    expect(page.locator(".topbar .brand")).to_contain_text("Bay Tools Inc.")
    brand_logo = page.locator(".topbar .brand img.logo")
    expect(brand_logo).to_be_visible()
    assert brand_logo.evaluate("img => img.naturalWidth") == 256
    shot(page, "workspace-03-us-settings")

    new_customer(page, tenant.slug, "Pat Smith", "(415) 555-0142")
    expect(page.locator("#field-phone")).to_contain_text("+1 415-555-0142")
