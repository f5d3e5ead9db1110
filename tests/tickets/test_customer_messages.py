"""A ticket reaches its customer: a reply marked "to the customer" goes through the outbox by the customer's
channel (internal notes never do), closing sends the satisfaction link, and the ticket page shows where each
message stands, with a retry for a failed one."""
import re
from email.header import decode_header, make_header

from sqlalchemy import select, update

from crm.extensions import db, utcnow
from crm.notify.models import Notification
from tests.conftest import HX


def no_quiet_hours(in_tenant, tenant):
    from crm.settings import put_setting

    in_tenant(tenant, lambda: put_setting("quiet_hours", None))


def messages_of(in_tenant, tenant) -> list[dict]:
    """The tenant's outbox rows: channel, kind, recipient, language, source, payload and status."""
    return in_tenant(tenant, lambda: [
        {"channel": n.channel, "kind": n.kind, "recipient": n.recipient, "language": n.language, "source": n.source,
         "payload": n.payload, "status": n.status, "customer_id": n.customer_id, "id": n.id}
        for n in db.session.scalars(select(Notification).order_by(Notification.id))])


def reply(client, tenant, ticket: int, body: str, audience: str = "customer"):
    return client.post(f"/{tenant.slug}/tickets/{ticket}/comments", headers=HX,
                       data={"body": body, "audience": audience})


def test_a_reply_to_the_customer_is_queued_by_their_preferred_channel(acme, admin, make_customer, make_ticket,
                                                                      in_tenant):
    customer = make_customer(acme, name="王芳", email="wang@example.com", phone="13800000021",
                             preferred_channel="email")
    ticket = make_ticket(acme, customer, subject="Printer jams")
    page = reply(admin, acme, ticket, "A technician comes tomorrow at 10.")
    assert page.status_code == 200
    [row] = messages_of(in_tenant, acme)
    assert (row["channel"], row["kind"], row["recipient"], row["customer_id"], row["source"], row["status"]) == (
        "email", "ticket_reply", "wang@example.com", customer, f"ticket:{ticket}", "scheduled")
    assert row["payload"]["body"] == "A technician comes tomorrow at 10."
    assert row["payload"]["number"] == f"TK-{ticket:06d}" and row["payload"]["customer"] == "王芳"
    assert '<span class="delivery-state">Queued</span> · Email wang@example.com' in page.text


def test_sms_is_used_when_the_customer_prefers_it_and_the_reply_is_in_the_workspaces_language(
        acme, admin, make_customer, make_ticket, in_tenant):
    from crm.notify import messages
    from crm.notify.models import Notification as Row

    customer = make_customer(acme, name="王芳", email="wang@example.com", phone="13800000022")  # SMS by default
    ticket = make_ticket(acme, customer, subject="打印机卡纸")
    reply(admin, acme, ticket, "明天上午十点上门。")
    [row] = messages_of(in_tenant, acme)
    assert (row["channel"], row["recipient"], row["language"]) == ("sms", "+8613800000022", "zh")
    text = in_tenant(acme, lambda: messages.render(db.session.get(Row, row["id"])).text)
    assert text.startswith("王芳您好：") and "明天上午十点上门。" in text and f"TK-{ticket:06d}" in text


def test_an_internal_note_sends_nothing(acme, admin, make_customer, make_ticket, in_tenant):
    ticket = make_ticket(acme, make_customer(acme, email="wang@example.com", preferred_channel="email"))
    page = reply(admin, acme, ticket, "Checked the logs", audience="internal")
    assert page.status_code == 200 and "delivery" not in page.text
    assert messages_of(in_tenant, acme) == []


def test_a_customer_without_address_gets_nothing_and_the_page_says_so(acme, admin, make_customer, make_ticket,
                                                                      in_tenant):
    ticket = make_ticket(acme, make_customer(acme, name="No Address"))
    before = admin.get(f"/{acme.slug}/tickets/{ticket}").text
    assert "The customer has no email address or mobile number: a reply is only kept here." in before
    page = reply(admin, acme, ticket, "We called you.")
    assert "Not sent: the customer has no email address or mobile number." in page.text
    assert messages_of(in_tenant, acme) == []


