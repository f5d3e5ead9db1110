import re
from playwright.sync_api import expect


def test_debug(browser, live_server, make_tenant, make_customer, login):
    context = browser.new_context(base_url=live_server, locale="en-US")
    page = context.new_page()
    log = []
    page.on("console", lambda m: log.append(("console", m.type, m.text[:80])))
    tenant = make_tenant()
    make_customer(tenant, name="欧阳娜娜", company="阳光科技", phone="13912345678")
    login(page, tenant)
    log.append("--- logged in")
    page.goto(f"/{tenant.slug}/customers/")
    expect(page.locator("h1")).to_be_visible()
    log.append("--- on customers")
    page.get_by_role("button", name="中文").click()
    expect(page.locator(".mainnav").get_by_role("link", name="客户")).to_be_visible()
    log.append("--- zh")
    page.get_by_role("button", name="English").click()
    expect(page.locator(".mainnav").get_by_role("link", name="Customers")).to_be_visible()
    log.append("--- en")
    page.reload()
    expect(page.locator(".mainnav").get_by_role("link", name="Customers")).to_be_visible()
    log.append("--- reloaded")
    page.goto(f"/{tenant.slug}/")
    page.locator(".mainnav").get_by_role("link", name="Customers").click()
    expect(page.locator("h1")).to_have_text("Customers")
    log.append("--- boosted nav to customers")
    page.get_by_role("button", name="中文").click()
    expect(page.locator(".mainnav").get_by_role("link", name="客户")).to_be_visible()
    log.append("--- zh again")
    for l in log: print(l)
    context.close()
