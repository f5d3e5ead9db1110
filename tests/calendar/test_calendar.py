"""The follow-up calendar as a sales team uses it: a week and a month of plans on their local days, dragging one
to another day (its reminder moves too), planning from a day, whose plans a rep and a manager see, and the
iCalendar feed a phone subscribes to."""
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.followups.models import Activity
from crm.notify.models import Notification
from tests.conftest import HX, local_link

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the workspace's zone by default


def next_wednesday() -> date:
    today = datetime.now(SHANGHAI).date()
    return today + timedelta(days=(2 - today.weekday()) % 7 + 7)


def plan(in_tenant, tenant, owner_id, customer_id, day, at=time(10, 30), summary="Call about the quote",
         remind=15, done=False):
    def make():
        due = datetime.combine(day, at, tzinfo=SHANGHAI).astimezone(UTC)
        activity = Activity(customer_id=customer_id, owner_id=owner_id, method="call", summary=summary, outcome="",
                            due_at=due, remind_minutes=remind, done_at=due if done else None)
        db.session.add(activity)
        db.session.flush()
        if not done:
            from crm.followups import reminders
            reminders.schedule(activity)
        return activity.id
    return in_tenant(tenant, make)


def day_section(page: str, day: date) -> str:
    """The HTML of one day's items in the calendar page."""
    found = re.search(rf'data-day="{day.isoformat()}"(.*?)</ul>', page, re.S)
    assert found, f"{day} not shown"
    return found[1]


def test_week_and_month_show_each_plan_on_its_local_day(acme, admin, make_customer, in_tenant):
    wednesday = next_wednesday()
    customer = make_customer(acme, name="欧阳娜娜")
    plan(in_tenant, acme, acme.admin_member_id, customer, wednesday, at=time(0, 30), summary="Early call")
    plan(in_tenant, acme, acme.admin_member_id, customer, wednesday - timedelta(days=1), summary="Sent the quote",
         done=True)

    week = admin.get(f"/{acme.slug}/calendar/?view=week&date={wednesday.isoformat()}")
    assert week.status_code == 200
    # 00:30 in Shanghai is the day before in UTC: it is on Wednesday all the same.
    assert "欧阳娜娜" in day_section(week.text, wednesday) and "12:30" in day_section(week.text, wednesday)
    assert "✓" in day_section(week.text, wednesday - timedelta(days=1))
    assert week.text.count('<section class="calendar-day') == 7

    month = admin.get(f"/{acme.slug}/calendar/?view=month&date={wednesday.isoformat()}")
    assert "欧阳娜娜" in day_section(month.text, wednesday)
    assert month.text.count('class="calendar-week"') in (4, 5, 6)
    assert wednesday.strftime("%B %Y") in month.text  # "December 2026"

    admin.post("/language", data={"language": "zh"})
    zh = admin.get(f"/{acme.slug}/calendar/?view=month&date={wednesday.isoformat()}").text
    assert f"{wednesday.year}年{wednesday.month}月" in zh and "周三" in zh


def test_a_bad_date_shows_this_week(acme, admin):
    page = admin.get(f"/{acme.slug}/calendar/?view=week&date=2026-02-31")
    assert page.status_code == 200
    assert datetime.now(SHANGHAI).date().isoformat() in page.text


def test_drag_to_another_day_keeps_the_time_and_moves_the_reminder(acme, admin, make_customer, in_tenant):
    wednesday = next_wednesday()
    customer = make_customer(acme, name="Li Lei")
    activity_id = plan(in_tenant, acme, acme.admin_member_id, customer, wednesday, at=time(14, 0))
    friday = wednesday + timedelta(days=2)

    moved = admin.post(f"/{acme.slug}/calendar/{activity_id}/move", headers=HX,
                       data={"day": friday.isoformat(), "view": "week", "date": wednesday.isoformat(),
                             "whose": "mine"})
    assert moved.status_code == 200
    assert "Li Lei" in day_section(moved.text, friday) and "Li Lei" not in day_section(moved.text, wednesday)

    def read():
        activity = db.session.get(Activity, activity_id)
        reminders = db.session.scalars(select(Notification.due_at).where(
            Notification.source == f"activity:{activity_id}", Notification.status == "scheduled")).all()
        audit = db.session.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "activity",
                                                                     AuditEntry.entity_id == activity_id)).all()
        return activity.due_at, reminders, audit
    due, reminders, audit = in_tenant(acme, read)
    assert due.astimezone(SHANGHAI) == datetime.combine(friday, time(14, 0), tzinfo=SHANGHAI)
    assert reminders and all(r == due - timedelta(minutes=15) for r in reminders)
    assert any(c and "due_at" in c for c in audit)


def test_bad_moves_are_refused_and_change_nothing(acme, admin, make_customer, in_tenant):
    wednesday = next_wednesday()
    customer = make_customer(acme, name="Han Meimei")
    done_id = plan(in_tenant, acme, acme.admin_member_id, customer, wednesday, done=True)
    open_id = plan(in_tenant, acme, acme.admin_member_id, customer, wednesday, summary="Open one")
    due_before = in_tenant(acme, lambda: (db.session.get(Activity, done_id).due_at,
                                          db.session.get(Activity, open_id).due_at))

    refused = admin.post(f"/{acme.slug}/calendar/{done_id}/move", headers=HX,
                         data={"day": (wednesday + timedelta(days=1)).isoformat(), "date": wednesday.isoformat()})
    assert refused.status_code == 422
    assert "This follow-up is done" in refused.text and 'id="calendar-grid"' in refused.text
    for bad in ("", "someday", "2026-13-01"):
        page = admin.post(f"/{acme.slug}/calendar/{open_id}/move", headers=HX, data={"day": bad})
        assert page.status_code == 422, bad
        assert "Choose a day." in page.text or "Enter a valid date." in page.text
    assert admin.post(f"/{acme.slug}/calendar/999999/move", headers=HX,
                      data={"day": wednesday.isoformat()}).status_code == 404
    assert in_tenant(acme, lambda: (db.session.get(Activity, done_id).due_at,
                                    db.session.get(Activity, open_id).due_at)) == due_before


