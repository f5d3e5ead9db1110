"""Ticket pages as a user meets them: the list and its tabs, the create modal, comments, status buttons,
assignment and scope."""
import re

from sqlalchemy import func, select

from crm.audit.models import AuditEntry
from crm.extensions import db, utcnow
from crm.tickets.models import Ticket, TicketComment
from crm.timeline.models import TimelineEvent
from tests.conftest import HX


def counts(in_tenant, tenant) -> tuple:
    """Tickets, ticket audit entries and timeline events stored."""
    return in_tenant(tenant, lambda: (
        db.session.scalar(select(func.count(Ticket.id))),
        db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity == "ticket")),
        db.session.scalar(select(func.count(TimelineEvent.id)))))


def test_creating_with_bad_input_answers_422_at_the_fields_and_saves_nothing(acme, client_as, make_customer,
                                                                             in_tenant):
    customer = make_customer(acme)
    before = counts(in_tenant, acme)
    page = client_as(acme.admin_account_id).post(f"/{acme.slug}/tickets/", headers=HX, data={
        "customer_id": str(customer), "subject": "", "priority": "asap", "due_at": "soon", "order_number": "x1x",
        "description": "Kept as typed"})
    assert page.status_code == 422
    assert 'id="subject-error">Subject is required.' in page.text
    assert 'id="priority-error">Choose one of the listed values.' in page.text
    assert 'id="due_at-error">Enter a date and time.' in page.text
    assert 'id="order_number-error">Choose one of this customer&#39;s orders.' in page.text
    assert "Kept as typed" in page.text
    assert re.search(rf'<option value="{customer}" selected>', page.text)  # the chosen customer stays chosen
    assert counts(in_tenant, acme) == before


def test_creating_without_a_customer_is_refused_at_the_customer_field(acme, client_as, in_tenant):
    page = client_as(acme.admin_account_id).post(f"/{acme.slug}/tickets/", headers=HX, data={"subject": "Broken"})
    assert page.status_code == 422
    assert 'id="customer_id-error">Choose a customer.' in page.text
    assert counts(in_tenant, acme)[0] == 0


def test_creating_a_ticket_opens_it_with_the_default_due_time(acme, client_as, make_customer, make_order,
                                                             ticket_row):
    customer = make_customer(acme, name="欧阳娜娜")
    order = make_order(acme, customer)
    client = client_as(acme.admin_account_id)
    answer = client.post(f"/{acme.slug}/tickets/", headers=HX, data={
        "customer_id": str(customer), "subject": "屏幕闪烁", "kind": "repair", "priority": "high",
        "owner_id": "", "order_number": f"SO-{order:06d}"})
    assert answer.status_code == 204
    ticket_id = int(answer.headers["HX-Location"].rsplit("/", 1)[1])
    row = ticket_row(acme, ticket_id)
    assert (row.kind, row.priority, row.status, row.owner_id, row.order_id) == ("repair", "high", "open", None, order)
    page = client.get(answer.headers["HX-Location"])
    assert f"Ticket TK-{ticket_id:06d} opened." in page.text
    assert "屏幕闪烁" in page.text and "欧阳娜娜" in page.text
    assert f'<a href="/{acme.slug}/orders/{order}">SO-{order:06d}</a>' in page.text
    assert "Take it" in page.text  # unassigned, and the admin may edit tickets


def test_the_new_ticket_form_is_prefilled_with_the_customer(acme, client_as, make_customer):
    customer = make_customer(acme, name="欧阳娜娜")
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/tickets/new?customer_id={customer}", headers=HX)
    assert page.status_code == 200 and "<html" not in page.text
    assert re.search(rf'<option value="{customer}" selected>欧阳娜娜', page.text)


