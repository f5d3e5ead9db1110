"""The follow-up calendar in a real browser: drag a follow-up to another day (it stays there after a reload),
plan one by clicking a day, and the phone's list of days at 375 px.
Run: pytest tests/e2e/test_calendar_browser.py -q -p no:randomly"""
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from tests.e2e.htmx import modal_shown

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def planned(make_tenant, make_customer, in_tenant):
    """A workspace with one follow-up on next week's Tuesday at 15:00; returns (tenant, activity id, that Tuesday)."""
    from crm.followups.models import Activity

    tenant = make_tenant("星辰贸易 Stellar")
    customer_id = make_customer(tenant, name="欧阳娜娜")
    today = datetime.now(SHANGHAI).date()
    tuesday = today - timedelta(days=today.weekday()) + timedelta(days=8)  # next week's (weeks start on Monday)

    def make():
        activity = Activity(customer_id=customer_id, owner_id=tenant.admin_member_id, method="visit",
                            summary="带样品拜访", outcome="", remind_minutes=60,
                            due_at=datetime.combine(tuesday, time(15, 0), tzinfo=SHANGHAI).astimezone(UTC))
        db.session.add(activity)
        db.session.flush()
        return activity.id

    return tenant, in_tenant(tenant, make), tuesday


def day(page, date):
    return page.locator(f'.calendar-items[data-day="{date.isoformat()}"]')


def drag(page, source, target) -> None:
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + 10, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=20)
    page.mouse.up()


def test_drag_a_follow_up_to_another_day(page, planned, login, in_tenant, shot):
    from crm.followups.models import Activity

    tenant, activity_id, tuesday = planned
    thursday = tuesday + timedelta(days=2)
    login(page, tenant)
    page.get_by_role("link", name="Calendar").click()
    page.get_by_role("link", name="Next", exact=True).click()  # next week
    item = page.locator(f'.calendar-item[data-activity-id="{activity_id}"]')
    expect(day(page, tuesday).locator(item)).to_be_visible()

    with page.expect_response(lambda r: r.url.endswith(f"/calendar/{activity_id}/move")) as moved:
        drag(page, item, day(page, thursday))
    assert moved.value.status == 200
    expect(day(page, thursday).locator(item)).to_contain_text("欧阳娜娜")
    shot(page, "calendar-01-dragged")
    page.reload()
    expect(day(page, thursday).locator(item)).to_be_visible()
    expect(day(page, tuesday).locator(item)).to_have_count(0)
    due = in_tenant(tenant, lambda: db.session.get(Activity, activity_id).due_at)
    assert due.astimezone(SHANGHAI) == datetime.combine(thursday, time(15, 0), tzinfo=SHANGHAI)

    # Click a day's "+" to plan a follow-up on it.
    friday = tuesday + timedelta(days=3)
    day(page, friday).locator("xpath=..").locator(".calendar-plan").click()
    modal_shown(page, "Plan a follow-up")
    expect(page.locator("dialog#modal").get_by_label("When")).to_have_value(f"{friday.isoformat()}T09:00")


def test_calendar_on_a_phone_lists_the_days(new_page, planned, login, shot):
    tenant, activity_id, tuesday = planned
    page = new_page(width=375, height=740)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/calendar/?date={tuesday.isoformat()}")
    expect(page.locator(f'.calendar-item[data-activity-id="{activity_id}"]')).to_contain_text("欧阳娜娜")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "calendar-02-phone")
