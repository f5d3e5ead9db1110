"""The outbox end to end: a follow-up's reminder reaches its owner by email and in-app once, moves and
cancellations follow their cause, failures are retried and shown, and the sweeper recovers lost jobs."""
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

from crm.extensions import db
from crm.notify.models import Notification, NotificationDue
from tests.conftest import HX


def local(moment: datetime) -> str:
    return moment.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M")


def plan(client, slug, customer_id, due, remind="15", summary="Call about the quote"):
    return client.post(f"/{slug}/activities/", headers=HX, data={
        "mode": "plan", "customer_id": customer_id, "method": "call", "summary": summary, "due_at": local(due),
        "remind_minutes": remind})


def due_lines(app, tenant) -> int:
    with app.app_context():
        return db.session.scalar(select(db.func.count()).select_from(NotificationDue)
                                 .where(NotificationDue.tenant_id == tenant.id))


def test_reminder_reaches_the_owner_by_email_and_in_app_exactly_once(
        app, acme, client_as, make_customer, run_worker, smtp_on, outbox_rows):
    customer = make_customer(acme, name="Zhao Lei")
    admin = client_as(acme.admin_account_id)
    assert plan(admin, acme.slug, customer, datetime.now(UTC) + timedelta(minutes=10)).status_code == 204
    assert admin.get(f"/{acme.slug}/messages/bell", headers=HX).text.count("bell-count") == 0  # not sent yet
    run_worker()
    mails = [m for m in smtp_on.messages if m["To"] == f"admin@{acme.slug}.example"]
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Reminder: Call Zhao Lei"
    assert "Call about the quote" in mails[0].get_payload()[0].get_payload(decode=True).decode()
    assert [row[:3] for row in outbox_rows(acme)] == [("inapp", "reminder", "sent"), ("email", "reminder", "sent")]
    bell = admin.get(f"/{acme.slug}/messages/bell", headers=HX)
    assert '<span class="bell-count">1</span>' in bell.text
    inbox = admin.get(f"/{acme.slug}/messages/")
    assert "Reminder: Call Zhao Lei" in inbox.text
    assert "bell-count" not in admin.get(f"/{acme.slug}/messages/bell", headers=HX).text  # read now
    # Handing everything over again (a sweeper run, a retried job) sends nothing twice.
    from crm.notify.jobs import sweep
    with app.app_context():
        sweep(stale_seconds=0)
    run_worker()
    assert len([m for m in smtp_on.messages if m["To"] == f"admin@{acme.slug}.example"]) == 1
    assert due_lines(app, acme) == 0


def test_moving_or_finishing_the_follow_up_moves_or_cancels_its_reminder(
        app, acme, client_as, make_customer, in_tenant, outbox_rows):
    customer = make_customer(acme, name="Sun Li")
    admin = client_as(acme.admin_account_id)
    due = datetime.now(UTC) + timedelta(days=2)
    plan(admin, acme.slug, customer, due, remind="1440")
    from crm.followups.models import Activity
    activity_id = in_tenant(acme, lambda: db.session.scalar(select(Activity.id)))
    reminder_at = lambda: in_tenant(acme, lambda: sorted({n.due_at for n in db.session.scalars(
        select(Notification).where(Notification.status == "scheduled"))}))
    assert reminder_at() == [due.replace(second=0, microsecond=0) - timedelta(days=1)]
    later = due + timedelta(days=1)
    moved = admin.post(f"/{acme.slug}/activities/{activity_id}", headers=HX, data={
        "method": "call", "summary": "Call about the quote", "due_at": local(later), "remind_minutes": "1440"})
    assert moved.status_code == 204
    assert reminder_at() == [later.replace(second=0, microsecond=0) - timedelta(days=1)]
    assert due_lines(app, acme) == 2
    admin.post(f"/{acme.slug}/activities/{activity_id}/done", headers=HX, data={"outcome": "Reached early"})
    assert reminder_at() == []
    assert {row[2] for row in outbox_rows(acme)} == {"cancelled"}
    assert due_lines(app, acme) == 0


