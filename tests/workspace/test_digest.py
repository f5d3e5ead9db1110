"""The weekly and daily summary of key numbers: opted in on the profile page, written once per member and period by
the hourly morning run, counted in the workspace's days (Asia/Shanghai, UTC+8), in the reader's language, and
delivered by email."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.header import decode_header, make_header

import pytest
from sqlalchemy import select

from crm.customers.models import Customer
from crm.deals.models import Deal, Stage
from crm.extensions import db
from crm.followups.models import Activity
from crm.members.models import Member
from crm.notify.models import Notification
from crm.orders.models import Order
from crm.settings import put_setting
from tests.conftest import local_link

MONDAY = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 on Monday 23 November in Shanghai
TUESDAY = MONDAY + timedelta(days=1)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def run(app, tenant, now):
    from crm.followups.jobs import daily_reminders

    with app.app_context():
        return daily_reminders(tenant.id, now)


def summaries(in_tenant, tenant):
    """(member id, channel, language, payload) of each summary in the outbox, oldest first."""
    return in_tenant(tenant, lambda: [(n.member_id, n.channel, n.language, n.payload) for n in db.session.scalars(
        select(Notification).where(Notification.kind == "summary").order_by(Notification.id))])


def opt_in(client, acme, name, *chosen):
    page = client.post(f"/{acme.slug}/profile", data={"name": name, "phone": "", "channels": ["email"],
                                                      "summaries": list(chosen)})
    assert page.status_code == 303


@pytest.fixture
def week(acme, people, in_tenant):
    """Records of the week 16-22 November (the last whole week on MONDAY) and the week before, in local days."""
    rui, ren, wes = people["rep"].member_id, people["rep2"].member_id, people["west"].member_id

    def make():
        shop = Customer(name="Shop", owner_id=rui, created_at=utc(2025, 1, 1), custom={})
        db.session.add(shop)
        for owner, when in ((rui, utc(2026, 11, 22, 15, 30)),  # 23:30 on Sunday 22nd: yesterday and last week
                            (rui, utc(2026, 11, 17, 2, 0)),
                            (rui, utc(2026, 11, 10, 2, 0)),  # the week before
                            (rui, utc(2026, 11, 22, 16, 30)),  # 00:30 on Monday 23rd: this week, not counted
                            (ren, utc(2026, 11, 19, 2, 0)),
                            (wes, utc(2026, 11, 18, 2, 0))):
            db.session.add(Customer(name="New", owner_id=owner, created_at=when, custom={}))
        db.session.flush()
        won = db.session.scalar(select(Stage.id).where(Stage.pipeline_id == 1, Stage.kind == "won"))
        db.session.add(Deal(title="D", customer_id=shop.id, pipeline_id=1, stage_id=won, amount=Decimal("300.00"),
                            currency="CNY", owner_id=rui, status="won", probability=100,
                            closed_at=utc(2026, 11, 20, 3, 0), created_at=utc(2026, 11, 1)))
        db.session.add(Order(customer_id=shop.id, owner_id=rui, status="placed", currency="CNY",
                             total=Decimal("120.00"), created_at=utc(2026, 11, 21, 3, 0)))
        db.session.add(Activity(owner_id=rui, customer_id=shop.id, method="call", summary="S", outcome="",
                                done_at=utc(2026, 11, 22, 3, 0)))

    in_tenant(acme, make)


def test_each_opted_in_member_gets_one_summary_per_period(app, acme, people, week, client_as, in_tenant):
    rui, mia = client_as(people["rep"].account_id), client_as(people["manager"].account_id)
    opt_in(rui, acme, "Rui Rep", "weekly", "daily")
    opt_in(mia, acme, "Mia Manager", "weekly")
    assert 'value="weekly" checked' in rui.get(f"/{acme.slug}/profile").text

    assert mia.post("/language", data={"language": "zh"}).status_code in (302, 303)
    assert run(app, acme, MONDAY - timedelta(hours=1)) == 0  # 07:30 local: not yet
    assert run(app, acme, MONDAY) == 6  # Rui weekly and daily, Mia weekly: each in-app and by email
    assert run(app, acme, MONDAY + timedelta(hours=5)) == 0  # the same periods: nothing again
    sent = summaries(in_tenant, acme)
    assert {m for m, *_rest in sent} == {people["rep"].member_id, people["manager"].member_id}  # not Ren, not Wes
    by_rui = [payload for member, channel, _lang, payload in sent if member == people["rep"].member_id
              and channel == "email"]
    weekly, daily = sorted(by_rui, key=lambda p: len(p["period"]), reverse=True)
    assert weekly["period"] == "Nov 16\u2009–\u200922, 2026" and daily["period"] == "Nov 22, 2026"
    assert weekly["numbers"].splitlines()[:4] == [
        "New customers: 2 (before: 1)", "Deals won: CN¥300.00 (before: CN¥0.00)",
        "Order revenue: CN¥120.00 (before: CN¥0.00)", "Follow-ups done: 1 (before: 0)"]
    assert daily["numbers"].splitlines()[:4] == [
        "New customers: 1 (before: 0)", "Deals won: CN¥0.00 (before: CN¥0.00)",
        "Order revenue: CN¥0.00 (before: CN¥120.00)", "Follow-ups done: 1 (before: 0)"]
    assert weekly["link"].endswith(f"/{acme.slug}/reports/?preset=custom&start=2026-11-16&end=2026-11-22")
    assert rui.get(local_link(weekly["link"])).status_code == 200
    (language, mias), = {(lang, p["numbers"]) for m, _c, lang, p in sent if m == people["manager"].member_id}
    assert language == "zh" and mias.startswith("新增客户：3（上期：1）")  # East: Rui's two and Ren's one

    assert run(app, acme, TUESDAY) == 2  # only Rui's daily one on other mornings
    assert len(summaries(in_tenant, acme)) == 8


def test_the_weekly_summary_follows_the_workspace_week_start(app, acme, people, client_as, in_tenant):
    opt_in(client_as(people["rep"].account_id), acme, "Rui Rep", "weekly")
    in_tenant(acme, lambda: put_setting("week_start", "sunday"))
    assert run(app, acme, MONDAY) == 0  # a Sunday-week workspace had its summary yesterday
    assert run(app, acme, MONDAY - timedelta(days=1)) == 2
    assert summaries(in_tenant, acme)[0][3]["period"] == "Nov 15\u2009–\u200921, 2026"


def test_opting_out_stops_the_summary(app, acme, people, client_as, in_tenant):
    rui = client_as(people["rep"].account_id)
    opt_in(rui, acme, "Rui Rep", "daily")
    opt_in(rui, acme, "Rui Rep")
    assert run(app, acme, MONDAY) == 0 and summaries(in_tenant, acme) == []


def test_the_summary_arrives_by_email(app, acme, people, week, client_as, in_tenant, smtp_on, run_worker):
    opt_in(client_as(people["rep"].account_id), acme, "Rui Rep", "weekly")
    email = in_tenant(acme, lambda: db.session.get(Member, people["rep"].member_id).email)
    assert run(app, acme, MONDAY) == 2
    run_worker()
    mails = [m for m in smtp_on.messages if m["To"] == email]
    assert len(mails) == 1
    assert str(make_header(decode_header(mails[0]["Subject"]))) == "Your numbers for Nov 16\u2009–\u200922, 2026"
    body = mails[0].get_payload()[0].get_payload(decode=True).decode()
    assert "New customers: 2 (before: 1)" in body and "/reports/?preset=custom" in body
