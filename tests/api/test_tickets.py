"""/api/v1/tickets as a help desk integration uses it: the list with the page's filters, cursor and updated_since,
a ticket with its comments, opening and changing one with the form's messages and If-Match, status moves and
closing as the page's buttons, comments (a reply reaches the customer), the audit log naming the token, and a
rep's token kept to the rep's own tickets."""
from datetime import datetime, timezone

from sqlalchemy import select, update

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.notify.models import Notification
from crm.tickets.models import Ticket, TicketComment
from tests.conftest import bearer


def test_the_list_filters_as_the_ticket_list_with_a_cursor_and_updated_since(acme, api, token, make_customer,
                                                                             make_ticket, in_tenant):
    customer_id = make_customer(acme, name="华东贸易")
    other_customer = make_customer(acme, name="Other")
    old = make_ticket(acme, customer_id, subject="Old printer")
    urgent = make_ticket(acme, customer_id, subject="Server down", priority="urgent")
    done = make_ticket(acme, other_customer, subject="Invoice copy", status="resolved")
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    in_tenant(acme, lambda: db.session.execute(update(Ticket).where(Ticket.id == old).values(updated_at=long_ago)))

    def ids(**query):
        listed = api.get("/api/v1/tickets/", query_string=query, headers=bearer(token))
        assert listed.status_code == 200, listed.json
        return [t["id"] for t in listed.json["data"]]

    assert ids() == [done, urgent, old]
    assert ids(status="active") == [urgent, old] and ids(priority="urgent") == [urgent]
    assert ids(customer=other_customer) == [done] and ids(q="华东") == [urgent, old]
    assert ids(q=f"TK-{old:06d}") == [old] and ids(view="mine") == [urgent, old]  # the queue: most urgent first
    assert ids(updated_since="2021-01-01T00:00:00Z") == [done, urgent]
    first = api.get("/api/v1/tickets/?limit=2", headers=bearer(token)).json
    rest = api.get("/api/v1/tickets/", query_string={"limit": 2, "after": first["next_cursor"]},
                   headers=bearer(token)).json
    assert [t["id"] for t in first["data"] + rest["data"]] == [done, urgent, old] and rest["next_cursor"] is None
    shown = first["data"][1]
    assert (shown["number"], shown["subject"], shown["priority"], shown["status"], shown["kind"]) == (
        f"TK-{urgent:06d}", "Server down", "urgent", "open", "inquiry")
    bad = api.get("/api/v1/tickets/?status=lost&updated_since=2021-01-01", headers=bearer(token))
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"status", "updated_since"}


def test_opening_a_ticket_with_the_forms_messages(acme, api, token, make_customer, make_order, in_tenant):
    customer_id = make_customer(acme, name="Buyer")
    order_id = make_order(acme, customer_id)
    other_order = make_order(acme, make_customer(acme, name="Someone else"))
    bad = api.post("/api/v1/tickets/", json={"subject": "", "customer_id": 999999, "priority": "asap"},
                   headers=bearer(token))
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    assert bad.json["errors"] == {"subject": "Subject is required.", "customer_id": "Choose a customer.",
                                  "priority": "Choose one of the listed values."}
    wrong = api.post("/api/v1/tickets/", json={"subject": "Late", "customer_id": customer_id,
                                               "order_number": f"SO-{other_order:06d}"}, headers=bearer(token))
    assert wrong.status_code == 422 and wrong.json["errors"] == {
        "order_number": "Choose one of this customer's orders."}
    assert in_tenant(acme, lambda: db.session.scalars(select(Ticket)).all()) == []
    made = api.post("/api/v1/tickets/", json={"subject": "Late delivery", "customer_id": customer_id,
                                              "kind": "complaint", "priority": "high",
                                              "order_number": f"SO-{order_id:06d}"},
                    headers=bearer(token, **{"Idempotency-Key": "desk-77"}))
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/tickets/{made.json['id']}"
    ticket = made.json
    assert (ticket["order_id"], ticket["owner_id"], ticket["status"], ticket["comments"]) == (
        order_id, acme.admin_member_id, "open", [])
    assert ticket["next_statuses"] == ["pending", "resolved"]
    # due by the priority: a high one within a day
    assert (datetime.fromisoformat(ticket["due_at"]) - datetime.fromisoformat(ticket["created_at"])).days == 1
    again = api.post("/api/v1/tickets/", json={"subject": "Late delivery", "customer_id": customer_id,
                                               "kind": "complaint", "priority": "high",
                                               "order_number": f"SO-{order_id:06d}"},
                     headers=bearer(token, **{"Idempotency-Key": "desk-77"}))
    assert again.json == made.json and len(in_tenant(acme, lambda: db.session.scalars(select(Ticket)).all())) == 1
    unassigned = api.post("/api/v1/tickets/", json={"subject": "Anyone?", "customer_id": customer_id,
                                                    "owner_id": None, "due_at": "2026-12-07T09:30:00"},
                          headers=bearer(token))
    assert unassigned.json["owner_id"] is None
    assert unassigned.json["due_at"] == "2026-12-07T01:30:00+00:00"  # read in the workspace's time zone (UTC+8)


