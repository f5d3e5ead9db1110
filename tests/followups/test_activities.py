"""Follow-ups as a sales rep meets them: plan, log, mark done with the next one, My day, notes, the timeline."""
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select

from crm.followups.models import Activity
from crm.customers.models import Customer
from crm.extensions import db
from tests.conftest import HX


def local(moment: datetime) -> str:
    """A datetime-local value in the workspace's zone (Asia/Shanghai by default)."""
    return moment.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M")


def count_activities(in_tenant, tenant) -> int:
    return in_tenant(tenant, lambda: db.session.scalar(select(func.count(Activity.id))))


def plan(client, slug, customer_id, due, summary="Call about the quote", **extra):
    form = {"mode": "plan", "customer_id": customer_id, "method": "call", "summary": summary,
            "due_at": local(due), "remind_minutes": "15", **extra}
    return client.post(f"/{slug}/activities/", data=form, headers=HX)


def test_plan_with_bad_input_is_refused_at_the_field_and_nothing_saved(acme, client_as, make_customer, in_tenant):
    customer = make_customer(acme, name="Wang Fang")
    admin = client_as(acme.admin_account_id)
    page = admin.post(f"/{acme.slug}/activities/", headers=HX,
                      data={"mode": "plan", "customer_id": customer, "method": "call", "summary": "",
                            "due_at": "tomorrow-ish"})
    assert page.status_code == 422
    assert "This field is required." in page.text
    page = admin.post(f"/{acme.slug}/activities/", headers=HX,
                      data={"mode": "plan", "customer_id": customer, "method": "call", "summary": "Quote",
                            "due_at": "2026-13-45T99:00"})
    assert page.status_code == 422 and "Enter a date and time." in page.text
    page = admin.post(f"/{acme.slug}/activities/", headers=HX,
                      data={"mode": "plan", "customer_id": customer, "method": "fax", "summary": "Quote",
                            "due_at": "2026-12-01T10:00"})
    assert page.status_code == 422 and "Choose how." in page.text
    assert count_activities(in_tenant, acme) == 0


def test_overdue_follow_up_is_on_my_day_and_done_records_outcome_and_plans_the_next(
        acme, client_as, make_customer, in_tenant):
    customer = make_customer(acme, name="Li Lei")
    admin = client_as(acme.admin_account_id)
    now = datetime.now(UTC)
    assert plan(admin, acme.slug, customer, now - timedelta(days=2), "Send the price list").status_code == 204
    day = admin.get(f"/{acme.slug}/activities/")
    assert "Send the price list" in day.text and "Overdue" in day.text and "Li Lei" in day.text
    activity_id = in_tenant(acme, lambda: db.session.scalar(select(Activity.id)))

    refused = admin.post(f"/{acme.slug}/activities/{activity_id}/done", data={"outcome": ""}, headers=HX)
    assert refused.status_code == 422 and "This field is required." in refused.text
    done = admin.post(f"/{acme.slug}/activities/{activity_id}/done", headers=HX,
                      data={"outcome": "Wants 20 units", "next_due_at": local(now + timedelta(days=3)),
                            "next_method": "visit", "next_summary": "Bring samples"})
    assert done.status_code == 204

    page = admin.get(f"/{acme.slug}/customers/{customer}")
    assert "Call done: Wants 20 units" in page.text  # on the timeline
    assert "Bring samples" in page.text  # the next follow-up, planned
    day = admin.get(f"/{acme.slug}/activities/").text
    assert "Send the price list" not in day and "Bring samples" in day
    contacted = in_tenant(acme, lambda: db.session.get(Customer, customer).last_contact_at)
    assert contacted is not None and abs((contacted - now).total_seconds()) < 60
    again = admin.post(f"/{acme.slug}/activities/{activity_id}/done", data={"outcome": "x"}, headers=HX)
    assert again.status_code == 422 and "already done" in again.text


def test_logged_interaction_and_note_show_on_the_timeline(acme, client_as, make_customer, in_tenant):
    customer = make_customer(acme, name="韩梅梅")
    admin = client_as(acme.admin_account_id)
    logged = admin.post(f"/{acme.slug}/activities/", headers=HX,
                        data={"mode": "log", "customer_id": customer, "method": "visit",
                              "summary": "看了样品", "outcome": "满意"})
    assert logged.status_code == 204
    assert admin.post(f"/{acme.slug}/activities/notes", data={"customer_id": customer, "text": "下周报价"}
                      ).status_code == 303
    page = admin.get(f"/{acme.slug}/customers/{customer}").text
    assert "Visit logged: 看了样品" in page and "Note: 下周报价" in page
    assert count_activities(in_tenant, acme) == 1  # the note is on the timeline only


