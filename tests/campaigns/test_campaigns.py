"""Campaigns end to end: the audience is the customer list's filters, messages go through the real worker
and SMTP server once per customer, opted-out and unreachable customers are counted and skipped, batches
restart after a crash without doubles, cancel stops the rest, the page shows progress, quiet hours hold."""
import re
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

from crm.extensions import db
from tests.conftest import HX


def names_in_list(client, slug, query: str) -> set[str]:
    page = client.get(f"/{slug}/customers/?{query}")
    return set(re.findall(r'class="strong">([^<]+)</a>', page.text))


def mail_text(message) -> str:
    return message.get_payload()[0].get_payload(decode=True).decode()


def campaign(in_tenant, tenant, campaign_id):
    from crm.campaigns.models import Campaign

    def read():
        c = db.session.get(Campaign, campaign_id)
        return {"status": c.status, "queued": c.queued, "opted_out": c.opted_out, "no_address": c.no_address,
                "cursor": c.cursor, "total": c.audience_total, "send_at": c.send_at}

    return in_tenant(tenant, read)


def test_audience_from_tags_and_level_is_what_the_customer_list_shows(
        shop, client_as, tagged, tag_id, post_campaign, campaign_id, campaign_rows, run_worker, smtp_on):
    tagged(shop, ["vip", "north"], name="Alpha VIP North A", level="A", email="alpha@c.example")
    tagged(shop, ["vip"], name="Bravo VIP A", level="A", email="bravo@c.example")
    tagged(shop, ["vip", "north"], name="Charlie VIP North B", level="B", email="charlie@c.example")
    tagged(shop, ["north"], name="Delta North A", level="A", email="delta@c.example")
    tagged(shop, [], name="Echo A", level="A", email="echo@c.example")
    vip, north = tag_id(shop, "vip"), tag_id(shop, "north")
    admin = client_as(shop.admin_account_id)

    # All of the tags, and a level: the list and the campaign agree.
    listed = names_in_list(admin, shop.slug, f"tag={vip}&tag={north}&level=A")
    assert listed == {"Alpha VIP North A"}
    live = admin.get(f"/{shop.slug}/campaigns/audience?tag={vip}&tag={north}&level=A", headers=HX)
    assert "1 customer matches" in live.text
    # Any of the tags.
    listed_any = names_in_list(admin, shop.slug, f"tag={vip}&tag={north}&tag_mode=any&level=A")
    assert listed_any == {"Alpha VIP North A", "Bravo VIP A", "Delta North A"}
    assert "3 customers match" in admin.get(
        f"/{shop.slug}/campaigns/audience?tag={vip}&tag={north}&tag_mode=any&level=A", headers=HX).text

    # The new-campaign form takes the list's filters from the query string and counts them.
    form = admin.get(f"/{shop.slug}/campaigns/new?tag={vip}&tag={north}&tag_mode=any&level=A")
    assert form.status_code == 200 and "3 customers match" in form.text
    sent = post_campaign(admin, shop.slug, audience={"tag": [vip, north], "tag_mode": "any", "level": "A"})
    assert sent.status_code == 204
    run_worker()
    received = sorted(m["To"] for m in smtp_on.messages)
    assert received == ["alpha@c.example", "bravo@c.example", "delta@c.example"]
    page = admin.get(f"/{shop.slug}/campaigns/{campaign_id(shop)}")
    assert "Any of the tags: north, vip" in page.text and "Level A" in page.text