def test_comments_show_whether_they_are_internal_or_to_the_customer(acme, client_as, make_customer, make_ticket,
                                                                    in_tenant):
    ticket = make_ticket(acme, make_customer(acme))
    client = client_as(acme.admin_account_id)
    url = f"/{acme.slug}/tickets/{ticket}/comments"
    first = client.post(url, headers=HX, data={"body": "Checked the logs", "audience": "internal"})
    second = client.post(url, headers=HX, data={"body": "We are sending a technician", "audience": "customer"})
    assert first.status_code == second.status_code == 200 and "<html" not in second.text
    comments = re.findall(r'<li class="comment (comment-\w+)".*?comment-label">([^<]+)<.*?comment-body">([^<]+)<',
                          second.text, re.DOTALL)
    assert comments == [("comment-internal", "Internal note", "Checked the logs"),
                        ("comment-customer", "To customer", "We are sending a technician")]
    stored = in_tenant(acme, lambda: [(c.body, c.internal) for c in db.session.scalars(select(TicketComment))])
    assert stored == [("Checked the logs", True), ("We are sending a technician", False)]


def test_an_empty_comment_is_refused_at_the_field(acme, client_as, make_customer, make_ticket, in_tenant):
    ticket = make_ticket(acme, make_customer(acme))
    page = client_as(acme.admin_account_id).post(f"/{acme.slug}/tickets/{ticket}/comments", headers=HX,
                                                 data={"body": "  ", "audience": "customer"})
    assert page.status_code == 422
    assert 'id="body-error">Write something first.' in page.text
    assert 'value="customer" checked' in page.text
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count(TicketComment.id)))) == 0


def test_status_buttons_move_the_ticket_and_refuse_illegal_moves(acme, client_as, make_customer, make_ticket,
                                                                 ticket_row):
    ticket = make_ticket(acme, make_customer(acme))
    client = client_as(acme.admin_account_id)
    url = f"/{acme.slug}/tickets/{ticket}"
    page = client.get(url)
    assert 'value="pending">Set pending' in page.text and 'value="resolved" class="primary">Resolve' in page.text
    assert "Reopen" not in page.text

    refused = client.post(f"{url}/status", data={"status": "closed"}, follow_redirects=True)
    assert "A ticket that is Open cannot be moved to Closed." in refused.text
    assert ticket_row(acme, ticket).status == "open"

    moved = client.post(f"{url}/status", data={"status": "resolved"}, follow_redirects=True)
    assert f"Ticket TK-{ticket:06d} is now Resolved." in moved.text
    assert "Reopen" in moved.text and "/close" in moved.text


def test_closing_says_where_the_rating_link_goes_and_the_agent_types_no_score(acme, client_as, make_customer,
                                                                              make_ticket, ticket_row):
    ticket = make_ticket(acme, make_customer(acme, email="wang@example.com", preferred_channel="email"),
                         status="resolved")
    client = client_as(acme.admin_account_id)
    url = f"/{acme.slug}/tickets/{ticket}"
    form = client.get(f"{url}/close", headers=HX)
    assert "The customer gets a link by email to wang@example.com to rate the service from 1 to 5." in form.text
    assert 'name="satisfaction' not in form.text and "Very satisfied" not in form.text
    done = client.post(f"{url}/status", headers=HX, data={"status": "closed", "satisfaction": "5",
                                                           "satisfaction_comment": "Typed by the agent"})
    assert done.status_code == 204
    row = ticket_row(acme, ticket)
    assert (row.status, row.satisfaction, row.satisfaction_comment) == ("closed", None, None)
    page = client.get(url).text
    assert "Not rated yet: the customer rates through the link sent on closing." in page
    assert "Add comment" not in page and "Take it" not in page  # closed is final


def test_an_agent_takes_an_unassigned_ticket(acme, add_member, client_as, make_customer, make_ticket, ticket_row):
    account, agent = add_member(acme, "support_agent", "Ada Agent")
    ticket = make_ticket(acme, make_customer(acme), owner_id="")
    client = client_as(account)
    assert "Take it" in client.get(f"/{acme.slug}/tickets/{ticket}").text
    page = client.post(f"/{acme.slug}/tickets/{ticket}/take", follow_redirects=True)
    assert f"You took ticket TK-{ticket:06d}." in page.text
    assert ticket_row(acme, ticket).owner_id == agent
    assert "Take it" not in page.text


