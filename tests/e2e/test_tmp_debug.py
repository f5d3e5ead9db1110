import re
from playwright.sync_api import expect


def test_debug(page, make_tenant, make_customer, login, shot):
    log = []
    page.on("console", lambda m: log.append(("console", m.type, m.text[:60])))
    tenant = make_tenant("星辰贸易 Stellar")
    make_customer(tenant, name="欧阳娜娜", company="阳光科技", phone="13912345678")
    login(page, tenant)
    log.append("--- login")
    page.goto(f"/{tenant.slug}/customers/")
    nav = page.locator(".mainnav")
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()
    log.append("--- customers")
    page.get_by_role("button", name="中文").click()
    expect(nav.get_by_role("link", name="客户")).to_be_visible()
    log.append("--- zh")
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/customers/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("客户")
    expect(page.get_by_role("button", name="English")).to_be_visible()
    log.append("--- checks")
    log.append(page.evaluate("Array.from(document.querySelectorAll('[style]')).map(e => e.tagName + '#' + e.id + ' style=' + JSON.stringify(e.getAttribute('style')))"))
    shot(page, "08-customers-zh")
    log.append("--- shot")
    log.append(page.evaluate("Array.from(document.querySelectorAll('[style]')).map(e => e.tagName + '#' + e.id + ' style=' + JSON.stringify(e.getAttribute('style')))"))
    page.get_by_role("button", name="English").click()
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()
    expect(page.get_by_role("button", name="中文")).to_be_visible()
    log.append("--- en")
    page.reload()
    expect(nav.get_by_role("link", name="Customers")).to_be_visible()
    log.append("--- reload")
    for l in log: print(l)
