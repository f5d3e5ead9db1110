"""Ticket rules: the status workflow, default due times, scope and the queue order."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.tickets import service
from crm.tickets.models import MOVES, STATUSES, Ticket
from crm.timeline.models import TimelineEvent

ALLOWED = [(before, after) for before, targets in MOVES.items() for after in targets]
ILLEGAL = [(before, after) for before in STATUSES for after in STATUSES if (before, after) not in ALLOWED]


def admin_of(tenant) -> Member:
    return db.session.get(Member, tenant.admin_member_id)


def test_the_workflow_is_the_one_agreed():
    assert sorted(ALLOWED) == sorted([("open", "pending"), ("pending", "open"), ("open", "resolved"),
                                      ("pending", "resolved"), ("resolved", "open"), ("resolved", "closed")])


@pytest.mark.parametrize("before, after", ALLOWED)
def test_each_allowed_move_is_made_and_stamped(acme, make_customer, make_ticket, in_tenant, before, after):
    ticket_id = make_ticket(acme, make_customer(acme), status=before)

    def move():
        ticket = db.session.get(Ticket, ticket_id)
        service.move_ticket(admin_of(acme), ticket, after)
        return ticket.status, ticket.resolved_at, ticket.closed_at

    status, resolved_at, closed_at = in_tenant(acme, move)
    assert status == after
    assert (resolved_at is not None) == (after in ("resolved", "closed"))  # a reopened ticket is no longer resolved
    assert (closed_at is not None) == (after == "closed")


@pytest.mark.parametrize("before, after", ILLEGAL)
def test_each_illegal_move_is_refused_and_nothing_changes(acme, make_customer, make_ticket, in_tenant,
                                                          ticket_row, before, after):
    ticket_id = make_ticket(acme, make_customer(acme), status=before)

    def move():
        with pytest.raises(Invalid) as refused:
            service.move_ticket(admin_of(acme), db.session.get(Ticket, ticket_id), after)
        db.session.rollback()
        return refused.value.errors

    errors = in_tenant(acme, move)
    assert errors["status"]
    assert ticket_row(acme, ticket_id).status == before


def test_a_closed_ticket_cannot_be_edited_assigned_or_commented(acme, make_customer, make_ticket, in_tenant):
    ticket_id = make_ticket(acme, make_customer(acme), status="closed")
    attempts = (lambda t, m: service.update_ticket(m, t, {"subject": "Changed"}),
                lambda t, m: service.assign_ticket(m, t, ""),
                lambda t, m: service.add_comment(m, t, "Hello", internal=True))

    def try_all():
        refused = 0
        for attempt in attempts:
            with pytest.raises(Invalid):
                attempt(db.session.get(Ticket, ticket_id), admin_of(acme))
            refused += 1
        return refused, db.session.get(Ticket, ticket_id).subject

    assert in_tenant(acme, try_all) == (3, "Printer jams")


@pytest.mark.parametrize("priority, hours", [("urgent", 4), ("high", 24), ("normal", 72), ("low", 168)])
def test_the_due_time_defaults_from_the_priority(acme, make_customer, make_ticket, ticket_row, priority, hours):
    row = ticket_row(acme, make_ticket(acme, make_customer(acme), priority=priority))
    assert row.due_at - row.created_at == timedelta(hours=hours)


def test_a_given_due_time_is_kept_and_clearing_it_restores_the_default(acme, make_customer, make_ticket, in_tenant,
                                                                       ticket_row):
    ticket_id = make_ticket(acme, make_customer(acme), priority="low")
    in_tenant(acme, lambda: service.update_ticket(admin_of(acme), db.session.get(Ticket, ticket_id),
                                                  {"due_at": "2031-05-06T09:30"}))
    row = ticket_row(acme, ticket_id)
    assert row.due_at.isoformat() == "2031-05-06T01:30:00+00:00"  # entered in Asia/Shanghai
    in_tenant(acme, lambda: service.update_ticket(admin_of(acme), db.session.get(Ticket, ticket_id),
                                                  {"due_at": "", "priority": "urgent"}))
    row = ticket_row(acme, ticket_id)
    assert row.due_at - row.created_at == timedelta(hours=4)


def test_bad_fields_are_all_reported_and_nothing_is_saved(acme, in_tenant):
    def create():
        with pytest.raises(Invalid) as refused:
            service.create_ticket(admin_of(acme), {"subject": " ", "kind": "rant", "priority": "asap",
                                                   "due_at": "tomorrow", "order_number": "abc", "customer_id": "999999"})
        db.session.rollback()
        return refused.value.errors, db.session.scalar(select(Ticket.id))

    errors, any_ticket = in_tenant(acme, create)
    assert set(errors) == {"subject", "kind", "priority", "due_at", "order_number", "customer_id"}
    assert any_ticket is None


def test_opening_and_moving_are_on_the_customers_timeline(acme, make_customer, make_ticket, in_tenant):
    customer_id = make_customer(acme)
    ticket_id = make_ticket(acme, customer_id, subject="Screen flickers", status="resolved")
    events = in_tenant(acme, lambda: [(e.kind, e.payload) for e in db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.customer_id == customer_id).order_by(TimelineEvent.id))])
    number = f"TK-{ticket_id:06d}"
    link = ["tickets.show", {"ticket_id": ticket_id}]
    assert events[0] == ("ticket_opened", {"number": number, "subject": "Screen flickers", "link": link})
    assert events[1][0] == "ticket_status"
    assert events[1][1]["number"] == number and events[1][1]["link"] == link
    assert events[1][1]["status"]["en"] == "Resolved" and events[1][1]["status"]["zh"]


def test_numbers_count_per_tenant(acme, globex, make_customer, make_ticket, ticket_row):
    first_acme = ticket_row(acme, make_ticket(acme, make_customer(acme)))
    first_globex = ticket_row(globex, make_ticket(globex, make_customer(globex)))
    assert first_acme.number == first_globex.number == "TK-000001"


def test_a_rep_sees_only_tickets_assigned_to_them_and_no_unassigned_ones(acme, add_member, make_customer,
                                                                        make_ticket, in_tenant):
    _a, rep = add_member(acme, "sales_rep", "Rita Rep")
    _b, other = add_member(acme, "sales_rep", "Oscar Other")
    _c, agent = add_member(acme, "support_agent", "Ada Agent")
    customer = make_customer(acme)
    mine = make_ticket(acme, customer, owner_id=str(rep))
    theirs = make_ticket(acme, customer, owner_id=str(other))
    nobodys = make_ticket(acme, customer, owner_id="")

    def seen(member_id):
        viewer = db.session.get(Member, member_id)
        return set(db.session.scalars(service.visible(viewer).with_only_columns(Ticket.id)))

    assert in_tenant(acme, lambda: seen(rep)) == {mine}
    assert in_tenant(acme, lambda: seen(agent)) == {mine, theirs, nobodys}


def test_a_rep_may_only_assign_to_themselves(acme, add_member, make_customer, in_tenant):
    _a, rep = add_member(acme, "sales_rep", "Rita Rep")
    _b, other = add_member(acme, "sales_rep", "Oscar Other")
    customer = make_customer(acme, member_id=rep)

    def create(owner):
        viewer = db.session.get(Member, rep)
        with pytest.raises(Invalid) as refused:
            service.create_ticket(viewer, {"subject": "x", "customer_id": customer, "owner_id": owner})
        db.session.rollback()
        return refused.value.errors["owner_id"]

    assert in_tenant(acme, lambda: create(str(other))) == "You can only assign tickets to yourself."
    assert in_tenant(acme, lambda: create("")) == "You can only assign tickets to yourself."


def test_my_queue_puts_overdue_first_then_priority_then_due(acme, make_customer, make_ticket, in_tenant):
    customer, now = make_customer(acme), utcnow()
    me = str(acme.admin_member_id)
    made = {
        "late low": make_ticket(acme, customer, owner_id=me, priority="low", due_at=now - timedelta(hours=1)),
        "late urgent": make_ticket(acme, customer, owner_id=me, priority="urgent", due_at=now - timedelta(minutes=5)),
        "late urgent older due": make_ticket(acme, customer, owner_id=me, priority="urgent",
                                             due_at=now - timedelta(days=2)),
        "urgent": make_ticket(acme, customer, owner_id=me, priority="urgent", due_at=now + timedelta(hours=3)),
        "high soon": make_ticket(acme, customer, owner_id=me, priority="high", due_at=now + timedelta(hours=2)),
        "high later": make_ticket(acme, customer, owner_id=me, priority="high", due_at=now + timedelta(hours=20)),
        "low pending": make_ticket(acme, customer, owner_id=me, priority="low", status="pending"),
    }
    make_ticket(acme, customer, owner_id=me, priority="urgent", status="resolved")  # not waiting: not in the queue
    make_ticket(acme, customer, owner_id="", priority="urgent")  # nobody's: not in my queue

    def pages(limit):
        query, seen = service.TicketQuery(view="mine"), []
        while True:
            rows, cursor = service.list_tickets(admin_of(acme), query, limit=limit)
            seen += [row.id for row in rows]
            if not cursor:
                return seen
            query.after = cursor

    expected = [made[k] for k in ("late urgent older due", "late urgent", "late low", "urgent", "high soon",
                                  "high later", "low pending")]
    assert in_tenant(acme, lambda: pages(25)) == expected
    assert in_tenant(acme, lambda: pages(2)) == expected  # the keyset pages add up to the same order


def test_tickets_for_customer_lists_waiting_ones_first(acme, make_customer, make_ticket, in_tenant):
    customer, other = make_customer(acme), make_customer(acme, name="Li Lei")
    closed = make_ticket(acme, customer, status="closed")
    waiting = make_ticket(acme, customer, status="pending")
    make_ticket(acme, other)
    newest = make_ticket(acme, customer, status="resolved")
    found = in_tenant(acme, lambda: [t.id for t in service.tickets_for_customer(admin_of(acme), customer)])
    assert found == [waiting, newest, closed]