def test_a_rep_gets_404_on_a_ticket_assigned_to_another_rep(acme, add_member, client_as, make_customer,
                                                            make_ticket, ticket_row):
    account, rep = add_member(acme, "sales_rep", "Rita Rep")
    _other_account, other = add_member(acme, "sales_rep", "Oscar Other")
    customer = make_customer(acme)
    theirs = make_ticket(acme, customer, owner_id=str(other), subject="Oscar's secret ticket")
    unassigned = make_ticket(acme, customer, owner_id="", subject="Nobody's ticket")
    mine = make_ticket(acme, customer, owner_id=str(rep), subject="Rita's ticket")
    client = client_as(account)
    for hidden in (theirs, unassigned):
        assert client.get(f"/{acme.slug}/tickets/{hidden}").status_code == 404
        assert client.post(f"/{acme.slug}/tickets/{hidden}/status", data={"status": "resolved"}).status_code == 404
        assert client.post(f"/{acme.slug}/tickets/{hidden}/comments", data={"body": "hi"}).status_code == 404
        assert ticket_row(acme, hidden).status == "open"
    assert client.get(f"/{acme.slug}/tickets/{mine}").status_code == 200
    listing = client.get(f"/{acme.slug}/tickets/").text
    assert "Rita&#39;s ticket" in listing and "secret" not in listing and "Nobody" not in listing
    assert "view=unassigned" not in listing  # no Unassigned tab for a role that never sees them


def test_read_only_members_see_tickets_but_cannot_change_them(acme, add_member, client_as, make_customer,
                                                              make_ticket):
    account, _member = add_member(acme, "read_only", "Rob Reader")
    ticket = make_ticket(acme, make_customer(acme))
    client = client_as(account)
    page = client.get(f"/{acme.slug}/tickets/{ticket}")
    assert page.status_code == 200 and "Printer jams" in page.text
    assert "Add comment" not in page.text and "Resolve" not in page.text
    assert client.post(f"/{acme.slug}/tickets/{ticket}/status", data={"status": "resolved"}).status_code == 403


def test_list_filters_and_the_overdue_mark(acme, client_as, make_customer, make_ticket):
    customer, other = make_customer(acme, name="Alpha Co"), make_customer(acme, name="Bravo Co")
    now = utcnow()
    from datetime import timedelta
    make_ticket(acme, customer, subject="Late complaint", kind="complaint", priority="urgent",
                due_at=now - timedelta(hours=2))
    make_ticket(acme, other, subject="Calm inquiry", kind="inquiry", priority="low")
    make_ticket(acme, customer, subject="Done repair", kind="repair", status="resolved",
                due_at=now - timedelta(days=3))
    client = client_as(acme.admin_account_id)
    listing = lambda qs: client.get(f"/{acme.slug}/tickets/?{qs}", headers=HX).text
    everything = listing("")
    assert "3 tickets" in everything and everything.count('class="overdue-label"') == 1  # resolved is never late
    assert re.search(r'class="is-overdue".*?Late complaint', everything, re.DOTALL)
    assert "Late complaint" in listing("overdue=1") and "Done repair" not in listing("overdue=1")
    assert "Calm inquiry" in listing("kind=inquiry") and "Late complaint" not in listing("kind=inquiry")
    assert "Late complaint" in listing("priority=urgent") and "Calm inquiry" not in listing("priority=urgent")
    assert "Done repair" in listing("status=resolved") and "Calm inquiry" not in listing("status=resolved")
    assert "Done repair" not in listing("status=active")
    by_customer = listing(f"customer={other}")
    assert "Calm inquiry" in by_customer and "Late complaint" not in by_customer
    assert "Late complaint" in listing("q=late") and "Calm inquiry" not in listing("q=late")
    by_name = listing("q=bravo")  # the customer's name
    assert "Calm inquiry" in by_name and "Late complaint" not in by_name
    assert "Calm inquiry" in listing("assignee=me") and "Calm inquiry" not in listing("assignee=none")


