"""What a user sees in a real browser: sign-up, the customer modal, active search, inline edits,
tags, the language switch and the phone-width layout. Run: pytest tests/e2e -q -p no:randomly"""
import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e


def test_sign_up_a_company_lands_in_its_new_workspace(page, shot):
    company, slug = "星辰贸易 Stellar", f"stellar-{uuid.uuid4().hex[:8]}"
    page.goto("/signup")
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()

    # Typing the company name asks for a suggested address; let that swap land before typing our own.
    with page.expect_response(lambda r: "/signup/slug" in r.url and "company=" in r.url):
        page.get_by_label("Company name").fill(company)
    expect(page.locator("#slug")).not_to_have_value("")  # the suggestion has been swapped in
    htmx_idle(page)
    with page.expect_response(lambda r: "/signup/slug" in r.url and f"slug={slug}" in r.url):
        page.locator("#slug").fill(slug)
    expect(page.locator("#slug-field .ok")).to_have_text(f"{slug} is available.")
    expect(page.locator("#slug")).to_have_value(slug)

    page.get_by_label("Your name").fill("林晓 Lin Xiao")
    page.get_by_label("Work email").fill(f"lin@{slug}.example")
    page.get_by_label("Password").fill("a-long-password")
    shot(page, "01-signup-filled")
    page.get_by_role("button", name="Create workspace").click()

    expect(page).to_have_url(re.compile(rf"/{slug}/$"))
    expect(page.locator(".topbar .brand")).to_contain_text(company)
    expect(page.locator("#flashes")).to_contain_text(f"Your workspace {company} is ready")
    expect(page.get_by_role("heading", name="Hello, 林晓 Lin Xiao")).to_be_visible()
    shot(page, "02-signup-workspace-home")


def test_new_customer_modal_keeps_input_on_error_then_saves(page, make_tenant, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    login(page, tenant)
    page.locator(".mainnav").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()

    page.get_by_role("link", name="+ New customer").click()
    modal = page.locator("dialog#modal")
    expect(modal).to_be_visible()
    modal_shown(page, "New customer")
    expect(modal.get_by_label("Name")).to_be_focused()

    modal.get_by_label("Name").fill("李雷")
    modal.get_by_label("Phone").fill("12")
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 422):
        modal.get_by_role("button", name="Save").click()
    phone_error = modal.locator("#phone-error")
    expect(phone_error).to_be_visible()
    expect(phone_error).not_to_be_empty()
    expect(modal.get_by_label("Phone")).to_have_attribute("aria-invalid", "true")
    expect(modal.get_by_label("Name")).to_have_value("李雷")
    expect(modal).to_be_visible()
    shot(page, "03-customer-modal-phone-error")

    modal.get_by_label("Phone").fill("13800138000")
    modal.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/customers/\d+$"))
    expect(modal).to_be_hidden()
    expect(page.locator("h1.customer-name")).to_contain_text("李雷")
    expect(page.locator("#field-phone")).to_contain_text("+86 138 0013 8000")
    expect(page.locator("#flashes")).to_contain_text("Customer 李雷 added.")
    shot(page, "04-customer-created")


def tag_customer(in_tenant, tenant, customer_id: int, tag_name: str) -> None:
    from crm.customers import writes
    from crm.customers.models import Customer
    from crm.extensions import db
    from crm.tags import service as tags

    def add():
        writes.add_tag([db.session.get(Customer, customer_id)], tags.find_or_create_tag(tag_name))
        db.session.commit()

    in_tenant(tenant, add)


def test_active_search_filters_rows_and_pushes_the_url(page, make_tenant, make_customer, in_tenant, login, shot):
    tenant = make_tenant()
    wanted = make_customer(tenant, name="欧阳娜娜", phone="13912345678")
    others = [make_customer(tenant, name="王小明", phone="13700001111"),
              make_customer(tenant, name="Zhang Wei", company="阳光科技")]
    tag_customer(in_tenant, tenant, wanted, "VIP客户")  # rows with tags are what real lists look like
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/")
    expect(page.locator("#rows tr")).to_have_count(3)

    with page.expect_response(lambda r: "/customers/" in r.url and "q=" in r.url):
        page.locator("#q").press_sequentially("阳娜")
    htmx_idle(page)
    expect(page.locator("#count")).to_contain_text("1 customer")
    expect(page.locator(f"#customer-{wanted}")).to_be_visible()
    expect(page.locator(f"#customer-{wanted}")).to_contain_text("欧阳娜娜")
    expect(page.locator(f"#customer-{wanted}")).to_contain_text("+86 139 1234 5678")
    expect(page.locator(f"#customer-{wanted} .tag")).to_have_text("VIP客户")
    for other in others:
        expect(page.locator(f"#customer-{other}")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"[?&]q="))
    assert parse_qs(urlparse(page.url).query)["q"] == ["阳娜"]
    expect(page.locator("#q")).to_have_value("阳娜")
    shot(page, "05-customers-search")

    # The pushed URL is a real page: reloading it shows the same result.
    page.reload()
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.locator(f"#customer-{wanted}")).to_be_visible()


