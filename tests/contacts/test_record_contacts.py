"""The contact a ticket, order, deal or follow-up is about: chosen among its customer's contacts (another
customer's is refused at the field, nothing saved), shown on the record's page, written to instead of the
customer when they have an address, and cleared when the contact is removed."""
import re

from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification
from crm.tickets.models import Ticket
from tests.conftest import HX


def test_a_ticket_asked_by_a_contact_shows_them_and_replies_go_to_them(acme, admin, make_customer, in_tenant,
                                                                      make_contact):
    from crm.settings import put_setting

    in_tenant(acme, lambda: put_setting("quiet_hours", None))
    company = make_customer(acme, name="星辰科技", kind="company", email="office@xingchen.example.com",
                            preferred_channel="email")
    other = make_customer(acme, name="Other Co")
    wang = make_contact(acme, company, name="王芳", title="采购经理", email="wang@xingchen.example.com")
    stranger = make_contact(acme, other, name="Stranger")

    form = admin.get(f"/{acme.slug}/tickets/new", query_string={"customer_id": company}, headers=HX).text
    assert re.search(rf'<option value="{wang}"[^>]*>王芳 · 采购经理</option>', form)
    options = admin.get(f"/{acme.slug}/contacts/options", query_string={"customer_id": other}, headers=HX).text
    assert "Stranger" in options and "王芳" not in options

    refused = admin.post(f"/{acme.slug}/tickets/", data={"customer_id": company, "subject": "Printer jams",
                                                         "contact_id": stranger})
    assert refused.status_code == 422
    assert 'id="contact_id-error">Choose one of this customer&#39;s contacts.' in refused.text
    assert in_tenant(acme, lambda: db.session.scalar(select(Ticket.id))) is None

    opened = admin.post(f"/{acme.slug}/tickets/", data={"customer_id": company, "subject": "Printer jams",
                                                        "contact_id": wang})
    assert opened.status_code == 303
    ticket_id = int(opened.headers["Location"].rsplit("/", 1)[1])
    page = admin.get(f"/{acme.slug}/tickets/{ticket_id}").text
    shown = page[page.index("record-contact"):]
    assert "王芳" in shown and "采购经理" in shown and "mailto:wang@xingchen.example.com" in shown
    assert "sent by email to wang@xingchen.example.com" in page

    admin.post(f"/{acme.slug}/tickets/{ticket_id}/comments", headers=HX,
               data={"body": "A technician comes tomorrow.", "audience": "customer"})
    sent = in_tenant(acme, lambda: db.session.execute(select(Notification.recipient, Notification.payload)).one())
    assert sent.recipient == "wang@xingchen.example.com" and sent.payload["customer"] == "王芳"

    admin.post(f"/{acme.slug}/contacts/{wang}/delete")
    assert in_tenant(acme, lambda: db.session.get(Ticket, ticket_id).contact_id) is None
    page = admin.get(f"/{acme.slug}/tickets/{ticket_id}").text
    assert "record-contact" not in page and "sent by email to office@xingchen.example.com" in page


def test_a_rep_gets_no_contacts_of_a_customer_out_of_reach(acme, people, client_as, make_customer, make_contact):
    west = make_customer(acme, people["west"].member_id, name="West Co")
    make_contact(acme, west, name="West Secret")
    rep = client_as(people["rep"].account_id)
    options = rep.get(f"/{acme.slug}/contacts/options", query_string={"customer_id": west}, headers=HX)
    assert options.status_code == 200 and "West Secret" not in options.text


