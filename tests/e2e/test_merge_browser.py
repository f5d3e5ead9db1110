"""Merging duplicates on a phone: tick two rows in the list, "Merge" in the bulk bar, pick values on the
side-by-side page (one column under the other at 375 px), merge, then undo. Run: pytest tests/e2e -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_merge_and_undo_on_a_phone(new_page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("合并测试 Merge Co")
    kept = make_customer(tenant, name="欧阳娜娜", phone="13912345678", company="阳光科技有限公司")
    dup = make_customer(tenant, name="欧阳娜娜 (重复)", phone="13912345678", email="nana.dup@example.com",
                        company="阳光科技有限公司 上海分公司")
    page = new_page(375, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/")
    htmx_idle(page)
    for customer_id in (kept, dup):
        page.locator(f"#customer-{customer_id} input[name=ids]").check()
    page.locator(".bulkbar select[name=action]").select_option("merge")
    page.locator(".bulkbar").get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="Merge customers")).to_be_visible()
    shot(page, "merge-01-side-by-side-375px")
    assert page.evaluate(NO_OVERFLOW), "the merge page is wider than a 375 px phone"
    first, second = page.locator("fieldset.merge-row").nth(1).locator("label.merge-option").all()
    assert first.bounding_box()["y"] < second.bounding_box()["y"], "the columns are not stacked on a phone"
    page.locator(f"input[name='field:email'][value='{dup}']").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/customers/{kept}$"))
    expect(page.locator(".merged-note")).to_contain_text("Merged 1 customer into this one")
    expect(page.locator("main")).to_contain_text("nana.dup@example.com")
    shot(page, "merge-02-survivor-375px")
    assert page.evaluate(NO_OVERFLOW), "the survivor's page is wider than a 375 px phone"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Undo merge").click()
    expect(page.get_by_text("Merge undone: 1 customer restored.")).to_be_visible()
    expect(page.locator(".merged-note")).to_have_count(0)