def test_inline_edit_saves_a_field_and_shows_errors(page, make_tenant, make_customer, login, shot):
    tenant = make_tenant()
    customer = make_customer(tenant, name="Zhang Wei", company="Old Co")
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/{customer}")
    expect(page.locator("#field-company")).to_contain_text("Old Co")

    page.get_by_role("button", name="Edit Company").click()
    editor = page.locator("form#field-company")
    expect(editor).to_be_visible()
    editor.get_by_label("Company").fill("新星科技 Nova")
    with page.expect_response(lambda r: r.request.method == "POST" and "/fields/company" in r.url) as answer:
        editor.get_by_role("button", name="Save").click()
    assert answer.value.status == 200
    expect(page.locator("span#field-company")).to_contain_text("新星科技 Nova")

    page.reload()
    expect(page.locator("span#field-company")).to_contain_text("新星科技 Nova")

    page.get_by_role("button", name="Edit Email").click()
    editor = page.locator("form#field-email")
    editor.get_by_label("Email").fill("not-an-email")
    with page.expect_response(lambda r: r.request.method == "POST" and "/fields/email" in r.url) as answer:
        editor.get_by_role("button", name="Save").click()
    assert answer.value.status == 422
    error = page.locator("form#field-email .error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(editor.get_by_label("Email")).to_have_value("not-an-email")
    expect(editor.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    shot(page, "06-inline-edit-email-error")

    editor.get_by_role("button", name="Cancel").click()
    expect(page.locator("span#field-email")).to_contain_text("—")
    page.reload()
    expect(page.locator("span#field-email")).to_contain_text("—")
    expect(page.locator("span#field-company")).to_contain_text("新星科技 Nova")


def test_tag_added_persists_and_can_be_removed(page, make_tenant, make_customer, login, shot):
    tenant = make_tenant()
    customer = make_customer(tenant, name="欧阳娜娜")
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/{customer}")
    tags = page.locator("#customer-tags")
    expect(tags).to_contain_text("No tags.")

    tags.get_by_placeholder("Add a tag").fill("重要客户")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/tags")):
        tags.get_by_role("button", name="Add", exact=True).click()
    chip = tags.locator(".tag", has_text="重要客户")
    expect(chip).to_be_visible()
    expect(tags).not_to_contain_text("No tags.")
    expect(tags.get_by_placeholder("Add a tag")).to_have_value("")
    shot(page, "07-tag-added")

    page.reload()
    expect(chip).to_be_visible()

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/remove")):
        tags.get_by_role("button", name="Remove tag 重要客户").click()
    expect(chip).to_have_count(0)
    expect(tags).to_contain_text("No tags.")
    page.reload()
    expect(page.locator("#customer-tags .tag")).to_have_count(0)


def test_switch_language_to_chinese_and_back(page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    make_customer(tenant, name="欧阳娜娜", company="阳光科技", phone="13912345678")
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/")
    nav = page.locator(".mainnav")
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()

    page.get_by_role("button", name="中文").click()
    expect(nav.get_by_role("link", name="客户")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/customers/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("客户")
    expect(page.get_by_role("button", name="English")).to_be_visible()
    shot(page, "08-customers-zh")

    page.get_by_role("button", name="English").click()
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()
    expect(page.get_by_role("button", name="中文")).to_be_visible()
    page.reload()
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()


def test_language_switch_updates_the_document_language(page, make_tenant, login):
    tenant = make_tenant()
    login(page, tenant)
    page.get_by_role("button", name="中文").click()
    expect(page.locator(".mainnav").get_by_role("link", name="客户")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN", timeout=2_000)


def test_phone_width_has_no_horizontal_overflow(new_page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    customer = make_customer(tenant, name="欧阳娜娜", company="阳光科技有限公司", phone="13912345678",
                             email="nana@example.com")
    make_customer(tenant, name="Zhang Wei", phone="+1 650 253 0000")
    page = new_page(375, 740)
    login(page, tenant)
    no_overflow = "document.documentElement.scrollWidth <= window.innerWidth + 1"

    page.goto(f"/{tenant.slug}/customers/")
    expect(page.locator(f"#customer-{customer}")).to_be_visible()
    shot(page, "09-customers-375px")
    assert page.evaluate(no_overflow), "customer list is wider than a 375 px phone"

    page.goto(f"/{tenant.slug}/customers/{customer}")
    expect(page.locator("h1.customer-name")).to_contain_text("欧阳娜娜")
    shot(page, "10-customer-375px")
    assert page.evaluate(no_overflow), "customer page is wider than a 375 px phone"