def test_audience_is_scoped_by_the_creators_customer_view(
        shop, add_member, client_as, make_customer, post_campaign, campaign_id, campaign_rows, run_worker, smtp_on):
    rep_account, rep = add_member(shop, "sales_rep", "Rita Rep")
    mine = make_customer(shop, member_id=rep, name="Rita's customer", email="ritas@c.example")
    make_customer(shop, name="Admin's customer", email="admins@c.example")
    rep_client = client_as(rep_account)
    assert "1 customer matches" in rep_client.get(f"/{shop.slug}/campaigns/audience", headers=HX).text
    assert "2 customers match" in client_as(shop.admin_account_id).get(
        f"/{shop.slug}/campaigns/audience", headers=HX).text
    assert post_campaign(rep_client, shop.slug).status_code == 204
    run_worker()
    assert [row[:2] for row in campaign_rows(shop, campaign_id(shop))] == [(mine, "ritas@c.example")]
    assert [m["To"] for m in smtp_on.messages] == ["ritas@c.example"]
    # Another rep does not see Rita's campaign; a role without campaigns gets 403.
    other_account, _other = add_member(shop, "sales_rep", "Otto Rep")
    assert client_as(other_account).get(f"/{shop.slug}/campaigns/{campaign_id(shop)}").status_code == 404
    agent_account, _agent = add_member(shop, "support_agent", "Sue Support")
    assert client_as(agent_account).get(f"/{shop.slug}/campaigns/").status_code == 403


def test_email_campaign_reaches_each_customer_once_in_batches_and_counts_the_rest(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on, monkeypatch):
    from crm.campaigns import jobs, sending
    from crm.customers.models import Customer
    from crm.extensions import utcnow

    monkeypatch.setattr(sending, "BATCH", 2)  # 7 customers: four batches, each its own job and transaction
    emails = [f"c{i}@c.example" for i in range(5)]
    for i, email in enumerate(emails):
        make_customer(shop, name=f"Customer {i}", email=email)
    opted = make_customer(shop, name="Opted Out", email="opted@c.example")
    make_customer(shop, name="No Email", phone="13800138000")
    in_tenant(shop, lambda: setattr(db.session.get(Customer, opted), "marketing_opt_out_at", utcnow()))

    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug).status_code == 204
    cid = campaign_id(shop)
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    assert 'hx-trigger="every 2s"' in page.text  # polling while sending
    run_worker()

    assert sorted(m["To"] for m in smtp_on.messages) == emails
    mail = next(m for m in smtp_on.messages if m["To"] == "c3@c.example")
    assert mail["Subject"] == "Hello Customer 3"
    assert "Dear Customer 3, 20% off this week." in mail_text(mail)
    assert re.search(r"Unsubscribe: http://\S+/u/\d+\.\d+\.\S{43}", mail_text(mail))
    state = campaign(in_tenant, shop, cid)
    assert state | {"cursor": None, "send_at": None} == {"status": "done", "queued": 5, "opted_out": 1,
                                                         "no_address": 1, "cursor": None, "total": 7,
                                                         "send_at": None}
    assert {row[2] for row in campaign_rows(shop, cid)} == {"sent"}

    # The page: counts, a full progress bar, and no more polling.
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    for name, value in (("audience", 7), ("queued", 0), ("sent", 5), ("failed", 0), ("opted-out", 1),
                        ("no-address", 1)):
        assert f'id="count-{name}">{value}<' in page.text, name
    assert 'max="7" value="7"' in page.text and "every 2s" not in page.text
    listing = admin.get(f"/{shop.slug}/campaigns/")
    assert "Spring sale" in listing.text and "5 / 7" in listing.text  # sent of the audience

    # Running the expansion again adds nothing: finished campaigns are skipped, and even a lost cursor
    # only meets idempotency keys that are taken.
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "skipped"

    def lose_the_cursor():
        from crm.campaigns.models import Campaign
        row = db.session.get(Campaign, cid)
        row.status, row.cursor = "sending", 0

    in_tenant(shop, lose_the_cursor)
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "more"
    run_worker()
    assert len(campaign_rows(shop, cid)) == 5
    assert sorted(m["To"] for m in smtp_on.messages) == emails
    assert campaign(in_tenant, shop, cid)["queued"] == 5


