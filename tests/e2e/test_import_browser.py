"""A Chinese admin, in the Chinese UI on a phone, imports an Excel workbook with Chinese headers: the mapping is
guessed, the check shows its progress then a preview, the import its progress bar, and the customers are in the
list. Run: pytest tests/e2e -q -p no:randomly"""
import io

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import switch_language

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    for row in (["客户姓名", "手机号码", "公司名称", "备注"], ["王芳", 13800000051, "甲公司", "老客户"],
                ["李雷", 13800000052, "乙公司", ""], ["韩梅", "12345", "丙公司", "号码不对"]):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_with_chinese_headers_is_mapped_checked_and_imported_in_chinese(
        app, new_page, make_tenant, login, shot, run_worker, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path))
    tenant = make_tenant("苏州远航贸易")
    page = new_page(375, 740)
    login(page, tenant)
    switch_language(page, "中文", "zh-CN")

    page.goto(f"/{tenant.slug}/customers/")
    page.locator(".page-head a.button", has_text="导入").click()
    page.locator("#file").set_input_files(files=[{"name": "客户名单.xlsx", "mimeType": XLSX_TYPE,
                                                   "buffer": _workbook()}])
    page.get_by_role("button", name="上传并映射列").click()

    expect(page.locator("h1")).to_contain_text("客户名单.xlsx")
    for column, field in enumerate(("name", "phone", "company", "notes")):
        expect(page.locator(f"select[name=column-{column}]")).to_have_value(field)
    expect(page.locator("#columns")).to_contain_text("13800000051")
    shot(page, "import-01-mapping-zh-375px")
    assert page.evaluate(NO_OVERFLOW), "the mapping page is wider than a 375 px phone"

    page.get_by_role("button", name="检查文件").click()
    expect(page.locator("#import-progress")).to_be_visible()
    expect(page.locator("#import-status")).to_have_attribute("hx-trigger", "every 1s")
    run_worker()
    start = page.locator("#start-import")
    expect(start).to_have_text("导入 2 个客户", timeout=8000)  # the poll brings the result
    expect(page.locator("#import-status")).not_to_have_attribute("hx-trigger", "every 1s")
    expect(page.locator("#preview")).to_contain_text("王芳")
    expect(page.locator("#import-errors")).to_contain_text("第 4 行")
    shot(page, "import-02-checked-zh-375px")
    assert page.evaluate(NO_OVERFLOW), "the check page is wider than a 375 px phone"

    start.click()
    expect(page.locator("progress#import-progress")).to_have_attribute("max", "3")
    shot(page, "import-03-importing-zh-375px")
    run_worker()
    expect(page.locator("#import-state")).to_have_text("完成", timeout=8000)
    expect(page.locator("[data-count=created] .stat-n")).to_have_text("2")
    page.get_by_role("link", name="查看客户").click()
    expect(page.locator("#results")).to_contain_text("王芳")
    expect(page.locator("#results")).to_contain_text("李雷")