def test_keyset_pages_cover_every_ticket_once(acme, client_as, make_customer, in_tenant):
    from crm.members.models import Member
    from crm.tickets import service

    customer = make_customer(acme)
    in_tenant(acme, lambda: [service.create_ticket(db.session.get(Member, acme.admin_member_id),
                                                   {"subject": f"Ticket {i}", "customer_id": customer})
                             for i in range(30)])
    client, seen, url = client_as(acme.admin_account_id), [], f"/{acme.slug}/tickets/"
    while url:
        page = client.get(url, headers=HX).text
        seen += re.findall(r'id="ticket-(\d+)"', page)
        more = re.search(r'<tr class="more" hx-get="([^"]+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 30 and len(set(seen)) == 30
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True)


def test_my_queue_page_shows_overdue_first(acme, client_as, make_customer, make_ticket):
    from datetime import timedelta

    customer, me, now = make_customer(acme), str(acme.admin_member_id), utcnow()
    make_ticket(acme, customer, owner_id=me, subject="Urgent on time", priority="urgent",
                due_at=now + timedelta(hours=1))
    make_ticket(acme, customer, owner_id=me, subject="Low but late", priority="low", due_at=now - timedelta(hours=1))
    make_ticket(acme, customer, owner_id="", subject="Nobody's", priority="urgent")
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/tickets/?view=mine").text
    assert 'aria-current="page">My queue' in page
    assert page.index("Low but late") < page.index("Urgent on time") and "Nobody" not in page
    unassigned = client_as(acme.admin_account_id).get(f"/{acme.slug}/tickets/?view=unassigned").text
    assert "Nobody&#39;s" in unassigned and "Low but late" not in unassigned


def test_the_customer_partial_lists_tickets_with_a_prefilled_new_button(app, acme, make_customer, make_ticket):
    from flask import g, render_template

    from crm.customers.models import Customer
    from crm.members.models import Member
    from crm.tickets import service
    from tenants.binding import tenant_bound

    customer = make_customer(acme, name="欧阳娜娜")
    ticket = make_ticket(acme, customer, subject="Refund please", priority="urgent")
    with app.test_request_context(f"/{acme.slug}/customers/{customer}"), tenant_bound(acme.ref):
        g.member = db.session.get(Member, acme.admin_member_id)
        html = render_template("tickets/_customer_tickets.html", customer=db.session.get(Customer, customer),
                               tickets=service.tickets_for_customer(g.member, customer))
    assert f"TK-{ticket:06d}" in html and "Refund please" in html and "Urgent" in html and "Open" in html
    assert f"/tickets/new?customer_id={customer}" in html


def test_editing_changes_fields_and_is_audited(acme, client_as, make_customer, make_ticket, ticket_row, in_tenant):
    ticket = make_ticket(acme, make_customer(acme))
    client = client_as(acme.admin_account_id)
    form = client.get(f"/{acme.slug}/tickets/{ticket}/edit", headers=HX)
    assert 'value="Printer jams"' in form.text and 'name="customer_id"' not in form.text
    answer = client.post(f"/{acme.slug}/tickets/{ticket}", headers=HX, data={
        "subject": "Printer jams on A3", "description": "", "kind": "repair", "priority": "urgent", "due_at": "",
        "order_number": ""})
    assert answer.status_code == 204
    row = ticket_row(acme, ticket)
    assert (row.subject, row.kind, row.priority) == ("Printer jams on A3", "repair", "urgent")
    changes = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "ticket", AuditEntry.action == "update")).all())
    assert changes[-1]["subject"] == ["Printer jams", "Printer jams on A3"]
