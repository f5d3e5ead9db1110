"""A campaign in a real browser: the audience count follows the filters live, Send leads to the campaign's
page, whose progress card polls until every message is sent; the pages fit a 360 px phone.
Run: pytest tests/e2e/test_campaigns_browser.py -q"""
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_audience_counts_live_and_progress_polls_until_sent(
        new_page, make_tenant, tagged, in_tenant, login, shot, run_worker):
    from crm.settings import put_setting

    tenant = make_tenant("星辰贸易 Stellar")
    in_tenant(tenant, lambda: put_setting("quiet_hours", None))
    for i in range(3):
        tagged(tenant, ["vip"], name=f"贵宾 {i}", level="A", email=f"vip{i}@c.example")
    tagged(tenant, [], name="Walk-in", level="C", email="walkin@c.example")

    page = new_page(360, 740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/campaigns/new")
    expect(page.locator("#audience-count")).to_contain_text("4 customers match")
    page.get_by_label("Name").fill("春季促销")
    page.get_by_label("Subject").fill("{{ customer }}，春季八折")
    page.locator("#body").fill("{{ customer }}您好，本周全场八折。")
    page.locator("#audience summary", has_text="Tags").click()
    page.locator("#audience input[name=tag]").check()
    expect(page.locator("#audience-count")).to_contain_text("3 customers match")
    page.locator("#audience select[name=level]").select_option("C")
    expect(page.locator("#audience-count")).to_contain_text("0 customers match")
    page.locator("#audience select[name=level]").select_option("A")
    expect(page.locator("#audience-count")).to_contain_text("3 customers match")
    page.locator("#audience summary", has_text="Tags").click()  # close the tag dropdown
    shot(page, "campaign-form-360px")
    assert page.evaluate(NO_OVERFLOW), "the campaign form is wider than a 360 px phone"

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("h1")).to_have_text("春季促销")
    expect(page.locator("#campaign-status")).to_have_text("Sending")
    expect(page.locator("#progress")).to_have_attribute("hx-trigger", "every 2s")
    run_worker()
    expect(page.locator("#count-sent")).to_have_text("3", timeout=8000)  # the poll brings the counts
    expect(page.locator("#campaign-status")).to_have_text("Sent")
    expect(page.locator("#progress")).not_to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator("progress.campaign-progress")).to_have_attribute("value", "3")
    shot(page, "campaign-sent-360px")
    assert page.evaluate(NO_OVERFLOW), "the campaign page is wider than a 360 px phone"

    page.goto(f"/{tenant.slug}/campaigns/")
    expect(page.locator("table.campaigns")).to_contain_text("3 / 3")
    assert page.evaluate(NO_OVERFLOW), "the campaign list is wider than a 360 px phone"


def overlaps(a: dict, b: dict) -> bool:
    """Whether two bounding boxes share any area."""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("width", [1280, 375])
def test_the_open_tag_list_leaves_send_free_and_the_counts_show_as_a_sum(
        new_page, make_tenant, tagged, in_tenant, login, shot, run_worker, width):
    from crm.customers.models import Customer
    from crm.extensions import db
    from crm.settings import put_setting

    tenant = make_tenant("Harbour Agency")
    in_tenant(tenant, lambda: put_setting("quiet_hours", None))
    names = ["vip", "north", "south", "east", "west", "trade-fair", "newsletter", "wholesale", "retail", "lapsed"]
    for i, name in enumerate(names):
        tagged(tenant, [name, "spring"] if i < 3 else [name], name=f"Customer {i}", email=f"c{i}@c.example")
    opted = tagged(tenant, ["spring"], name="Opted Out", email="opted@c.example")
    in_tenant(tenant, lambda: setattr(db.session.get(Customer, opted), "marketing_opt_out_at", datetime.now(UTC)))

    page = new_page(width, 800)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/campaigns/new")
    page.get_by_label("Name").fill("Spring letter")
    page.get_by_label("Subject").fill("Spring, {{ customer }}")
    page.locator("#body").fill("Dear {{ customer }}, spring is here.")
    page.locator("#audience summary", has_text="Tags").click()
    tag_list = page.locator("#audience details.tag-filter[open] .dropdown")
    expect(tag_list).to_be_visible()
    page.locator("#audience label.check", has_text="spring").locator("input").check()
    expect(page.locator("#audience-count")).to_contain_text("4 customers match")
    send = page.get_by_role("button", name="Send", exact=True)
    send.scroll_into_view_if_needed()
    shot(page, f"campaign-form-tags-open-{width}px")
    assert not overlaps(tag_list.bounding_box(), send.bounding_box()), "the tag list covers the Send button"
    assert page.evaluate(NO_OVERFLOW), f"the campaign form is wider than {width} px"

    send.click()  # the tag list is still open: the click reaches the button
    expect(page.locator("h1")).to_have_text("Spring letter")
    run_worker()
    counts = page.locator("#campaign-counts")
    expect(page.locator("#count-sent")).to_have_text("3", timeout=8000)
    for name, value in (("audience", "4"), ("queued", "0"), ("sent", "3"), ("failed", "0"), ("opted-out", "1"),
                        ("no-address", "0")):
        expect(counts.locator(f"#count-{name}")).to_have_text(value)
        expect(counts.locator(f"#count-{name}")).to_be_in_viewport()
    expect(counts).to_contain_text("=")
    shot(page, f"campaign-counts-{width}px")
    assert page.evaluate(NO_OVERFLOW), f"the campaign page is wider than {width} px"