def test_rep_cannot_touch_another_reps_follow_up_or_assign_to_them(acme, client_as, add_member, make_customer):
    rep_account, rep = add_member(acme, "sales_rep", "Rep One")
    _other_account, other = add_member(acme, "sales_rep", "Rep Two")
    customer = make_customer(acme, member_id=rep, name="Rep's customer", owner_id=str(rep))
    admin = client_as(acme.admin_account_id)
    plan(admin, acme.slug, customer, datetime.now(UTC) + timedelta(days=1), "Other's task",
         owner_id=str(other))
    rep_client = client_as(rep_account)
    assert "Other's task" not in rep_client.get(f"/{acme.slug}/activities/").text
    assert "Other's task" not in rep_client.get(f"/{acme.slug}/customers/{customer}").text
    page = plan(rep_client, acme.slug, customer, datetime.now(UTC) + timedelta(days=1), "Mine",
                owner_id=str(other))
    assert page.status_code == 422 and "Choose someone you may assign follow-ups to." in page.text
    assert plan(rep_client, acme.slug, customer, datetime.now(UTC) + timedelta(days=1), "Mine"
                ).status_code == 204


def test_my_day_buckets_by_the_workspace_day(acme, make_customer, in_tenant):
    from crm.followups import service
    from crm.members.models import Member

    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai

    def buckets():
        admin = db.session.scalar(select(Member))
        for hours, summary in ((-20, "yesterday"), (-1, "this morning"), (11, "tonight"), (13, "tomorrow"),
                               (24 * 9, "in nine days")):
            db.session.add(Activity(owner_id=admin.id, method="call", summary=summary, outcome="",
                                    due_at=now + timedelta(hours=hours)))
        db.session.flush()
        day = service.my_day(admin, now)
        return {key: [a.summary for a in rows] for key, rows in day.items()}

    assert in_tenant(acme, buckets) == {"overdue": ["yesterday"], "today": ["this morning", "tonight"],
                                        "upcoming": ["tomorrow"]}


def test_follow_up_on_a_deal_shows_on_the_deal_and_customer_timelines(acme, client_as, make_customer, in_tenant):
    from crm.deals.models import Deal, Stage

    customer = make_customer(acme, name="Deal Customer")

    def deal():
        lead = db.session.scalar(select(Stage).where(Stage.kind == "open").order_by(Stage.position))
        row = Deal(title="Big order", customer_id=customer, pipeline_id=lead.pipeline_id, stage_id=lead.id,
                   currency="CNY", owner_id=acme.admin_member_id, probability=10, status="open")
        db.session.add(row)
        db.session.flush()
        return row.id

    deal_id = in_tenant(acme, deal)
    admin = client_as(acme.admin_account_id)
    logged = admin.post(f"/{acme.slug}/activities/", headers=HX, data={
        "mode": "log", "deal_id": deal_id, "method": "meeting", "summary": "Walked through the offer",
        "outcome": "Needs a discount"})
    assert logged.status_code == 204
    assert "Meeting logged: Walked through the offer" in admin.get(f"/{acme.slug}/deals/{deal_id}").text
    assert "Meeting logged: Walked through the offer" in admin.get(f"/{acme.slug}/customers/{customer}").text


def test_next_after_a_write_stays_on_this_site(acme, client_as, make_customer):
    admin = client_as(acme.admin_account_id)
    customer = make_customer(acme, name="Redirect Co")
    for target in ("//evil.example/x", "/\\evil.example/x", "https://evil.example/"):
        answer = admin.post(f"/{acme.slug}/activities/notes", data={"customer_id": customer, "text": "hi",
                                                                   "next": target})
        assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/{acme.slug}/activities/")
    kept = admin.post(f"/{acme.slug}/activities/notes", data={"customer_id": customer, "text": "hi",
                                                             "next": f"/{acme.slug}/customers/{customer}"})
    assert kept.headers["Location"].endswith(f"/{acme.slug}/customers/{customer}")