def test_smtp_down_is_retried_then_arrives_and_past_the_limit_is_failed_and_shown(
        app, acme, client_as, in_tenant, smtp_server, run_worker, outbox_rows):
    from crm.notify import outbox
    from crm.notify.jobs import send_notification
    from crm.extensions import utcnow
    from tests.conftest import free_port

    def queue_two():
        for key in ("a", "b"):
            outbox.schedule(channel="email", kind="reminder", recipient=f"{key}@staff.example", key=f"t:{key}",
                            payload={"method": "Call", "customer": key, "due": "now", "summary": "", "link": ""})
        return [n.id for n in db.session.scalars(select(Notification).order_by(Notification.id))]

    def due_now():  # skip the backoff wait
        db.session.execute(Notification.__table__.update().values(due_at=utcnow()))

    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{free_port()}", NOTIFY_BACKOFF=[3600], NOTIFY_MAX_ATTEMPTS=3)
    try:
        first, second = in_tenant(acme, queue_two)
        run_worker()
        rows = outbox_rows(acme)
        assert [r[2:4] for r in rows] == [("scheduled", 1), ("scheduled", 1)]  # retried in an hour
        assert "ConnectionRefusedError" in rows[0][5]
        for _attempt in (2, 3):
            in_tenant(acme, due_now)
            with app.app_context():
                send_notification(acme.id, second)
        assert outbox_rows(acme)[1][2:4] == ("failed", 3)
        page = client_as(acme.admin_account_id).get(f"/{acme.slug}/messages/outbox?status=failed")
        assert "b@staff.example" in page.text and "ConnectionRefusedError" in page.text
        app.config["SMTP_URL"] = smtp_server.url  # the server is back
        in_tenant(acme, due_now)
        with app.app_context():
            assert send_notification(acme.id, first) == "sent"
        retried = client_as(acme.admin_account_id).post(f"/{acme.slug}/messages/outbox/{second}/retry")
        assert retried.status_code == 303
        run_worker()
    finally:
        app.config.update(SMTP_URL="", NOTIFY_BACKOFF=[30, 120, 600, 1800], NOTIFY_MAX_ATTEMPTS=5)
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@staff.example", "b@staff.example"]
    assert [r[2] for r in outbox_rows(acme)] == ["sent", "sent"]


def test_sweeper_restores_every_pending_message_after_redis_is_flushed(app, acme, in_tenant, run_worker,
                                                                       outbox_rows):
    from crm.extensions import redis_connection
    from crm.notify import outbox
    from crm.notify.jobs import sweep

    def queue_many():
        for i in range(25):
            outbox.schedule(channel="inapp", kind="reminder", recipient=str(acme.admin_member_id),
                            member_id=acme.admin_member_id, key=f"flush:{i}",
                            payload={"method": "Call", "customer": f"c{i}"})

    in_tenant(acme, queue_many)
    with app.app_context():
        redis_connection().flushdb()
    run_worker()
    assert {r[2] for r in outbox_rows(acme)} == {"scheduled"}  # the jobs were lost with Redis
    with app.app_context():
        assert sweep(stale_seconds=0) == 25
        assert sweep(stale_seconds=0) == 0  # their jobs now wait in the queue: no second copy
    run_worker()
    assert [r[2] for r in outbox_rows(acme)] == ["sent"] * 25
    assert due_lines(app, acme) == 0