def test_a_crash_mid_expansion_resumes_from_the_cursor_without_doubles(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on, monkeypatch):
    from crm.campaigns import jobs, sending
    from crm.notify import outbox

    monkeypatch.setattr(sending, "BATCH", 2)
    ids = [make_customer(shop, name=f"Crash {i}", email=f"crash{i}@c.example") for i in range(5)]
    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug).status_code == 204
    cid = campaign_id(shop)
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "more"  # batch 1 committed: cursor at the second customer
    assert campaign(in_tenant, shop, cid)["cursor"] == ids[1]

    real_schedule, calls = outbox.schedule, []

    def dying_schedule(**kwargs):
        calls.append(kwargs["key"])
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_schedule(**kwargs)

    monkeypatch.setattr(outbox, "schedule", dying_schedule)
    with app.app_context():
        try:
            jobs.expand(shop.id, cid)
            raise AssertionError("the batch should have failed")
        except RuntimeError:
            pass
    monkeypatch.setattr(outbox, "schedule", real_schedule)
    assert campaign(in_tenant, shop, cid)["cursor"] == ids[1]  # the failed batch left nothing behind
    assert len(campaign_rows(shop, cid)) == 2

    run_worker()  # the queued jobs (the first one and batch 1's successor) finish the campaign
    assert sorted(row[0] for row in campaign_rows(shop, cid)) == ids
    assert sorted(m["To"] for m in smtp_on.messages) == [f"crash{i}@c.example" for i in range(5)]
    assert campaign(in_tenant, shop, cid)["status"] == "done"


def test_sms_campaign_goes_to_e164_phones_in_the_campaigns_language(
        app, shop, client_as, make_customer, post_campaign, campaign_id, campaign_rows, run_worker):
    with_phone = make_customer(shop, name="王芳", phone="138 0013 8001")
    make_customer(shop, name="No Phone", email="nophone@c.example")
    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug, channel="sms", language="zh", subject="",
                         body="{{ customer }}您好，本周八折。").status_code == 204
    cid = campaign_id(shop)
    run_worker()
    assert campaign_rows(shop, cid) == [(with_phone, "+8613800138001", "sent")]
    with app.app_context():
        body = db.session.execute(text("select body from public.dev_messages where recipient = '+8613800138001' "
                                       "and tenant_id = :t"), {"t": shop.id}).scalar()
    assert body.startswith("王芳您好，本周八折。") and "退订：http" in body and "lang=zh" in body
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    assert 'id="count-no-address">1<' in page.text and "No phone" in page.text


def test_cancel_while_sending_stops_the_rest(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on, monkeypatch):
    from crm.campaigns import jobs, sending

    monkeypatch.setattr(sending, "BATCH", 2)
    for i in range(6):
        make_customer(shop, name=f"Stop {i}", email=f"stop{i}@c.example")
    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug).status_code == 204
    cid = campaign_id(shop)
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "more"  # two messages queued, four customers to go
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    assert "Cancel campaign" in page.text
    cancelled = admin.post(f"/{shop.slug}/campaigns/{cid}/cancel")
    assert cancelled.status_code == 303
    run_worker()
    assert smtp_on.messages == []
    assert campaign_rows(shop, cid) == [(row[0], row[1], "cancelled") for row in campaign_rows(shop, cid)]
    assert len(campaign_rows(shop, cid)) == 2
    assert campaign(in_tenant, shop, cid)["status"] == "cancelled"
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    assert "Campaign cancelled; 2 messages not sent." in page.text
    # The two queued and the four never reached: all six customers not sent to.
    assert 'id="count-cancelled">6<' in page.text and 'id="count-sent">0<' in page.text
    assert 'id="count-audience">6<' in page.text and 'id="count-queued">0<' in page.text
    assert "every 2s" not in page.text and "Cancel campaign" not in page.text
    # Cancelling again is refused with a message, not an error.
    again = admin.post(f"/{shop.slug}/campaigns/{cid}/cancel")
    assert again.status_code == 303
    assert "can be cancelled" in admin.get(f"/{shop.slug}/campaigns/{cid}").text


def test_progress_fragment_polls_while_sending_and_stops_when_done(
        shop, client_as, make_customer, post_campaign, campaign_id, run_worker, smtp_on):
    make_customer(shop, name="Poll Me", email="poll@c.example")
    admin = client_as(shop.admin_account_id)
    post_campaign(admin, shop.slug)
    cid = campaign_id(shop)
    fragment = admin.get(f"/{shop.slug}/campaigns/{cid}/progress", headers=HX)
    assert fragment.text.lstrip().startswith('<section class="card" id="progress"')
    assert 'hx-trigger="every 2s"' in fragment.text and "<html" not in fragment.text
    assert "Sending" in fragment.text and 'id="count-sent">0<' in fragment.text
    run_worker()
    fragment = admin.get(f"/{shop.slug}/campaigns/{cid}/progress", headers=HX)
    assert "every 2s" not in fragment.text and 'id="count-sent">1<' in fragment.text and "Sent" in fragment.text


