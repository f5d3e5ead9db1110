"""The Service and Campaigns reports against hand-counted records: numbers, scopes, local days and drill-down.

The world (workspace in Asia/Shanghai, March 2026 as the period, 29 Jan - 28 Feb before it; local times):
  tickets  t1 Rui complaint urgent, opened 2 Mar 10:00, due 14:00, resolved 11:00 (1 h), closed, rated 5
           t2 Rui inquiry normal, opened 2 Mar 20:30, due 5 Mar 20:30, resolved 2 Mar 23:30 (3 h), resolved
           t3 Ren repair high, opened 1 Mar 09:00, due 2 Mar 09:00, resolved 3 Mar 00:30 (39.5 h, 16:30 UTC on
              2 Mar), closed, rated 2: breached
           t4 Wes inquiry low, opened 4 Mar, due 6 Mar, still open: breached
           t5 unassigned other normal, opened 10 Mar, due 13 Mar, pending: breached
           t6 Rui complaint normal, opened 15 Feb, due 18 Feb, resolved 16 Feb (24 h), closed, rated 4
  campaigns A Rui, started 5 Mar 10:00: sent to k1 (deal 20 Mar: in), k2 (order 10 Apr: 36 days, out),
              k3 (order 4 Mar: before), k5 (cancelled order 7 Mar), k6 (order 3 Apr: in); failed to k4 (deal 6 Mar,
              not reached); opted out: one when queueing, one refused at send time
           B Wes, started 12 Mar: sent to k1 (deal 20 Mar: in)
           C Rui, started 10 Feb: sent to k3 (order 4 Mar: in)
           D Rui, a draft: not counted
Rui and Ren are in team East with their manager Mia; Wes is in West."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.extensions import db
from tests.reports.test_reports import MARCH, Tables, counts, fragment, rows_of, shanghai

UTC = timezone.utc


@pytest.fixture
def desk(acme, people, in_tenant):
    from crm.customers.models import Customer
    from crm.tickets.models import Ticket

    def make():
        rui, ren, wes = people["rep"].member_id, people["rep2"].member_id, people["west"].member_id
        customer = Customer(name="Service customer", kind="person", stage="lead", owner_id=rui, custom={})
        db.session.add(customer)
        db.session.flush()
        ids = {}
        for key, owner, kind, priority, status, opened, due, resolved, rating in (
                ("t1", rui, "complaint", "urgent", "closed", shanghai(2, 10), shanghai(2, 14), shanghai(2, 11), 5),
                ("t2", rui, "inquiry", "normal", "resolved", shanghai(2, 20, 30), shanghai(5, 20, 30),
                 shanghai(2, 23, 30), None),
                ("t3", ren, "repair", "high", "closed", shanghai(1, 9), shanghai(2, 9), shanghai(3, 0, 30), 2),
                ("t4", wes, "inquiry", "low", "open", shanghai(4, 9), shanghai(6, 9), None, None),
                ("t5", None, "other", "normal", "pending", shanghai(10, 9), shanghai(13, 9), None, None),
                ("t6", rui, "complaint", "normal", "closed", shanghai(15, 9, month=2), shanghai(18, 9, month=2),
                 shanghai(16, 9, month=2), 4)):
            ticket = Ticket(customer_id=customer.id, subject=f"Ticket {key}", kind=kind, priority=priority,
                            status=status, owner_id=owner, created_at=opened, due_at=due, resolved_at=resolved,
                            closed_at=resolved if status == "closed" else None, satisfaction=rating)
            db.session.add(ticket)
            db.session.flush()
            ids[key] = ticket.id
        return ids

    return in_tenant(acme, make)


def test_tickets_by_kind_status_and_priority(desk, acme, admin):
    html = fragment(admin, acme, "service/tickets")
    assert counts(html) == {"Complaint": "1", "Inquiry": "2", "Repair": "1", "Other": "1"}
    assert rows_of(html)["Complaint"][2][0] == "1"  # t6, in February
    assert "Of those, open or pending now" in html
    by_status = counts(fragment(admin, acme, "service/tickets", MARCH + "&by=status"))
    assert by_status == {"Open": "1", "Pending": "1", "Resolved": "1", "Closed": "2"}
    by_priority = counts(fragment(admin, acme, "service/tickets", MARCH + "&by=priority"))
    assert by_priority == {"Urgent": "1", "High": "1", "Normal": "2", "Low": "1"}
    listed = admin.get(rows_of(html)["Inquiry"][0][1]).text
    assert "2 tickets" in listed and "Ticket t2" in listed and "Ticket t4" in listed


def test_ticket_scope_rep_and_manager(desk, acme, people, client_as):
    rui = counts(fragment(client_as(people["rep"].account_id), acme, "service/tickets"))
    assert rui == {"Complaint": "1", "Inquiry": "1", "Repair": "0", "Other": "0"}
    # Mia: her team's (Rui's, Ren's) and the unassigned, as her ticket list shows them; not Wes's.
    mia_client = client_as(people["manager"].account_id)
    mia = rows_of(fragment(mia_client, acme, "service/tickets"))
    assert {k: v[0][0] for k, v in mia.items()} == {"Complaint": "1", "Inquiry": "1", "Repair": "1", "Other": "1"}
    assert "1 ticket" in mia_client.get(mia["Inquiry"][0][1]).text
    sla = rows_of(fragment(client_as(people["rep"].account_id), acme, "service/sla"))
    assert [c[0] for c in sla["Mar 2"]] == ["1", "0", "0.0%"] and sla["Mar 6"][1][0] == "0"


def test_sla_breach_rate(desk, acme, admin):
    html = fragment(admin, acme, "service/sla")
    sla = rows_of(html)
    assert [c[0] for c in sla["Mar 2"]] == ["1", "1", "50.0%"]  # t1 in time, t3 resolved after its due time
    assert [c[0] for c in sla["Mar 5"]] == ["1", "0", "0.0%"]  # t2
    assert [sla[day][1][0] for day in ("Mar 6", "Mar 13")] == ["1", "1"]  # t4, t5: not resolved, past due
    assert "60.0%" in html  # three of five breached in March; none of February's one
    listed = admin.get(sla["Mar 2"][1][1]).text
    assert "1 ticket" in listed and "Ticket t3" in listed and "Ticket t1" not in listed
    assert 'name="sla" value="breached"' in listed and "Narrowed by a report." in listed  # kept by the form


def test_median_time_to_resolve_on_local_days(desk, acme, admin):
    html = fragment(admin, acme, "service/resolution")
    resolved = rows_of(html)
    # t2 at 23:30 local counts on 2 March; t3 at 00:30 local on 3 March (16:30 UTC on 2 March) on 3 March.
    assert [c[0] for c in resolved["Mar 2"]] == ["2", "2.0"] and [c[0] for c in resolved["Mar 3"]] == ["1", "39.5"]
    assert "3.0" in html and "24.0" in html  # the median of 1, 3 and 39.5 hours; February's one ticket
    listed = admin.get(resolved["Mar 2"][0][1]).text
    assert "2 tickets" in listed and "Ticket t1" in listed and "Ticket t2" in listed


def test_ticket_resolved_late_evening_in_new_york(acme, admin, in_tenant, make_customer):
    from crm.settings import put_setting
    from crm.tickets.models import Ticket

    def setup():
        put_setting("timezone", "America/New_York")
        customer_id = make_customer(acme, name="Late Larry")
        opened = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
        db.session.add(Ticket(customer_id=customer_id, subject="Late fix", status="resolved", created_at=opened,
                              due_at=opened + timedelta(days=1),
                              resolved_at=datetime(2026, 3, 3, 4, 30, tzinfo=UTC)))  # 23:30 on 2 March there

    in_tenant(acme, setup)
    resolved = rows_of(fragment(admin, acme, "service/resolution"))
    assert resolved["Mar 2"][0][0] == "1" and resolved["Mar 3"][0][0] == "0"
    assert "Late fix" in admin.get(resolved["Mar 2"][0][1]).text


def test_satisfaction_average(desk, acme, admin, people, client_as):
    html = fragment(admin, acme, "service/satisfaction")
    ratings = rows_of(html)
    assert ratings["5 · Very satisfied"][0][0] == "1" and ratings["2 · Dissatisfied"][0][0] == "1"
    assert ratings["4 · Satisfied"][0][0] == "0" and ratings["4 · Satisfied"][2][0] == "1"  # t6 before
    assert "3.5" in html and "4.0" in html  # (5 + 2) / 2 in March, 4 in February
    assert "Ticket t1" in admin.get(ratings["5 · Very satisfied"][0][1]).text
    rui = fragment(client_as(people["rep"].account_id), acme, "service/satisfaction")
    assert rows_of(rui)["2 · Dissatisfied"][0][0] == "0" and "5.0" in rui


@pytest.fixture
def campaigns(acme, people, in_tenant):
    from crm.campaigns.models import Campaign
    from crm.customers.models import Customer
    from crm.deals.models import Deal, Stage
    from crm.notify.models import Notification
    from crm.orders.models import Order

    def make():
        rui, wes = people["rep"].member_id, people["west"].member_id
        lead = db.session.scalar(select(Stage.id).where(Stage.pipeline_id == 1, Stage.name_en == "Lead"))
        customers = {}
        for key in ("k1", "k2", "k3", "k4", "k5", "k6"):
            customers[key] = Customer(name=f"Customer {key}", kind="person", stage="lead", owner_id=rui, custom={})
        db.session.add_all(customers.values())
        db.session.flush()
        ids = {}
        for key, owner, started, opted_out in (("A", rui, shanghai(5, 10), 1), ("B", wes, shanghai(12, 10), 0),
                                               ("C", rui, shanghai(10, 10, month=2), 0), ("D", rui, None, 0)):
            campaign = Campaign(name=f"Campaign {key}", channel="email", language="en", subject="Hi", body="Hello",
                                audience={}, status="done" if started else "draft", owner_id=owner,
                                started_at=started, send_at=started, finished_at=started, opted_out=opted_out)
            db.session.add(campaign)
            db.session.flush()
            ids[key] = campaign.id
        for campaign, customer, status, error in (
                ("A", "k1", "sent", None), ("A", "k2", "sent", None), ("A", "k3", "sent", None),
                ("A", "k5", "sent", None), ("A", "k6", "sent", None), ("A", "k4", "failed", "bounced"),
                ("A", "k2", "cancelled", "opted out"), ("B", "k1", "sent", None), ("C", "k3", "sent", None)):
            started = db.session.get(Campaign, ids[campaign]).started_at
            db.session.add(Notification(
                channel="email", kind="campaign", recipient="k@example.com", customer_id=customers[customer].id,
                campaign_id=ids[campaign], idempotency_key=f"t:{campaign}:{customer}:{status}", status=status,
                last_error=error, due_at=started, sent_at=started + timedelta(minutes=5) if status == "sent" else None))
        for customer, day, month in (("k1", 20, 3), ("k4", 6, 3)):
            db.session.add(Deal(title=f"Deal {customer}", customer_id=customers[customer].id, pipeline_id=1,
                                stage_id=lead, amount=Decimal(100), currency="CNY", owner_id=wes, probability=10,
                                status="open", created_at=shanghai(day, 12, month=month)))
        for customer, day, month, status in (("k2", 10, 4, "placed"), ("k3", 4, 3, "placed"),
                                             ("k5", 7, 3, "cancelled"), ("k6", 3, 4, "placed")):
            db.session.add(Order(customer_id=customers[customer].id, owner_id=wes, currency="CNY", status=status,
                                 created_at=shanghai(day, 12, month=month)))
        return ids

    return in_tenant(acme, make)


def test_campaign_results_and_conversions(campaigns, acme, admin):
    html = fragment(admin, acme, "campaigns/results")
    rows = rows_of(html)
    assert list(rows) == ["Campaign A", "Campaign B"]  # C started in February, D never
    # sent, failed, opted out, converted, conversion (after the name and the start day)
    assert [c[0] for c in rows["Campaign A"][1:]] == ["5", "1", "2", "2", "40.0%"]  # k1 and k6 within 30 days
    assert [c[0] for c in rows["Campaign B"][1:]] == ["1", "0", "0", "1", "100.0%"]
    names = {row[0][0]: row[0][1] for row in Tables(html).rows[1:]}
    assert names["Campaign A"] == f"/{acme.slug}/campaigns/{campaigns['A']}"
    assert admin.get(names["Campaign A"]).status_code == 200
    assert "data-chart=" in html


def test_campaign_scope(campaigns, acme, people, client_as):
    rui = rows_of(fragment(client_as(people["rep"].account_id), acme, "campaigns/results"))
    assert list(rui) == ["Campaign A"]
    mia = rows_of(fragment(client_as(people["manager"].account_id), acme, "campaigns/results"))
    assert list(mia) == ["Campaign A"]  # Wes's campaign B is West's
    previous = fragment(client_as(people["rep"].account_id), acme, "campaigns/results")
    assert "Period before: 1" in previous  # campaign C, whose one customer ordered within 30 days


def test_the_packs_have_their_tabs(acme, admin, people, client_as):
    service = admin.get(f"/{acme.slug}/reports/?pack=service")
    assert service.status_code == 200 and ">Service<" in service.text and ">Campaigns<" in service.text
    for path in ("service/tickets", "service/sla", "service/resolution", "service/satisfaction"):
        assert f"/reports/{path}" in service.text
    assert "/reports/campaigns/results" in admin.get(f"/{acme.slug}/reports/?pack=campaigns").text
    empty = fragment(client_as(people["rep"].account_id), acme, "campaigns/results")
    assert "Nothing to count in this period." in empty