def test_quiet_hours_hold_customer_messages_until_morning(app, acme, in_tenant):
    from crm.notify import rules
    from crm.notify.models import Notification as N

    def check():
        night = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
        morning = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
        customer_message = N(kind="order_status", channel="sms")
        staff_message = N(kind="reminder", channel="sms")
        return (rules.held_until(customer_message, night) == morning,
                rules.held_until(staff_message, night) is None,
                rules.held_until(customer_message, night - timedelta(hours=6)) is None,  # 17:30: not quiet
                rules.held_until(customer_message, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
                == morning)  # 07:00 next day: still quiet

    assert in_tenant(acme, check) == (True, True, True, True)


def test_template_variables_are_escaped_in_html_and_kept_in_text():
    from crm.notify.messages import render_text

    message = render_text("Hi {{ customer }}", "Dear {{ customer }},\nbye", {"customer": "<script>x</script>"})
    assert message.text == "Dear <script>x</script>,\nbye"
    assert "&lt;script&gt;x&lt;/script&gt;" in message.html and "<script>" not in message.html


def test_opted_out_customer_gets_no_campaign_message(app, acme, in_tenant, make_customer, run_worker, outbox_rows):
    from crm.customers.models import Customer
    from crm.notify import outbox
    from crm.extensions import utcnow

    customer = make_customer(acme, name="Opted Out", phone="13800000009")

    def queue_campaign():
        db.session.get(Customer, customer).marketing_opt_out_at = utcnow()
        outbox.schedule(channel="sms", kind="campaign", recipient="+8613800000009", key="c:1", customer_id=customer,
                        payload={"subject": "Sale", "body": "50% off"}, due_at=datetime(2026, 11, 24, 3, 0,
                                                                                       tzinfo=UTC))

    in_tenant(acme, queue_campaign)
    run_worker()
    assert outbox_rows(acme) == [("sms", "campaign", "cancelled", 0, "+8613800000009", "opted out")]
    with app.app_context():
        assert db.session.execute(text("select count(*) from public.dev_messages where recipient = "
                                       "'+8613800000009'")).scalar() == 0


def test_tenant_template_is_previewed_saved_used_and_bad_ones_refused(app, acme, client_as, in_tenant, run_worker,
                                                                      outbox_rows):
    from crm.notify import outbox

    admin = client_as(acme.admin_account_id)
    page = admin.get(f"/{acme.slug}/messages/templates")
    assert "Follow-up reminder (to staff)" in page.text and "{{ customer }}" in page.text
    preview = admin.post(f"/{acme.slug}/messages/templates/preview", headers=HX, data={
        "kind": "reminder", "subject": "Ring {{ customer }}", "body": "Due {{ due }} <b>now</b>"})
    assert "Ring Wang Fang" in preview.text and "Due 2026-12-01 10:00 &lt;b&gt;now&lt;/b&gt;" in preview.text
    bad = admin.post(f"/{acme.slug}/messages/templates", data={
        "kind": "reminder", "language": "en", "subject": "Hi", "body": "{{ nonsense }}"})
    assert bad.status_code == 422 and "This template cannot be used" in bad.text and "nonsense" in bad.text
    assert admin.post(f"/{acme.slug}/messages/templates", data={
        "kind": "reminder", "language": "en", "subject": "Ring {{ customer }}", "body": "At {{ due }}."}
    ).status_code == 303
    assert "Customised" in admin.get(f"/{acme.slug}/messages/templates").text
    in_tenant(acme, lambda: outbox.schedule(channel="inapp", kind="reminder", recipient=str(acme.admin_member_id),
                                            member_id=acme.admin_member_id, key="tpl",
                                            payload={"customer": "Ma Li", "due": "10:00"}))
    run_worker()
    assert "Ring Ma Li" in admin.get(f"/{acme.slug}/messages/").text


def test_member_chooses_sms_and_the_reminder_arrives_by_email_sms_and_in_app(
        app, acme, client_as, make_customer, in_tenant, run_worker, smtp_on, httpserver):
    import json

    from crm.notify import channel_settings

    httpserver.expect_request("/v1/sms", method="POST").respond_with_json({"id": "sms-1"})
    in_tenant(acme, lambda: channel_settings.save_sms({"provider": "http", "url": httpserver.url_for("/v1/sms"),
                                             "auth_header": "Authorization", "auth_value": "Bearer t"}))
    admin = client_as(acme.admin_account_id)
    choices = {"name": "Ada Admin", "channels": ["email", "sms"]}
    refused = admin.post(f"/{acme.slug}/profile", data={**choices, "phone": ""})
    assert refused.status_code == 422 and "Enter your mobile number to get reminders by SMS." in refused.text
    assert admin.post(f"/{acme.slug}/profile", data={**choices, "phone": "138 0013 8000"}).status_code == 303
    customer = make_customer(acme, name="Qian Duo")
    plan(admin, acme.slug, customer, datetime.now(timezone.utc) + timedelta(minutes=5), summary="Confirm delivery")
    run_worker()
    texts = [json.loads(request.get_data()) for request, _response in httpserver.log]
    assert len(texts) == 1 and texts[0]["to"] == "+8613800138000" and "Qian Duo" in texts[0]["text"]
    assert len([m for m in smtp_on.messages if m["Subject"] == "Reminder: Call Qian Duo"]) == 1
    assert '<span class="bell-count">1</span>' in admin.get(f"/{acme.slug}/messages/bell", headers=HX).text


def test_a_wording_kept_in_the_old_table_is_used_after_the_upgrade(app, acme, in_tenant):
    from sqlalchemy import text

    from crm.notify import messages
    from tenants.migrations import upgrade_schema

    schema = f"t_{acme.id}"
    with app.app_context(), db.engine.begin() as connection:  # a wording as t0049 stored it
        owner = connection.execute(text("select tableowner from pg_tables where schemaname = :s "
                                        "and tablename = 'settings'"), {"s": schema}).scalar()
        connection.execute(text(f"create table {schema}.message_templates (id int primary key, kind varchar(40), "
                                f"channel varchar(20), language varchar(12), subject varchar(200), body text, "
                                f"updated_at timestamptz)"))
        connection.execute(text(f'alter table {schema}.message_templates owner to "{owner}"'))
        connection.execute(text(f"insert into {schema}.message_templates values "
                                f"(1, 'reminder', 'any', 'zh', '提醒：{{{{ customer }}}}', '到期 {{{{ due }}}}', now())"))
        connection.execute(text(f"update {schema}.alembic_version set version_num = 't0049'"))
    with app.app_context():
        upgrade_schema(db.engine, schema, "t0050")
    assert in_tenant(acme, lambda: messages.template_for("reminder", "email", "zh")) == \
        ("提醒：{{ customer }}", "到期 {{ due }}")
    assert in_tenant(acme, lambda: messages.template_for("reminder", "email", "en")) == \
        messages.DEFAULTS[("reminder", "en")]


def test_resetting_a_wording_brings_back_the_default(acme, client_as, in_tenant):
    from crm.notify import messages, service

    def customise():
        service.save_template("reminder", "en", "Ring {{ customer }}", "At {{ due }}.")
        service.save_template("reminder", "zh", "打给 {{ customer }}", "{{ due }}")
    in_tenant(acme, customise)
    in_tenant(acme, lambda: service.reset_template("reminder", "en"))
    assert in_tenant(acme, lambda: messages.template_for("reminder", "email", "en")) == \
        messages.DEFAULTS[("reminder", "en")]
    assert in_tenant(acme, lambda: messages.template_for("reminder", "sms", "zh")) == ("打给 {{ customer }}", "{{ due }}")