def test_draft_then_scheduled_then_sent_at_its_time(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on):
    from crm.campaigns import jobs
    from crm.campaigns.models import Campaign

    make_customer(shop, name="Later", email="later@c.example")
    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug, action="draft").status_code == 204
    cid = campaign_id(shop)
    assert campaign(in_tenant, shop, cid)["status"] == "draft"
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    assert "Not sent yet." in page.text and "1 customer matches" in page.text
    run_worker()
    assert smtp_on.messages == []

    when = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    local = when.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M")
    edit = admin.get(f"/{shop.slug}/campaigns/{cid}/edit")
    assert edit.status_code == 200 and "Spring sale" in edit.text
    saved = admin.post(f"/{shop.slug}/campaigns/{cid}", headers=HX, data={
        "name": "Spring sale", "channel": "email", "language": "en", "subject": "Hi", "body": "Tomorrow",
        "send_at": local, "action": "send"})
    assert saved.status_code == 204
    state = campaign(in_tenant, shop, cid)
    assert state["status"] == "scheduled" and state["send_at"] == when
    run_worker()  # not due yet
    assert smtp_on.messages == [] and campaign_rows(shop, cid) == []
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "early"

    def due_now():
        db.session.get(Campaign, cid).send_at = datetime.now(UTC) - timedelta(seconds=5)

    in_tenant(shop, due_now)
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "done"
    run_worker()
    assert [m["To"] for m in smtp_on.messages] == ["later@c.example"]
    # Sent campaigns are not edited any more.
    refused = admin.post(f"/{shop.slug}/campaigns/{cid}", headers=HX, data={
        "name": "Changed", "channel": "email", "language": "en", "subject": "Hi", "body": "x", "action": "draft"})
    assert refused.status_code == 422 and "can no longer be changed" in refused.text


def test_bad_input_is_refused_at_the_field_and_nothing_is_saved(shop, client_as, post_campaign, in_tenant):
    from crm.campaigns.models import Campaign

    admin = client_as(shop.admin_account_id)
    bad = post_campaign(admin, shop.slug, name="", subject="", body="Hi {{ name }}", send_at="tomorrow-ish")
    assert bad.status_code == 422
    assert "Name is required." in bad.text and "An email needs a subject." in bad.text
    assert "The only variable is {{ customer }}" in bad.text and "Enter a date and time." in bad.text
    broken = post_campaign(admin, shop.slug, body="Hi {{ customer ")
    assert broken.status_code == 422 and "This text cannot be used" in broken.text
    looping = post_campaign(admin, shop.slug, body="{% for i in range(99999) %}spam{% endfor %}")
    assert looping.status_code == 422 and "This text cannot be used: {% for i in range(99999) %}" in looping.text
    assert in_tenant(shop, lambda: db.session.scalar(select(db.func.count(Campaign.id)))) == 0


def test_the_name_is_put_in_as_it_is():
    from crm.campaigns.service import fill

    assert fill("Dear {{customer}}, {{ customer }}!", r"O'Brien \1 {{ customer }}") == (
        r"Dear O'Brien \1 {{ customer }}, O'Brien \1 {{ customer }}!")