def test_comments_are_listed_and_a_reply_reaches_the_customer(acme, api, token, make_customer, make_ticket,
                                                              in_tenant):
    ticket_id = make_ticket(acme, make_customer(acme, name="Buyer", email="buyer@example.com"))
    url = f"/api/v1/tickets/{ticket_id}/comments"
    empty = api.post(url, json={"body": "  "}, headers=bearer(token))
    assert empty.status_code == 422 and empty.json["errors"] == {"body": "Write something first."}
    note = api.post(url, json={"body": "Checked the logs"}, headers=bearer(token))
    assert note.status_code == 201 and (note.json["internal"], note.json["author_name"]) == (True, "Ada Admin")
    reply = api.post(url, json={"body": "We replaced the roller.", "internal": False}, headers=bearer(token))
    assert reply.status_code == 201 and reply.json["internal"] is False
    sent = in_tenant(acme, lambda: db.session.scalars(select(Notification.recipient).where(
        Notification.kind == "ticket_reply")).all())
    assert sent == ["buyer@example.com"]
    listed = api.get(url, headers=bearer(token)).json["data"]
    assert [c["body"] for c in listed] == ["Checked the logs", "We replaced the roller."]
    one = api.get(f"/api/v1/tickets/{ticket_id}", headers=bearer(token)).json
    assert one["comments"] == listed


def test_patch_with_if_match_status_moves_and_closing_as_the_page(acme, api, make_api_token, make_customer,
                                                                  make_ticket, people, in_tenant):
    token = make_api_token(acme, name="Zendesk bridge")
    ticket_id = make_ticket(acme, make_customer(acme, name="Buyer", email="buyer@example.com"))
    url = f"/api/v1/tickets/{ticket_id}"
    etag = api.get(url, headers=bearer(token)).headers["ETag"]
    changed = api.patch(url, json={"priority": "urgent", "owner_id": people["rep"].member_id},
                        headers=bearer(token, **{"If-Match": etag}))
    assert changed.status_code == 200
    assert (changed.json["priority"], changed.json["owner_id"]) == ("urgent", people["rep"].member_id)
    stale = api.patch(url, json={"subject": "Lost update"}, headers=bearer(token, **{"If-Match": etag}))
    assert stale.status_code == 412
    assert in_tenant(acme, lambda: db.session.get(Ticket, ticket_id).subject) == "Printer jams"
    bad = api.patch(url, json={"subject": "", "due_at": "tomorrow"}, headers=bearer(token))
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"subject", "due_at"}
    refused = api.post(f"{url}/status", json={"status": "closed"}, headers=bearer(token))
    assert refused.status_code == 422 and refused.json["errors"] == {
        "status": "A ticket that is Open cannot be moved to Closed."}
    resolved = api.post(f"{url}/status", json={"status": "resolved"}, headers=bearer(token))
    assert resolved.json["status"] == "resolved" and resolved.json["resolved_at"]
    assert resolved.json["next_statuses"] == ["open", "closed"]
    closed = api.post(f"{url}/status", json={"status": "closed"},
                      headers=bearer(token, **{"If-Match": resolved.headers["ETag"]}))
    assert closed.status_code == 200 and closed.json["closed_at"] and closed.json["next_statuses"] == []
    asked = in_tenant(acme, lambda: db.session.scalars(select(Notification.kind).where(
        Notification.kind == "ticket_survey")).all())
    assert asked == ["ticket_survey"]  # the customer is asked to rate, as when the page closes it
    frozen = api.patch(url, json={"subject": "Again"}, headers=bearer(token))
    assert frozen.status_code == 422 and frozen.json["errors"] == {
        "status": "This ticket is closed and can no longer be changed."}
    actors = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.actor_name).where(
        AuditEntry.entity == "ticket", AuditEntry.entity_id == ticket_id, AuditEntry.action == "update")).all())
    assert len(actors) == 4 and set(actors) == {"Ada Admin · API: Zendesk bridge"}


def test_a_reps_token_reaches_only_the_reps_own_tickets(acme, api, people, make_api_token, make_customer,
                                                        make_ticket, in_tenant):
    rep, west = people["rep"], people["west"]
    own_customer = make_customer(acme, member_id=rep.member_id, name="Rep's")
    mine = make_ticket(acme, own_customer, member_id=rep.member_id)
    theirs = make_ticket(acme, make_customer(acme, member_id=west.member_id, name="West's"), member_id=west.member_id)
    nobodys = make_ticket(acme, own_customer, owner_id="")
    token = make_api_token(acme, rep.member_id)
    assert [t["id"] for t in api.get("/api/v1/tickets/", headers=bearer(token)).json["data"]] == [mine]
    for other in (theirs, nobodys):
        url = f"/api/v1/tickets/{other}"
        assert api.get(url, headers=bearer(token)).status_code == 404
        assert api.get(f"{url}/comments", headers=bearer(token)).status_code == 404
        assert api.patch(url, json={"subject": "Taken"}, headers=bearer(token)).status_code == 404
        assert api.post(f"{url}/status", json={"status": "resolved"}, headers=bearer(token)).status_code == 404
        assert api.post(f"{url}/comments", json={"body": "Hi"}, headers=bearer(token)).status_code == 404
        assert in_tenant(acme, lambda: (db.session.get(Ticket, other).subject, db.session.get(Ticket, other).status)
                         ) == ("Printer jams", "open")
    assert in_tenant(acme, lambda: db.session.scalars(select(TicketComment)).all()) == []
    given = api.patch(f"/api/v1/tickets/{mine}", json={"owner_id": west.member_id}, headers=bearer(token))
    assert given.status_code == 422 and given.json["errors"] == {"owner_id": "You can only assign tickets to yourself."}
    foreign = api.post("/api/v1/tickets/", json={"subject": "X", "customer_id": in_tenant(
        acme, lambda: db.session.get(Ticket, theirs).customer_id)}, headers=bearer(token))
    assert foreign.status_code == 422 and foreign.json["errors"] == {"customer_id": "Choose a customer."}