def test_a_customer_who_unsubscribed_from_campaigns_still_gets_the_reply(
        app, acme, admin, make_customer, make_ticket, in_tenant, run_worker, smtp_on):
    """Ticket replies are service messages, not marketing: the marketing opt-out does not hold them back."""
    from crm.customers.models import Customer

    no_quiet_hours(in_tenant, acme)
    customer = make_customer(acme, name="Wang Fang", email="wang@example.com", preferred_channel="email")
    in_tenant(acme, lambda: db.session.execute(update(Customer).where(Customer.id == customer)
                                               .values(marketing_opt_out_at=utcnow())))
    ticket = make_ticket(acme, customer, subject="Printer jams")
    reply(admin, acme, ticket, "Fixed remotely.")
    run_worker()
    [mail] = [m for m in smtp_on.messages if m["To"] == "wang@example.com"]
    assert str(make_header(decode_header(mail["Subject"]))) == f"回复：Printer jams [TK-{ticket:06d}]"
    page = admin.get(f"/{acme.slug}/tickets/{ticket}").text
    assert re.search(r'<span class="delivery-state">Sent</span> · Email wang@example.com', page)


def test_closing_queues_the_satisfaction_link_and_the_link_opens_the_rating_page(
        app, acme, admin, make_customer, make_ticket, in_tenant):
    customer = make_customer(acme, name="Wang Fang", email="wang@example.com", preferred_channel="email")
    ticket = make_ticket(acme, customer, status="resolved", subject="Printer jams")
    assert admin.post(f"/{acme.slug}/tickets/{ticket}/status", data={"status": "closed"}).status_code == 303
    [row] = messages_of(in_tenant, acme)
    assert (row["channel"], row["kind"], row["recipient"]) == ("email", "ticket_survey", "wang@example.com")
    assert row["payload"]["days"] == 30
    link = row["payload"]["link"]
    assert re.fullmatch(rf"http://[^/]+/s/{acme.id}\.{ticket}\.[A-Za-z0-9_-]{{43}}\?lang=zh", link)
    page = app.test_client().get("/" + link.split("/", 3)[3])
    assert page.status_code == 200 and "Printer jams" in page.text and 'name="rating"' in page.text
    shown = admin.get(f"/{acme.slug}/tickets/{ticket}").text
    assert re.search(r'<span class="delivery-state">Queued</span> · Email wang@example.com', shown)


def test_a_failed_message_is_retried_from_the_ticket_and_only_its_own(acme, admin, make_customer, make_ticket,
                                                                      in_tenant):
    customer = make_customer(acme, email="wang@example.com", preferred_channel="email")
    ticket, other = make_ticket(acme, customer), make_ticket(acme, customer)
    reply(admin, acme, ticket, "First answer")
    reply(admin, acme, other, "Other ticket's answer")
    mine, theirs = (row["id"] for row in messages_of(in_tenant, acme))
    in_tenant(acme, lambda: db.session.execute(update(Notification).values(
        status="failed", attempts=5, last_error="SMTPRecipientsRefused: mailbox full")))
    page = admin.get(f"/{acme.slug}/tickets/{ticket}").text
    assert '<span class="delivery-state">Failed</span>' in page and "mailbox full" in page
    assert f'name="notification_id" value="{mine}"><button class="small">Retry</button>' in page

    refused = admin.post(f"/{acme.slug}/tickets/{ticket}/messages/retry", data={"notification_id": theirs},
                         follow_redirects=True)
    assert "Only a message that failed can be sent again." in refused.text
    retried = admin.post(f"/{acme.slug}/tickets/{ticket}/messages/retry", data={"notification_id": mine},
                         follow_redirects=True)
    assert "The message will be sent again." in retried.text
    assert [row["status"] for row in messages_of(in_tenant, acme)] == ["scheduled", "failed"]


def test_a_reply_is_saved_with_its_message_or_not_at_all(acme, admin, make_customer, make_ticket, in_tenant):
    from crm.tickets.models import TicketComment

    ticket = make_ticket(acme, make_customer(acme, email="wang@example.com", preferred_channel="email"))
    page = reply(admin, acme, ticket, "  ")
    assert page.status_code == 422
    assert in_tenant(acme, lambda: db.session.scalars(select(TicketComment)).all()) == []
    assert messages_of(in_tenant, acme) == []