def test_quiet_hours_postpone_campaign_messages(
        app, acme, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on):
    from zoneinfo import ZoneInfo

    from crm.notify import rules
    from crm.notify.models import Notification
    from crm.settings import put_setting

    zone = ZoneInfo("Asia/Shanghai")
    now = datetime.now(zone)
    window = {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
              "end": (now + timedelta(hours=1)).strftime("%H:%M")}
    in_tenant(acme, lambda: put_setting("quiet_hours", window))
    make_customer(acme, name="Night Owl", email="owl@c.example")
    post_campaign(client_as(acme.admin_account_id), acme.slug)
    run_worker()
    assert smtp_on.messages == []
    cid = campaign_id(acme)
    assert [row[2] for row in campaign_rows(acme, cid)] == ["scheduled"]

    def held():
        notification = db.session.scalar(select(Notification).where(Notification.campaign_id == cid))
        return notification.due_at, rules.held_until(notification, datetime.now(UTC))

    due_at, until = in_tenant(acme, held)
    assert until is not None and due_at == until
    assert timedelta(minutes=55) < due_at - datetime.now(UTC) <= timedelta(hours=1)
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/campaigns/{cid}")
    assert 'id="count-queued">1<' in page.text
    local_end = due_at.astimezone(zone)
    note = re.search(r'id="held-note">([^<]+)<', page.text).group(1)
    assert re.fullmatch(rf"1 message is held by quiet hours until {local_end.hour % 12 or 12}:{local_end:%M}\s[AP]M\.",
                        note), note


def test_delete_a_draft_but_not_a_campaign_on_its_way(shop, client_as, make_customer, post_campaign, campaign_id,
                                                      in_tenant):
    from crm.campaigns.models import Campaign

    admin = client_as(shop.admin_account_id)
    post_campaign(admin, shop.slug, action="draft", name="Draft to drop")
    draft = campaign_id(shop)
    make_customer(shop, name="Pending", email="pending@c.example")
    post_campaign(admin, shop.slug, name="On its way")
    sending = campaign_id(shop)
    assert admin.post(f"/{shop.slug}/campaigns/{sending}/delete").status_code == 303
    assert "Cancel the campaign before deleting it." in admin.get(f"/{shop.slug}/campaigns/{sending}").text
    assert admin.post(f"/{shop.slug}/campaigns/{draft}/delete").status_code == 303
    assert in_tenant(shop, lambda: sorted(db.session.scalars(select(Campaign.name)))) == ["On its way"]
    assert admin.get(f"/{shop.slug}/campaigns/{draft}").status_code == 404


def test_a_campaign_whose_job_was_lost_is_resumed(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on):
    from crm.campaigns import jobs
    from crm.campaigns.models import Campaign
    from crm.jobs import queue

    for i in range(3):
        make_customer(shop, name=f"Lost {i}", email=f"lost{i}@c.example")
    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug).status_code == 204
    cid = campaign_id(shop)
    with app.app_context():
        queue("notify").empty()  # Redis lost the expansion job
        assert jobs.resume_stalled(shop.id) == 0  # not stalled yet: it may still be on its way
    run_worker()
    assert campaign_rows(shop, cid) == [] and campaign(in_tenant, shop, cid)["status"] == "sending"

    def untouched_for_a_while():
        row = db.session.get(Campaign, cid)
        db.session.execute(Campaign.__table__.update().where(Campaign.id == cid).values(
            updated_at=row.updated_at - timedelta(minutes=11)))

    in_tenant(shop, untouched_for_a_while)
    with app.app_context():
        assert jobs.resume_stalled(shop.id) == 1
    run_worker()
    assert sorted(m["To"] for m in smtp_on.messages) == [f"lost{i}@c.example" for i in range(3)]
    assert campaign(in_tenant, shop, cid)["status"] == "done"
    # Looking at the page of a stalled campaign resumes it too.
    post_campaign(admin, shop.slug, name="Second")
    second = campaign_id(shop)
    with app.app_context():
        queue("notify").empty()
    in_tenant(shop, lambda: db.session.execute(Campaign.__table__.update().where(Campaign.id == second).values(
        updated_at=datetime.now(UTC) - timedelta(minutes=11))))
    assert admin.get(f"/{shop.slug}/campaigns/{second}").status_code == 200
    run_worker()
    assert len(smtp_on.messages) == 6


