"""The home page's key numbers, counted by hand per scope: the admin sees everyone's, the manager of East their
team's (Mia, Rui, Ren), a rep their own (Rui); each card leads to the list its number counts."""
import html
import re
from decimal import Decimal

import pytest
from flask import g

from crm.extensions import db
from crm.members.models import Member
from crm.workspace import kpis


def numbers(acme, in_tenant, member_id):
    def measure():
        g.tenant = acme.ref  # the workspace's time zone is read from the bound tenant, as in a request
        return kpis.measure(db.session.get(Member, member_id), *kpis.this_month(), with_target=True)

    return in_tenant(acme, measure)


@pytest.mark.parametrize("who, expected", [
    ("admin", {"new": (4, 2), "overdue": 2, "today": 2, "weighted": "1400.00", "open_deals": 3, "won": "1000.00",
               "revenue": ("1180.00", "40.00"), "tickets": 3}),
    ("manager", {"new": (3, 1), "overdue": 2, "today": 1, "weighted": "1000.00", "open_deals": 2, "won": "300.00",
                 "revenue": ("180.00", "40.00"), "tickets": 2}),
    ("rep", {"new": (2, 1), "overdue": 1, "today": 1, "weighted": "500.00", "open_deals": 1, "won": "300.00",
             "revenue": ("170.00", "40.00"), "tickets": 1}),
])
def test_key_numbers_per_scope(acme, people, records, in_tenant, who, expected):
    k = numbers(acme, in_tenant, people[who].member_id)
    assert (k.now["new_customers"], k.before["new_customers"]) == expected["new"]
    assert (k.overdue, k.due_today) == (expected["overdue"], expected["today"])
    assert (k.weighted_pipeline, k.open_deals) == (Decimal(expected["weighted"]), expected["open_deals"])
    assert k.now["won_amount"] == Decimal(expected["won"])
    assert (k.now["order_revenue"], k.before["order_revenue"]) == tuple(map(Decimal, expected["revenue"]))
    assert k.open_tickets == expected["tickets"]


def test_won_is_held_against_the_managed_teams_target(acme, people, records, in_tenant, as_):
    manager = as_("manager")
    east = in_tenant(acme, lambda: db.session.get(Member, people["manager"].member_id).team_id)
    month = records.strftime("%Y-%m")
    assert manager.post(f"/{acme.slug}/targets/", data={"month": month, "subject": f"team-{east}",
                                                        "won_amount": "600", "order_revenue": "", "new_customers": "",
                                                        "follow_ups": ""}).status_code in (200, 303)
    k = numbers(acme, in_tenant, people["manager"].member_id)
    assert (k.won_target, k.target_percent) == (Decimal("600.00"), 50)
    page = manager.get(f"/{acme.slug}/").text
    assert "Target: CN¥600.00 (50%)" in page
    assert numbers(acme, in_tenant, people["rep"].member_id).won_target is None


def cards(page: str) -> dict[str, tuple[str, str]]:
    """{card label: (its number, its link)} of the key numbers on the home page."""
    found = re.findall(r'<a class="stat card[^"]*" href="([^"]+)"><span class="stat-n">([^<]+)</span>'
                       r'<span class="stat-l">([^<]+)</span>', page)
    return {label: (number, link.replace("&amp;", "&")) for link, number, label in found}


def test_home_cards_show_the_numbers_and_lead_to_their_lists(acme, records, as_):
    month = records
    page = as_("manager").get(f"/{acme.slug}/")
    assert page.status_code == 200 and "Your team's numbers" in html.unescape(page.text)
    shown = cards(page.text)
    assert shown["New customers"][0] == "3"
    assert shown["Overdue follow-ups"] == ("2", f"/{acme.slug}/activities/")
    assert shown["Weighted open pipeline"] == ("CN¥1,000.00", f"/{acme.slug}/deals/list?status=open")
    assert shown["Won this month"][0] == "CN¥300.00"
    assert shown["Order revenue this month"][0] == "CN¥180.00"
    assert shown["Open tickets"] == ("2", f"/{acme.slug}/tickets/?status=active")
    assert f"created_from={month.isoformat()}" in shown["New customers"][1]
    assert f"status=won&closed_from={month.isoformat()}" in shown["Won this month"][1]
    assert f"since={month.isoformat()}" in shown["Order revenue this month"][1]
    assert page.text.count("Overdue follow-ups") == 1  # the old count is folded into the card


def test_each_link_lists_what_its_card_counts(acme, records, as_):
    for who, customers in (("rep", 2), ("manager", 3)):
        client = as_(who)
        shown = cards(client.get(f"/{acme.slug}/").text)
        assert shown["New customers"][0] == str(customers)
        assert f"{customers} customers" in client.get(shown["New customers"][1]).text
    rep = as_("rep")
    page = rep.get(f"/{acme.slug}/").text
    assert "Your numbers" in page and "Your numbers" not in as_("admin").get(f"/{acme.slug}/").text
    shown = cards(page)
    tickets = rep.get(shown["Open tickets"][1]).text
    assert tickets.count("TK-0") == 1  # Rui's open one, not his closed one
    won = rep.get(shown["Won this month"][1]).text
    assert "300.00" in won and "50.00" not in won  # last month's win is not listed
    orders = rep.get(shown["Order revenue this month"][1]).text
    assert orders.count("SO-0") == 3 and "40.00" not in orders  # this month's, last month's left out


def test_member_without_reports_keeps_their_own_follow_ups(acme, add_member, client_as, in_tenant):
    account, member = add_member(acme, "sales_rep", "No Reports")

    def strip_reports():
        role = db.session.get(Member, member).role
        role.permissions = {**role.permissions, "reports": {}}

    in_tenant(acme, strip_reports)
    page = client_as(account).get(f"/{acme.slug}/").text
    assert "Weighted open pipeline" not in page and "Overdue follow-ups" in page
