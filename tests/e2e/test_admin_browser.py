"""An admin adds custom fields in Settings > Fields; a sales rep then uses them: own customers only, a select
shown in the list and filterable, a sensitive value entered but only ever shown masked, which the admin can
reveal. Run: pytest tests/e2e -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e

PASSWORD = "password-123"  # make_tenant's admin and add_member's members alike
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def sign_in(page, tenant, email: str):
    """Sign in through the /login form; a one-workspace account lands on that workspace's home."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/{re.escape(tenant.slug)}/$"))
    expect(page.locator(".topbar .brand")).to_contain_text(tenant.name)


def sign_out(page, name: str):
    """Through the account menu in the top bar."""
    menu = page.locator(".topbar details.menu")
    menu.locator("summary", has_text=name).click()
    menu.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def add_field(page, tenant, label: str, type_label: str, *, label_zh: str = "", options: str = "",
              checks: tuple[str, ...] = ()):
    page.goto(f"/{tenant.slug}/settings/fields/")
    page.get_by_role("link", name="+ Add field").click()
    expect(page.get_by_role("heading", name="Add field")).to_be_visible()
    page.get_by_label("Label (English)").fill(label)
    if label_zh:
        page.get_by_label("Label (Chinese)").fill(label_zh)
    page.get_by_label("Type").select_option(label=type_label)
    if options:
        page.get_by_label("New options, one per line: English | Chinese").fill(options)
    for check in checks:
        page.get_by_label(check).check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/{re.escape(tenant.slug)}/settings/fields/$"))
    expect(page.locator("#flashes")).to_contain_text(f"Field {label} added.")


def test_admin_defines_fields_a_rep_uses_them_sensitive_stays_masked(
        new_page, app, make_tenant, add_member, make_customer, login, shot):
    from crm.accounts.models import Account
    from crm.extensions import db

    tenant = make_tenant()
    rep_account, _rep_member = add_member(tenant, role="sales_rep", name="Rita Rep")
    with app.app_context():
        rep_email = db.session.get(Account, rep_account).email
    admin_only = make_customer(tenant, name="Admin Only Customer")
    page = new_page()

    # The admin adds a filterable list column "Tier" and a sensitive text field "Passport".
    login(page, tenant)
    add_field(page, tenant, "Tier", "Single select", label_zh="等级", options="Gold | 金牌\nSilver | 银牌",
              checks=("Filterable", "Shown in the customer list"))
    fields = page.locator("table.table").first
    tier_row = fields.locator("tr", has_text="Tier")
    expect(tier_row).to_contain_text("Single select")
    expect(tier_row).to_contain_text("In list")
    expect(tier_row).to_contain_text("Filterable")
    add_field(page, tenant, "Passport", "Text", checks=("Sensitive (stored encrypted, shown masked)",))
    passport_row = fields.locator("tr", has_text="Passport")
    expect(passport_row).to_contain_text("Sensitive")
    expect(tier_row).to_be_visible()
    shot(page, "admin-01-fields")

    sign_out(page, "Ada Admin")
    sign_in(page, tenant, rep_email)

    # The rep sees only their own customers: none yet.
    page.locator(".mainnav").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(page.locator("#count")).to_contain_text("0 customers")
    expect(page.get_by_text("Admin Only Customer")).to_have_count(0)
    expect(page.locator(f"#customer-{admin_only}")).to_have_count(0)

    # A new customer with a Tier and a Passport number: the rep may enter it but not see it again.
    page.get_by_role("link", name="+ New customer").click()
    modal = page.locator("dialog#modal")
    modal_shown(page, "New customer")
    modal.get_by_label("Name", exact=True).fill("Rep Customer 陈")
    modal.get_by_label("Tier").select_option(label="Gold")
    modal.get_by_label("Passport").fill("E12345678")
    modal.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/{re.escape(tenant.slug)}/customers/\d+$"))
    expect(modal).to_be_hidden()
    customer_url = page.url
    expect(page.locator("h1.customer-name")).to_contain_text("Rep Customer 陈")
    details = page.locator(".kv-list")
    expect(details.locator(".kv.custom", has_text="Tier").locator("dd")).to_have_text("Gold")
    passport = page.locator("#sensitive-custom_passport")
    expect(passport.locator(".masked")).to_have_text("**** 5678")
    expect(passport.get_by_role("button", name="Reveal")).to_have_count(0)
    expect(page.get_by_role("button", name="Reveal")).to_have_count(0)
    assert "E12345678" not in page.content()
    shot(page, "admin-02-rep-customer-masked")

    # The list shows the Tier column; More filters narrows by it.
    page.locator(".crumbs").get_by_role("link", name="Customers").click()
    row = page.locator("#rows tr", has_text="Rep Customer 陈")
    expect(row).to_be_visible()
    expect(page.locator("#count")).to_contain_text("1 customer")
    tier_column = page.locator("table.customers thead th").filter(has_text=re.compile(r"^Tier$"))
    expect(tier_column).to_have_count(1)
    column = [t.strip() for t in page.locator("table.customers thead th").all_text_contents()].index("Tier")
    expect(row.locator("td").nth(column)).to_have_text("Gold")

    more = page.locator("details.tag-filter", has=page.locator("summary", has_text="More filters"))
    more.locator("summary").click()
    silver, gold = more.get_by_label("Silver"), more.get_by_label("Gold")
    with page.expect_response(lambda r: "/customers/" in r.url and "cf_tier=" in r.url):
        silver.check()
    htmx_idle(page)
    expect(page.locator("#results")).to_contain_text("No customers match.")
    expect(row).to_have_count(0)
    expect(page).to_have_url(re.compile(r"[?&]cf_tier="))
    shot(page, "admin-03-filter-silver")

    with page.expect_response(lambda r: "/customers/" in r.url and "cf_tier=" not in r.url):
        silver.uncheck()
    htmx_idle(page)
    with page.expect_response(lambda r: "/customers/" in r.url and "cf_tier=" in r.url):
        gold.check()
    htmx_idle(page)
    expect(row).to_be_visible()
    expect(page.locator("#count")).to_contain_text("1 customer")
    expect(page.locator("#results")).not_to_contain_text("No customers match.")
    shot(page, "admin-04-filter-gold")

    # At phone width the list and the customer page still fit.
    phone = new_page(375, 740)
    sign_in(phone, tenant, rep_email)
    phone.goto(f"/{tenant.slug}/customers/")
    expect(phone.locator("#rows tr", has_text="Rep Customer 陈")).to_be_visible()
    shot(phone, "admin-05-rep-customers-375px")
    assert phone.evaluate(NO_OVERFLOW), "customer list with custom fields is wider than a 375 px phone"
    phone.goto(customer_url)
    expect(phone.locator("#sensitive-custom_passport .masked")).to_have_text("**** 5678")
    shot(phone, "admin-06-rep-customer-375px")
    assert phone.evaluate(NO_OVERFLOW), "customer page with custom fields is wider than a 375 px phone"

    # The admin may reveal it.
    sign_out(page, "Rita Rep")
    login(page, tenant)
    page.goto(customer_url)
    passport = page.locator("#sensitive-custom_passport")
    expect(passport.locator(".masked")).to_have_text("**** 5678")
    assert "E12345678" not in page.content()
    with page.expect_response(lambda r: r.request.method == "POST" and "/reveal" in r.url) as answer:
        passport.get_by_role("button", name="Reveal").click()
    assert answer.value.status == 200
    expect(page.locator("#sensitive-custom_passport .revealed")).to_have_text("E12345678")
    expect(page.get_by_role("button", name="Reveal")).to_have_count(0)
    shot(page, "admin-07-admin-revealed")