def test_an_order_placed_by_a_contact_tells_them_its_news(acme, admin, make_customer, make_product, in_tenant,
                                                           make_contact):
    from crm.orders.models import Order
    from crm.settings import put_setting

    in_tenant(acme, lambda: put_setting("quiet_hours", None))
    company = make_customer(acme, name="星辰科技", kind="company", phone="13800000031")
    li = make_contact(acme, company, name="李娜", mobile="+8613900000032")
    product = make_product(acme, name="Tea", price="10.00")
    line = {"line_key": "a", "line_product_id": product, "line_quantity": "2", "line_unit_price": "10",
            "line_discount": "0", "line_description": "Tea", "line_unit": ""}
    form = admin.get(f"/{acme.slug}/orders/new", query_string={"customer_id": company}).text
    assert f'<option value="{li}">李娜 · Primary</option>' in form or f'<option value="{li}">李娜</option>' in form
    placed = admin.post(f"/{acme.slug}/orders/", data={"customer_id": company, "currency": "CNY", "contact_id": li,
                                                       "owner_id": acme.admin_member_id, **line})
    assert placed.status_code == 303, placed.text
    order_id = int(placed.headers["Location"].rsplit("/", 1)[1])
    assert in_tenant(acme, lambda: db.session.get(Order, order_id).contact_id) == li
    page = admin.get(f"/{acme.slug}/orders/{order_id}").text
    assert "李娜" in page[page.index("record-contact"):]

    admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"})
    sent = in_tenant(acme, lambda: db.session.execute(select(Notification.recipient, Notification.payload)).all())
    assert [(row.recipient, row.payload["customer"]) for row in sent] == [("+8613900000032", "李娜")]


def test_a_deal_and_a_follow_up_name_their_contact_and_the_next_follow_up_keeps_it(
        acme, admin, make_customer, in_tenant, make_contact, stage_ids):
    from crm.deals.models import Deal
    from crm.followups.models import Activity

    company = make_customer(acme, name="星辰科技", kind="company")
    zhao = make_contact(acme, company, name="赵敏", title="CTO", mobile="+8613900000041")
    made = admin.post(f"/{acme.slug}/deals/", data={"title": "ERP rollout", "customer_id": company,
                                                    "contact_id": zhao, "stage_id": stage_ids(acme)["Lead"],
                                                    "currency": "CNY", "owner_id": acme.admin_member_id})
    assert made.status_code == 303, made.text
    deal_id = in_tenant(acme, lambda: db.session.scalar(select(Deal.id).where(Deal.contact_id == zhao)))
    page = admin.get(f"/{acme.slug}/deals/{deal_id}").text
    assert "赵敏" in page[page.index("record-contact"):]

    form = admin.get(f"/{acme.slug}/activities/new", query_string={"deal_id": deal_id}, headers=HX).text
    assert re.search(rf'<option value="{zhao}"[^>]*>赵敏 · CTO</option>', form)
    planned = admin.post(f"/{acme.slug}/activities/", data={
        "mode": "plan", "deal_id": deal_id, "method": "call", "summary": "Call about the pilot",
        "due_at": "2030-01-02T10:00", "owner_id": acme.admin_member_id, "contact_id": zhao, "remind_minutes": ""})
    assert planned.status_code == 303, planned.text
    activity_id = in_tenant(acme, lambda: db.session.scalar(select(Activity.id).where(Activity.contact_id == zhao)))
    admin.post(f"/{acme.slug}/activities/{activity_id}/done", data={
        "outcome": "Agreed on a pilot", "next_due_at": "2030-01-09T10:00", "next_method": "call"})
    assert in_tenant(acme, lambda: sorted(db.session.scalars(select(Activity.contact_id)))) == [zhao, zhao]


def test_the_api_reads_and_sets_the_contact_of_a_ticket_and_refuses_another_customers(
        acme, make_customer, make_api_token, make_contact, app):
    from tests.conftest import bearer

    company = make_customer(acme, name="星辰科技", kind="company")
    other = make_customer(acme, name="Other Co")
    wang = make_contact(acme, company, name="王芳")
    stranger = make_contact(acme, other, name="Stranger")
    api, headers = app.test_client(), bearer(make_api_token(acme))
    refused = api.post("/api/v1/tickets/", headers=headers,
                       json={"customer_id": company, "subject": "Jam", "contact_id": stranger})
    assert refused.status_code == 422 and refused.json["errors"]["contact_id"] == \
        "Choose one of this customer's contacts."
    made = api.post("/api/v1/tickets/", headers=headers,
                    json={"customer_id": company, "subject": "Jam", "contact_id": wang})
    assert made.status_code == 201 and made.json["contact_id"] == wang
    changed = api.patch(f"/api/v1/tickets/{made.json['id']}",
                        headers={**headers, "If-Match": made.headers["ETag"]}, json={"contact_id": None})
    assert changed.status_code == 200 and changed.json["contact_id"] is None
