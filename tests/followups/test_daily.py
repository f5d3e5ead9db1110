"""Daily reminders: customers gone quiet reach their owner once per quiet spell; the morning digest is opt-in."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from crm.customers.models import Customer
from crm.extensions import db
from crm.notify.models import Notification
from tests.conftest import local_link

MORNING = datetime(2026, 11, 24, 1, 30, tzinfo=timezone.utc)  # 09:30 in Shanghai
NIGHT = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)  # 04:00 in Shanghai


def messages(in_tenant, tenant, kind):
    return in_tenant(tenant, lambda: [(n.channel, n.recipient, n.payload) for n in db.session.scalars(
        select(Notification).where(Notification.kind == kind).order_by(Notification.id))])


def run_daily(app, tenant, now):
    from crm.followups.jobs import daily_reminders

    with app.app_context():
        return daily_reminders(tenant.id, now)


def test_quiet_customers_reach_owner_and_manager_once(app, acme, client_as, add_member, make_customer, in_tenant):
    _rep_account, rep = add_member(acme, "sales_rep", "Rep Quiet")
    _boss_account, boss = add_member(acme, "sales_manager", "Boss")
    admin = client_as(acme.admin_account_id)
    refused = admin.post(f"/{acme.slug}/activities/rules", data={"enabled": "1", "days": "0"})
    assert refused.status_code == 422 and "Enter a whole number from 1 to 365." in refused.text
    assert admin.post(f"/{acme.slug}/activities/rules", data={"enabled": "1", "days": "30", "notify_manager": "1"}
                      ).status_code == 303
    quiet = make_customer(acme, name="Quiet Ltd", owner_id=str(rep))
    busy = make_customer(acme, name="Busy Ltd", owner_id=str(rep))

    def arrange():
        from crm.members.models import Member, Team
        team = Team(name="Quiet team", manager_id=boss)
        db.session.add(team)
        db.session.flush()
        db.session.get(Member, rep).team_id = team.id
        db.session.get(Customer, quiet).last_contact_at = MORNING - timedelta(days=40)
        db.session.get(Customer, busy).last_contact_at = MORNING - timedelta(days=2)

    in_tenant(acme, arrange)
    assert run_daily(app, acme, NIGHT) == 0  # not morning yet in Shanghai
    assert run_daily(app, acme, MORNING) == 4  # owner and manager, email and in-app
    sent = messages(in_tenant, acme, "quiet_customers")
    assert {(channel, payload["customers"]) for channel, _to, payload in sent} == {("email", "Quiet Ltd"),
                                                                                  ("inapp", "Quiet Ltd")}
    assert {to for _c, to, _p in sent if _c == "inapp"} == {str(rep), str(boss)}
    assert run_daily(app, acme, MORNING + timedelta(hours=2)) == 0  # same day: nothing again
    assert run_daily(app, acme, MORNING + timedelta(days=1)) == 0  # still the same quiet spell


def test_morning_digest_only_for_members_who_asked(app, acme, client_as, make_customer, in_tenant):
    from crm.followups.models import Activity

    admin = client_as(acme.admin_account_id)
    customer = make_customer(acme, name="Digest Co")

    def plan():
        db.session.add(Activity(owner_id=acme.admin_member_id, customer_id=customer, method="call", summary="Chase payment",
                                outcome="", due_at=MORNING - timedelta(days=1)))

    in_tenant(acme, plan)
    assert run_daily(app, acme, MORNING) == 0
    page = admin.post(f"/{acme.slug}/activities/digest", data={"wanted": "1"}, follow_redirects=True)
    assert "You will get a morning digest." in page.text
    assert run_daily(app, acme, MORNING) == 2
    digest = messages(in_tenant, acme, "digest")
    assert digest[0][2]["overdue"] == 1 and "Chase payment" in digest[0][2]["items"]
    link = digest[0][2]["link"]  # My day, where the digest's reader goes: it must open
    assert link.endswith(f"/{acme.slug}/activities/")
    assert admin.get(local_link(link)).status_code == 200
    assert run_daily(app, acme, MORNING + timedelta(hours=3)) == 0
