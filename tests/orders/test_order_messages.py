"""Order news: shipped, received and refunded reach the end customer once, by their channel, with the link."""
import re
from email.header import decode_header, make_header

from rq import SimpleWorker
from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification


def deliver(app):
    from crm.jobs import queue

    with app.app_context():
        SimpleWorker([queue("notify")], connection=queue().connection).work(burst=True)


def no_quiet_hours(in_tenant, tenant):
    from crm.settings import put_setting

    in_tenant(tenant, lambda: put_setting("quiet_hours", None))


def test_shipped_order_reaches_the_customer_by_email_with_a_working_status_link(
        app, acme, make_customer, make_order, client_as, in_tenant, smtp_server):
    no_quiet_hours(in_tenant, acme)
    customer = make_customer(acme, name="周小姐", email="zhou@example.com", phone="13800000011",
                             preferred_channel="email")
    order_id = make_order(acme, customer)
    admin = client_as(acme.admin_account_id)
    app.config["SMTP_URL"] = smtp_server.url
    try:
        assert admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"}).status_code == 303
        deliver(app)
        admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "received"})
        admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "completed"})  # no news for this one
        deliver(app)
        deliver(app)
    finally:
        app.config["SMTP_URL"] = ""
    mails = [m for m in smtp_server.messages if m["To"] == "zhou@example.com"]
    assert [str(make_header(decode_header(m["Subject"]))) for m in mails] == ["您的订单 SO-000001 已发货", "您的订单 SO-000001 已收货"]
    body = mails[0].get_payload()[0].get_payload(decode=True).decode()
    assert "周小姐您好" in body
    path = re.search(r"http://[^/]+(/o/\S+)", body).group(1)
    public = app.test_client().get(path)
    assert public.status_code == 200 and "SO-000001" in public.text and "周小姐" not in public.text


def test_sms_is_the_default_and_a_customer_without_address_gets_nothing(
        app, acme, make_customer, make_order, client_as, in_tenant):
    no_quiet_hours(in_tenant, acme)
    with_phone = make_customer(acme, name="Phone Only", phone="13800000012")
    without = make_customer(acme, name="No Address")
    admin = client_as(acme.admin_account_id)
    for customer in (with_phone, without):
        order_id = make_order(acme, customer)
        admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"})
    rows = in_tenant(acme, lambda: [(n.channel, n.recipient, n.kind) for n in db.session.scalars(
        select(Notification).where(Notification.kind == "order_status"))])
    assert rows == [("sms", "+8613800000012", "order_status")]