def test_the_list_pages_past_the_newest_hundred(shop, admin, in_tenant):
    from crm.campaigns import service
    from crm.members.models import Member

    data = {"channel": "email", "language": "en", "subject": "Hello", "body": "Hello {{ customer }}", "send_at": ""}

    def make():
        viewer = db.session.get(Member, shop.admin_member_id)
        for i in range(130):
            service.create_campaign(viewer, {**data, "name": f"Campaign {i:03d}"}, {})

    in_tenant(shop, make)
    page = admin.get(f"/{shop.slug}/campaigns/").text
    shown = re.findall(r'class="strong" href="[^"]+">([^<]+)</a>', page)
    assert shown == [f"Campaign {i:03d}" for i in range(129, 104, -1)]  # the newest 25
    more = re.search(r'<tr class="more" hx-get="([^"]+)"', page)
    while more:
        rest = admin.get(more[1].replace("&amp;", "&"), headers=HX).text
        assert "<table" not in rest
        shown += re.findall(r'class="strong" href="[^"]+">([^<]+)</a>', rest)
        more = re.search(r'<tr class="more" hx-get="([^"]+)"', rest)
    assert shown == [f"Campaign {i:03d}" for i in range(129, -1, -1)]


def test_a_campaign_to_contacts_reaches_each_person_who_may_hear_and_their_own_link_unsubscribes_them(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, campaign_rows, run_worker,
        smtp_on):
    from crm.contacts.models import Contact
    from crm.customers.models import Customer
    from crm.extensions import utcnow

    company = make_customer(shop, name="星辰科技", kind="company", email="office@xc.example")
    person = make_customer(shop, name="Solo Buyer", email="solo@c.example")  # no contacts: gets it itself
    quiet = make_customer(shop, name="Quiet Co", kind="company", email="quiet@c.example")

    def people():
        db.session.add_all([
            Contact(customer_id=company, name="王芳", email="wang@xc.example", is_primary=True),
            Contact(customer_id=company, name="李娜", email="li@xc.example", is_primary=False),
            Contact(customer_id=company, name="No Mail", is_primary=False),
            Contact(customer_id=company, name="Opted", email="opted@xc.example", is_primary=False,
                    marketing_opt_out_at=utcnow()),
            Contact(customer_id=quiet, name="Never", email="never@c.example", is_primary=True),
            Contact(customer_id=quiet, name="Nor me", email="norme@c.example", is_primary=False)])
        db.session.get(Customer, quiet).marketing_opt_out_at = utcnow()  # the company said no for all its people
    in_tenant(shop, people)

    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug, recipients="contacts").status_code == 204
    cid = campaign_id(shop)
    run_worker()
    assert sorted(m["To"] for m in smtp_on.messages) == ["li@xc.example", "solo@c.example", "wang@xc.example"]
    state = campaign(in_tenant, shop, cid)
    assert (state["queued"], state["opted_out"], state["no_address"], state["total"]) == (3, 3, 1, 7)
    page = admin.get(f"/{shop.slug}/campaigns/{cid}").text
    assert "Email · All of each customer's contacts · English" in page
    for name, value in (("audience", 7), ("sent", 3), ("opted-out", 3), ("no-address", 1)):
        assert f'id="count-{name}">{value}<' in page, name  # people: Solo Buyer, 4 of 星辰科技's, Quiet Co's two
    wang = next(m for m in smtp_on.messages if m["To"] == "wang@xc.example")
    assert "Dear 王芳, 20% off this week." in mail_text(wang)
    link = re.search(r"Unsubscribe: (http://\S+/u/\S+)", mail_text(wang))[1]
    assert re.search(r"/u/\d+\.\d+\.\d+\.\S{43}$", link)  # a contact's own link: tenant, customer, contact

    path = link.split("//", 1)[1].split("/", 1)[1]
    visitor = app.test_client()
    assert "Stop receiving marketing messages" in visitor.get(f"/{path}").text
    assert "You are unsubscribed" in visitor.post(f"/{path}").text
    opted = in_tenant(shop, lambda: db.session.scalar(select(Contact.marketing_opt_out_at).where(
        Contact.name == "王芳")))
    assert opted is not None
    assert in_tenant(shop, lambda: db.session.get(Customer, company).marketing_opt_out_at) is None  # only her

    smtp_on.messages.clear()
    assert post_campaign(admin, shop.slug, recipients="primary", name="Second").status_code == 204
    run_worker()
    assert sorted(m["To"] for m in smtp_on.messages) == ["solo@c.example"]  # 王芳 unsubscribed; Quiet Co too