def test_rep_sees_own_plans_and_manager_sees_the_team(acme, people, client_as, make_customer, in_tenant):
    wednesday = next_wednesday()
    customer = make_customer(acme, name="Shared customer")
    for who in ("rep", "rep2", "west"):
        plan(in_tenant, acme, people[who].member_id, customer, wednesday, summary=f"plan of {who}")
    url = f"/{acme.slug}/calendar/?view=week&date={wednesday.isoformat()}"

    rep = client_as(people["rep"].account_id)
    page = rep.get(url + "&whose=team").text  # a rep's scope is their own: "team" is not offered nor obeyed
    assert page.count("Shared customer") == 1 and "Everyone I can see" not in page
    rep2_plan = in_tenant(acme, lambda: db.session.scalar(select(Activity.id).where(
        Activity.owner_id == people["rep2"].member_id)))
    assert rep.post(f"/{acme.slug}/calendar/{rep2_plan}/move", headers=HX,
                    data={"day": wednesday.isoformat()}).status_code == 404

    manager = client_as(people["manager"].account_id)
    mine = manager.get(url).text
    assert "Shared customer" not in day_section(mine, wednesday)
    team = manager.get(url + "&whose=team").text
    assert "Rui Rep" in team and "Ren Rep" in team and "Wes West" not in team


def test_plan_from_a_day_opens_the_form_with_that_day(acme, admin):
    day = next_wednesday()
    calendar = admin.get(f"/{acme.slug}/calendar/?date={day.isoformat()}").text
    link = re.search(rf'href="([^"]*due_at={day.isoformat()}T09:00[^"]*)"', calendar)
    assert link, "no plan link on the day"
    form = admin.get(link[1].replace("&amp;", "&"), headers=HX)
    assert f'value="{day.isoformat()}T09:00"' in form.text


def feed_link(client, slug) -> str:
    page = client.get(f"/{slug}/calendar/").text
    found = re.search(r'class="feed-url" type="text" readonly value="([^"]+)"', page)
    return local_link(found[1]) if found else ""


def test_calendar_feed_lists_my_plans_with_reminders_and_its_link_can_be_replaced(
        app, acme, people, client_as, make_customer, in_tenant):
    wednesday = next_wednesday()
    customer = make_customer(acme, name="王芳")
    plan(in_tenant, acme, people["rep"].member_id, customer, wednesday, summary="带样品拜访", remind=60)
    plan(in_tenant, acme, people["rep2"].member_id, customer, wednesday, summary="Someone else's plan")
    rep = client_as(people["rep"].account_id)
    assert feed_link(rep, acme.slug) == ""

    assert rep.post(f"/{acme.slug}/calendar/feed", data={"action": "new"}).status_code == 303
    url = feed_link(rep, acme.slug)
    assert re.fullmatch(r"/cal/\d+\.\d+\.[A-Za-z0-9_-]{43}\.ics", url)
    anonymous = app.test_client()
    answer = anonymous.get(url)
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    assert answer.headers["Cache-Control"] == "no-store"
    events = list(Calendar.from_ical(answer.data).walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert str(event["summary"]) == "Call: 王芳" and "带样品拜访" in str(event["description"])
    assert event.decoded("dtstart") == datetime.combine(wednesday, time(10, 30), tzinfo=SHANGHAI)
    alarms = list(event.walk("VALARM"))
    assert len(alarms) == 1 and alarms[0].decoded("trigger") == -timedelta(minutes=60)

    assert rep.post(f"/{acme.slug}/calendar/feed", data={"action": "new"}).status_code == 303
    assert anonymous.get(url).status_code == 404  # the old link ends
    new_url = feed_link(rep, acme.slug)
    assert new_url != url and anonymous.get(new_url).status_code == 200
    tampered = new_url[:-6] + ("A" if new_url[-6] != "A" else "B") + new_url[-5:]
    assert anonymous.get(tampered).status_code == 404
    other_tenant = re.sub(r"/cal/\d+\.", "/cal/999999.", new_url)
    assert anonymous.get(other_tenant).status_code == 404

    assert rep.post(f"/{acme.slug}/calendar/feed", data={"action": "off"}).status_code == 303
    assert anonymous.get(new_url).status_code == 404 and feed_link(rep, acme.slug) == ""


def test_feed_of_a_deactivated_member_is_gone(app, acme, people, client_as, in_tenant):
    from crm.members.models import Member

    rep = client_as(people["rep"].account_id)
    rep.post(f"/{acme.slug}/calendar/feed", data={"action": "new"})
    url = feed_link(rep, acme.slug)
    assert app.test_client().get(url).status_code == 200
    in_tenant(acme, lambda: setattr(db.session.get(Member, people["rep"].member_id), "active", False))
    assert app.test_client().get(url).status_code == 404
