"""A Chinese company's admin, working in Chinese, names a custom field, a pipeline and a stage in Chinese only and
finds them on the customer form and the kanban board; with the page switched to English the same names show
(the other language's name), never blanks. Run: pytest tests/e2e -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown, switch_language

pytestmark = pytest.mark.e2e


def customer_form_shows_the_field(page, tenant, heading: str):
    page.goto(f"/{tenant.slug}/customers/")
    page.locator("a.button.primary", has_text=heading).click()
    modal_shown(page, heading)
    modal = page.locator("dialog#modal")
    expect(modal.get_by_label("客户等级")).to_be_visible()
    expect(modal.get_by_label("客户等级").locator("option", has_text="金牌")).to_have_count(1)


def test_a_chinese_admin_names_things_in_chinese_only_and_english_readers_see_those_names(
        new_page, make_tenant, login, shot):
    tenant = make_tenant("杭州云帆科技")
    page = new_page()
    login(page, tenant)
    switch_language(page, "中文", "zh-CN")

    # A custom field with only a Chinese label and Chinese options.
    page.goto(f"/{tenant.slug}/settings/fields/new")
    page.get_by_label("显示名称（中文）").fill("客户等级")
    page.get_by_label("类型").select_option(label="单选")
    page.get_by_label("新选项，每行一个：英文 | 中文").fill("金牌\n银牌")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(rf"/{re.escape(tenant.slug)}/settings/fields/$"))
    expect(page.locator("#flashes")).to_contain_text("已添加字段 客户等级。")

    # A pipeline and a stage with only Chinese names.
    page.goto(f"/{tenant.slug}/deals/pipelines")
    page.get_by_label("新销售管道（中文）").fill("外贸")
    page.get_by_role("button", name="添加销售管道").click()
    expect(page.locator("#flashes")).to_contain_text("已添加销售管道。")
    new_pipeline = page.locator("section.pipeline-settings").nth(1)
    add_stage = new_pipeline.locator("form.add-stage-form")
    add_stage.get_by_label("新阶段（中文）").fill("样品寄送")
    add_stage.get_by_label("赢率").fill("30")
    add_stage.get_by_role("button", name="添加阶段").click()
    expect(page.locator("#flashes")).to_contain_text("已添加阶段。")
    expect(page.locator("section.pipeline-settings").nth(1).locator("input[name=name_zh][value='样品寄送']")
           ).to_have_count(1)
    shot(page, "names-01-pipelines-zh")

    customer_form_shows_the_field(page, tenant, "新建客户")
    page.goto(f"/{tenant.slug}/deals/")
    page.locator("nav.subnav").get_by_role("link", name="外贸").click()
    htmx_idle(page)
    expect(page.get_by_role("heading", name="样品寄送", exact=True)).to_be_visible()
    board = page.url

    # The same workspace read in English: the Chinese names stand in for the English ones nobody wrote.
    switch_language(page, "English", "en")
    page.goto(board)
    expect(page.get_by_role("heading", name="样品寄送", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Lead", exact=True)).to_be_visible()
    expect(page.locator("nav.subnav a[aria-current=page]")).to_have_text("外贸")
    shot(page, "names-02-board-en")
    customer_form_shows_the_field(page, tenant, "New customer")
    page.goto(f"/{tenant.slug}/settings/fields/")
    expect(page.get_by_role("link", name="客户等级")).to_be_visible()
