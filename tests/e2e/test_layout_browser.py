"""Layout on phones and desktops, measured in the browser: no page scrolls sideways at 375 px in either language,
the forms load without console errors, a finger can hit the small buttons, list filters fold on a phone, phones
and emails are tel:/mailto: links, the customer list with many custom columns scrolls inside its box, and a
favicon is served. Data is long on purpose: English names that do not fit, Chinese values, six custom columns.
Run: pytest tests/e2e/test_layout_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown, switch_language

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
LONG_NAME = "Bartholomew Fitzgerald-Worthington"
LONG_EMAIL = "bartholomew.fitzgerald-worthington@worthington-international.example.co.uk"
FIELDS = [("Preferred delivery warehouse", "首选发货仓库", "杭州市余杭区仓前街道文一西路969号"),
          ("Industry segment", "行业细分", "Wholesale distribution and logistics"),
          ("Annual procurement budget", "年度采购预算", "一百二十万元人民币"),
          ("Key account manager notes", "大客户经理备注", "每季度拜访一次，重点关注新品"),
          ("Contract renewal date", "合同续签日期", "2026-12-31"),
          ("Secondary contact person", "第二联系人", "欧阳娜娜")]
# Every main page, below the workspace's address ({customer} ... name the world's records).
PAGES = ["/", "/customers/", "/customers/{customer}", "/customers/new", "/deals/", "/deals/list", "/deals/{deal}",
         "/deals/new", "/activities/", "/pool/", "/products/", "/products/new", "/orders/", "/orders/{order}",
         "/orders/new", "/tickets/", "/tickets/{ticket}", "/tickets/new", "/campaigns/", "/campaigns/new", "/tags/",
         "/settings/members", "/settings/roles", "/settings/roles/{role}", "/settings/teams", "/settings/fields/",
         "/deals/pipelines", "/settings/messaging/", "/settings/audit/", "/messages/", "/messages/preferences",
         "/profile", "/settings/workspace/", "/settings/security/", "/calendar/", "/calendar/?view=month",
         "/search/?q=Worthington", "/search/?q=欧阳"]
# How wide the page is laid out. A phone's browser zooms out to show all of a page that is too wide, and
# window.innerWidth grows with it: the page is compared with the phone's own width instead.
WIDTH = "Math.max(document.documentElement.scrollWidth, window.innerWidth)"


@pytest.fixture
def world(make_tenant, add_member, make_deal, make_order, make_product, make_ticket, in_tenant, role_id):
    """A workspace with long English and Chinese values everywhere and six custom columns in the customer list."""
    from datetime import timedelta

    from flask_babel import get_timezone

    from crm.campaigns import service as campaigns
    from crm.customers import writes
    from crm.extensions import db, utcnow
    from crm.fields.definitions import save_field
    from crm.followups import service as activities
    from crm.members.models import Member, Team
    from crm.orders import service as orders
    from crm.orders.models import Order
    from crm.tags import service as tags

    tenant = make_tenant("杭州云帆科技有限公司 Hangzhou Yunfan Technology Co.")
    add_member(tenant, "sales_rep", LONG_NAME)
    add_member(tenant, "support_agent", "欧阳娜娜")

    def fill():
        viewer = db.session.get(Member, tenant.admin_member_id)
        for i, (english, chinese, _value) in enumerate(FIELDS):
            save_field(None, {"key": f"f{i}", "label_en": english, "label_zh": chinese, "type": "text",
                              "in_list": "on", "filterable": "on"})
        db.session.add(Team(name="Enterprise Accounts North-East Region 华东大客户部"))
        custom = {f"f{i}": value for i, (_en, _zh, value) in enumerate(FIELDS)}
        made = [writes.create_customer(viewer, {"name": name, "company": company, "phone": phone, "email": email},
                                       custom)
                for name, company, phone, email in [
                    ("欧阳娜娜", "杭州云帆科技有限公司", "13912345678", "ouyang.nana@hangzhou-yunfan.example.com"),
                    (LONG_NAME, "Worthington & Sons International Trading Ltd", "+44 20 7946 0958", LONG_EMAIL)]]
        for customer in made:
            writes.add_tag([customer], tags.find_or_create_tag("VIP 大客户 long tag name"))
        campaigns.create_campaign(viewer, {"name": "Spring promotion for every wholesale customer 春季促销",
                                           "channel": "email", "language": "en", "subject": "Hello",
                                           "body": "Hello {{ customer }}", "send_at": ""}, {})
        due = (utcnow() + timedelta(hours=1)).astimezone(get_timezone()).strftime("%Y-%m-%dT%H:%M")
        activities.create(viewer, {"mode": "plan", "customer_id": str(made[1].id), "method": "call", "due_at": due,
                                   "summary": "跟进年度采购报价 Follow up on the annual procurement quotation",
                                   "owner_id": str(viewer.id), "remind_minutes": "15"})
        return [customer.id for customer in made]

    chinese, english = in_tenant(tenant, fill)
    product = make_product(tenant, name="西湖龙井明前特级茶叶礼盒装 West Lake Longjing premium gift box")
    order = make_order(tenant, english, lines=[{"description": "Industrial refrigeration unit, stainless steel",
                                                "quantity": "12", "unit_price": "98765.43", "discount": "0"}])

    def refund_requested():
        viewer = db.session.get(Member, tenant.admin_member_id)
        for status in ("shipped", "received", "refund_requested"):
            orders.move_order(viewer, db.session.get(Order, order), status)

    in_tenant(tenant, refund_requested)
    make_order(tenant, chinese)
    ids = {"customer": english, "chinese": chinese, "order": order, "product": product,
           "role": role_id(tenant, "sales_rep"),
           "deal": make_deal(tenant, customer_id=chinese, title="年度采购合同 Annual procurement contract 2026"),
           "ticket": make_ticket(tenant, english, subject="The printer on the third floor jams every morning 打印机卡纸")}
    return tenant, ids


def watch(page) -> list[str]:
    """Console errors, uncaught exceptions and failed requests of `page`, as they happen."""
    problems = []
    page.on("console", lambda msg: problems.append(f"{page.url}: console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: page error: {error}"))
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    return problems


def open_context(browser, live_server, viewport=None, touch=False):
    return browser.new_context(base_url=live_server, viewport=viewport or {"width": 1280, "height": 800},
                               has_touch=touch, is_mobile=touch, locale="en-US", timezone_id="Asia/Shanghai")


def signed_in(context, tenant, login, language="en"):
    page = context.new_page()
    context.set_default_timeout(10_000)
    problems = watch(page)
    login(page, tenant)
    if language == "zh":
        switch_language(page, "中文", "zh-CN")
    return page, problems


def visit(page, path: str) -> None:
    page.goto(path)
    htmx_idle(page)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_page_scrolls_sideways_on_a_phone(language, browser, live_server, world, login, artifacts):
    tenant, ids = world
    context = open_context(browser, live_server, PHONE, touch=True)
    page, problems = signed_in(context, tenant, login, language)
    too_wide = []
    for path in [f"/{tenant.slug}{p.format(**ids)}" for p in PAGES] + ["/account"]:
        visit(page, path)
        width = page.evaluate(WIDTH)
        if width > PHONE["width"]:
            too_wide.append(f"{path} is {width} px wide")
            name = re.sub(r"\W+", "_", path)
            page.screenshot(path=str(artifacts / f"e2e-layout-{language}-{name}.png"), full_page=True, caret="initial")
    # The customer form in its modal, over the list, as the "+ New customer" button opens it.
    visit(page, f"/{tenant.slug}/customers/")
    page.locator(".page-head a.primary").click()
    expect(page.locator("dialog#modal form#customer-form")).to_be_visible()
    htmx_idle(page)
    width = page.evaluate(WIDTH)
    if width > PHONE["width"]:
        too_wide.append(f"the customer form's modal is {width} px wide")
    context.close()
    assert not too_wide, "wider than a 375 px phone: " + "; ".join(too_wide)
    assert not problems, "the browser reported: " + "; ".join(problems)


def test_forms_load_and_save_without_console_errors(browser, live_server, world, login):
    tenant, ids = world
    context = open_context(browser, live_server)
    page, problems = signed_in(context, tenant, login)
    s = f"/{tenant.slug}"
    for path in ("/customers/new", "/deals/new", "/orders/new", "/products/new", f"/customers/{ids['customer']}/edit",
                 f"/deals/{ids['deal']}/edit", f"/orders/{ids['order']}/edit",
                 f"/products/{ids['product']}/edit"):
        visit(page, s + path)
    for path, button, heading in (("/customers/", "+ New customer", "New customer"),
                                  ("/deals/list", "+ New deal", "New deal"),
                                  ("/products/", "+ New product", "New product")):
        visit(page, s + path)
        page.get_by_role("link", name=button).click()
        modal_shown(page, heading)
    assert not problems, "the browser reported: " + "; ".join(problems)

    # Saved in the modal, a product lands on the product list: the whole page (top bar, modal), not its rows only.
    modal = page.locator("dialog#modal")
    modal.get_by_label("Name").fill("碧螺春 Biluochun")
    modal.get_by_label("Price").fill("88")
    modal.get_by_role("button", name="Save").click()
    expect(page.locator("#flashes")).to_contain_text("碧螺春 Biluochun")
    expect(page.locator(".topbar .brand")).to_contain_text(tenant.name)
    page.get_by_role("row", name=re.compile("碧螺春")).get_by_role("link", name="Edit").click()
    modal_shown(page, "Edit 碧螺春 Biluochun")

    # The icon browsers ask for on their own, and the one every page names.
    icon = page.request.get("/favicon.ico")
    assert icon.ok and icon.headers["content-type"] in ("image/vnd.microsoft.icon", "image/x-icon")
    for href in page.locator("link[rel=icon]").evaluate_all("links => links.map(l => l.href)"):
        assert page.request.get(href).ok, href
    context.close()
    assert not problems, "the browser reported: " + "; ".join(problems)


def test_a_finger_can_hit_the_small_buttons_and_the_filters_fold_on_a_phone(browser, live_server, world, login):
    tenant, ids = world
    context = open_context(browser, live_server, PHONE, touch=True)
    page, problems = signed_in(context, tenant, login)
    s = f"/{tenant.slug}"

    # The customer list: one search box and one "Filter" button before the first customer, who is on the first screen.
    visit(page, f"{s}/customers/")
    fold = page.locator("#filters details.filter-fold")
    expect(fold).not_to_have_attribute("open", "")
    expect(page.locator("#filters select[name=level]")).to_be_hidden()
    expect(page.locator("#q")).to_be_visible()
    first = page.locator("#rows tr").first.bounding_box()
    assert first["y"] + first["height"] <= PHONE["height"], "the first customer is below the first screen"
    expect(page.locator(".bulkbar")).to_be_hidden()
    # Unfolded, the filters work as before; ticking a customer brings the bulk actions.
    fold.locator("> summary").click()
    with page.expect_response(lambda r: "stage=customer" in r.url):
        page.locator("#filters select[name=stage]").select_option("customer")
    expect(page.locator("#count")).to_contain_text("0 customers")
    visit(page, f"{s}/customers/")
    page.locator("#rows input[name=ids]").first.check()
    expect(page.locator(".bulkbar")).to_be_visible()

    # Every list folds its filters the same way; the order list's table fits the phone without scrolling in its box.
    for path in ("/deals/", "/deals/list", "/tickets/", "/products/", "/pool/", "/settings/audit/", "/orders/"):
        visit(page, s + path)
        expect(page.locator("details.filter-fold > summary")).to_be_visible()
        expect(page.locator("details.filter-fold .filter-fold-body")).to_be_hidden()
    expect(page.locator("table.orders .order-status-refund_requested").first).to_be_visible()
    assert page.locator("table.orders").evaluate("table => table.offsetWidth <= table.parentElement.clientWidth")

    # Tap targets: the inline edit pens, a tag's ×, the modal's ×, the bell, an order line's Remove.
    visit(page, f"{s}/customers/{ids['customer']}")
    small = {"✎": page.locator(".edit-pen"), "tag ×": page.locator(".tag-x"), "bell": page.locator("#bell")}
    page.locator(".page-head").get_by_role("link", name="Edit", exact=True).click()
    modal_shown(page, f"Edit {LONG_NAME}")
    small["modal ×"] = page.locator("dialog#modal .close")
    for name, buttons in small.items():
        assert buttons.count(), name
        for box in (buttons.nth(i).bounding_box() for i in range(buttons.count()) if buttons.nth(i).is_visible()):
            assert box["width"] >= 40 and box["height"] >= 40, f"{name} is {box['width']}×{box['height']} px"
    visit(page, f"{s}/orders/new")
    box = page.locator(".line-remove").first.bounding_box()
    assert box["width"] >= 40 and box["height"] >= 40, f"Remove is {box['width']}×{box['height']} px"

    # The permission matrix scrolls in its own box, the resource names staying in view.
    visit(page, f"{s}/settings/roles/{ids['role']}")
    matrix = page.locator(".matrix-wrap")
    assert matrix.evaluate("box => box.scrollWidth > box.clientWidth"), "the matrix fits; nothing to test"
    matrix.evaluate("box => { box.scrollLeft = 300; }")
    resource = page.locator(".matrix tbody th").first
    assert resource.bounding_box()["x"] >= matrix.bounding_box()["x"] - 1
    expect(resource).to_be_in_viewport()
    assert page.evaluate(WIDTH) <= PHONE["width"]
    context.close()
    assert not problems, "the browser reported: " + "; ".join(problems)


def test_phones_and_emails_are_links_to_dial_and_write(browser, live_server, world, login):
    tenant, ids = world
    context = open_context(browser, live_server)
    page, problems = signed_in(context, tenant, login)
    s = f"/{tenant.slug}"

    def links(scope, phone: bool = True):
        if phone:
            expect(scope.locator('a[href="tel:+442079460958"]').first).to_have_text("+44 20 7946 0958")
        expect(scope.locator(f'a[href="mailto:{LONG_EMAIL}"]').first).to_have_text(LONG_EMAIL)

    visit(page, f"{s}/customers/")
    links(page.locator(f"#customer-{ids['customer']}"))
    visit(page, f"{s}/customers/{ids['customer']}")
    links(page.locator(".kv-list"))
    for path in (f"/orders/{ids['order']}", f"/tickets/{ids['ticket']}"):
        visit(page, s + path)
        links(page.locator(".contact-links"))
    visit(page, f"{s}/deals/{ids['deal']}")
    expect(page.locator(".contact-links a[href='tel:+8613912345678']")).to_have_text("+86 139 1234 5678")
    visit(page, f"{s}/settings/members")
    expect(page.locator(f"a[href='mailto:admin@{tenant.slug}.example']")).to_be_visible()
    context.close()
    assert not problems, "the browser reported: " + "; ".join(problems)


def test_the_customer_list_with_many_columns_scrolls_in_its_box_on_a_desktop(browser, live_server, world, login):
    tenant, ids = world
    context = open_context(browser, live_server, {"width": 1280, "height": 800})
    page, problems = signed_in(context, tenant, login, "zh")
    visit(page, f"/{tenant.slug}/customers/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page is wider than 1280 px"
    # Wide enough, the filters are not folded: no "Filter" button, every control in view.
    expect(page.locator("#filters details.filter-fold > summary")).to_be_hidden()
    expect(page.locator("#filters select[name=level]")).to_be_visible()
    box = page.locator("#results .table-scroll")
    assert box.evaluate("box => box.scrollWidth > box.clientWidth"), "six long columns should not fit"
    # Chinese values stay on a line or two, not one character a line.
    for cell in page.locator(f"#customer-{ids['chinese']} td.custom-cell").all():
        assert cell.bounding_box()["width"] >= 130, cell.inner_text()
    name = page.locator(f"#customer-{ids['chinese']} td.name-cell")
    for line in (name.get_by_role("link", name="欧阳娜娜"), name.get_by_text("杭州云帆科技有限公司")):
        assert line.bounding_box()["height"] < 30, f"{line.inner_text()} wraps"
    # Scrolled to the last column, the name is still there beside the checkbox.
    left = name.bounding_box()["x"]
    box.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    expect(page.locator(f"#customer-{ids['chinese']} td").last).to_be_in_viewport()
    assert abs(name.bounding_box()["x"] - left) <= 2, "the name column scrolled away"
    context.close()
    assert not problems, "the browser reported: " + "; ".join(problems)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_main_menu_fits_a_desktop_and_more_opens_over_the_page(language, browser, live_server, world, login,
                                                                   artifacts):
    tenant, _ids = world
    more = {"en": "More", "zh": "更多"}[language]
    tags = {"en": "Tags", "zh": "标签"}[language]
    for viewport, touch in (({"width": 1280, "height": 800}, False), (PHONE, True)):
        context = open_context(browser, live_server, viewport, touch=touch)
        # The account keeps the language chosen in the first browser.
        page, problems = signed_in(context, tenant, login, language if not touch else "en")
        visit(page, f"/{tenant.slug}/customers/")
        links = page.locator(".mainnav-links")
        if not touch:  # on a desktop every entry of the bar shows without scrolling
            assert links.evaluate("el => el.scrollWidth <= el.clientWidth"), "the main menu scrolls at 1280 px"
        page.locator(".mainnav summary", has_text=more).click()
        entry = page.locator(".nav-more").get_by_role("link", name=tags)
        expect(entry).to_be_visible()
        box = entry.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], "the More list leaves the screen"
        # Not clipped by the bar: the link is what the browser finds at its own centre.
        assert entry.evaluate("el => { const r = el.getBoundingClientRect();"
                              " return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el; }")
        page.screenshot(path=str(artifacts / f"e2e-menu-more-{language}-{viewport['width']}.png"), caret="initial")
        entry.click()
        expect(page).to_have_url(re.compile(r"/tags/"))
        expect(page.locator(".nav-more summary")).to_have_class("current")
        context.close()
        assert not problems, "the browser reported: " + "; ".join(problems)
