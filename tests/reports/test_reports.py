"""The Customers and Sales reports against hand-counted records: numbers, scopes, local days, drill-down and
exports.

The world (workspace in Asia/Shanghai, March 2026 as the period, 29 Jan - 28 Feb before it):
  customers  c1 Rui 2 Mar 10:00 A Web | c2 Rui 2 Mar 23:30 B Web | c3 Rui 3 Mar 00:30 A Fair (16:30 UTC on 2 Mar)
             c4 Ren 10 Mar A Web | c5 Wes 10 Mar C | c6 Rui 15 Feb A | pool 4 Mar (no owner, no level)
             gone: Rui 5 Mar, deleted
  deals      d1 Rui c1 3 Mar Lead > Qualified > Proposal > Won 20 Mar, 1000 CNY
             d2 Rui c2 4 Mar Lead > Lost 12 Mar "Too expensive", 500 CNY
             d3 Ren c4 6 Mar Proposal > Negotiation 9 Mar, open, 2000 CNY
             d4 Wes c5 10 Mar Lead > Lost 15 Mar "Too expensive", 300 USD
             d5 Rui c6 20 Feb Lead > Won 25 Feb, 700 CNY
Rui and Ren are in team East with their manager Mia; Wes is in West."""
import csv
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.extensions import db, utcnow
from tests.conftest import HX

MARCH = "preset=custom&start=2026-03-01&end=2026-03-31"
UTC = timezone.utc


def shanghai(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


class Tables(HTMLParser):
    """The rows of a page's tables as [(text, link)] per cell, and its figures' values."""

    def __init__(self, html: str):
        super().__init__()
        self.rows, self.cell, self.link = [], None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th") and self.rows:
            self.cell = ""
            self.link = None
        elif tag == "a" and self.cell is not None:
            self.link = dict(attrs)["href"]

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append((" ".join(self.cell.split()), self.link))
            self.cell = None


def rows_of(html: str) -> dict[str, list]:
    """Body rows by their first cell: {label: [(text, link), ...]}."""
    return {row[0][0]: row[1:] for row in Tables(html).rows[1:] if row}


@pytest.fixture
def world(acme, people, in_tenant):
    from crm.customers.models import Customer
    from crm.deals.models import Deal, DealStageChange, Stage

    def make():
        stages = dict(db.session.execute(select(Stage.name_en, Stage.id).where(Stage.pipeline_id == 1)).all())
        ids = {}
        rui, ren, wes = people["rep"].member_id, people["rep2"].member_id, people["west"].member_id
        for key, owner, at, level, source in (
                ("c1", rui, shanghai(2, 10), "A", "Web"), ("c2", rui, shanghai(2, 23, 30), "B", "Web"),
                ("c3", rui, shanghai(3, 0, 30), "A", "Fair"), ("c4", ren, shanghai(10, 12), "A", "Web"),
                ("c5", wes, shanghai(10, 12), "C", None), ("c6", rui, shanghai(15, 12, month=2), "A", None),
                ("pool", None, shanghai(4, 12), None, None), ("gone", rui, shanghai(5, 12), "A", "Web")):
            customer = Customer(name=f"Customer {key}", kind="person", stage="lead", owner_id=owner, level=level,
                                source=source, created_at=at, custom={},
                                deleted_at=utcnow() if key == "gone" else None)
            db.session.add(customer)
            db.session.flush()
            ids[key] = customer.id
        for key, owner, customer, amount, currency, moves, reason in (
                ("d1", rui, "c1", 1000, "CNY", [("Lead", 3), ("Qualified", 5), ("Proposal", 8), ("Won", 20)], None),
                ("d2", rui, "c2", 500, "CNY", [("Lead", 4), ("Lost", 12)], "Too expensive "),
                ("d3", ren, "c4", 2000, "CNY", [("Proposal", 6), ("Negotiation", 9)], None),
                ("d4", wes, "c5", 300, "USD", [("Lead", 10), ("Lost", 15)], "Too expensive"),
                ("d5", rui, "c6", 700, "CNY", [("Lead", 20), ("Won", 25)], None)):
            month = 2 if key == "d5" else 3
            last, status = moves[-1][0], {"Won": "won", "Lost": "lost"}.get(moves[-1][0], "open")
            deal = Deal(title=f"Deal {key}", customer_id=ids[customer], pipeline_id=1, stage_id=stages[last],
                        amount=Decimal(amount), currency=currency, owner_id=owner, probability=10, status=status,
                        lost_reason=reason, created_at=shanghai(moves[0][1], 9, month=month),
                        closed_at=shanghai(moves[-1][1], 9, month=month) if status != "open" else None)
            db.session.add(deal)
            db.session.flush()
            previous = None
            for stage, day in moves:
                db.session.add(DealStageChange(deal_id=deal.id, from_stage_id=previous, to_stage_id=stages[stage],
                                               at=shanghai(day, 9, month=month)))
                previous = stages[stage]
            ids[key] = deal.id
        ids["stages"] = stages
        return ids

    return in_tenant(acme, make)


def fragment(client, acme, path: str, args: str = MARCH):
    response = client.get(f"/{acme.slug}/reports/{path}?{args}", headers=HX)
    assert response.status_code == 200, response.text
    return response.text


def figures_of(html: str) -> dict[str, tuple[str, str | None]]:
    """The figures above a report: {label: (value, the period before's value or None)}."""
    found = re.findall(r'class="stat-l">([^<]+)</span>\s*<(?:a|span) class="stat-n"[^>]*>([^<]+)</(?:a|span)>'
                       r'(?:\s*<span class="small muted">Period before: ([^<\s]+))?', html)
    return {label: (value, before or None) for label, value, before in found}


def counts(html: str, column: int = 0) -> dict[str, str]:
    return {label: cells[column][0] for label, cells in rows_of(html).items()}


def test_new_customers_by_local_day_and_scope(world, acme, people, client_as, admin):
    everyone = rows_of(fragment(admin, acme, "customers/new"))
    # 23:30 local on 2 March counts on 2 March; 00:30 local on 3 March (still 2 March in UTC) on 3 March.
    assert everyone["Mar 2"][0][0] == "2" and everyone["Mar 3"][0][0] == "1"
    assert everyone["Mar 4"][0][0] == "1" and everyone["Mar 10"][0][0] == "2"
    assert everyone["Mar 31"][1][0] == "7"  # c6 before the period, six in it; the deleted one never
    assert sum(int(cells[0][0]) for cells in everyone.values()) == 6
    rui = counts(fragment(client_as(people["rep"].account_id), acme, "customers/new"))
    assert rui["Mar 2"] == "2" and rui["Mar 3"] == "1" and rui["Mar 10"] == "0" and rui["Mar 4"] == "0"
    mia = counts(fragment(client_as(people["manager"].account_id), acme, "customers/new"))
    assert mia["Mar 10"] == "1" and mia["Mar 4"] == "0"  # Ren's, not Wes's; the pool is no one's


def test_a_number_opens_a_list_of_exactly_that_many(world, acme, admin):
    html = fragment(admin, acme, "customers/new")
    text, link = rows_of(html)["Mar 2"][0]
    listed = admin.get(link)
    assert text == "2" and "2 customers" in listed.text
    assert "Customer c1" in listed.text and "Customer c2" in listed.text and "Customer c3" not in listed.text
    by_level = rows_of(fragment(admin, acme, "customers/by-level"))
    assert [by_level["Level A"][i][0] for i in (0, 2, 3)] == ["4", "3", "1"]  # all, new in March, before
    assert by_level["No level"][0] == ("1", None)  # the list has no "no level" filter: no link
    assert "4 customers" in admin.get(by_level["Level A"][0][1]).text
    assert "3 customers" in admin.get(by_level["Level A"][2][1]).text
    # c1-c5 and the pool's in March, c6 in February; the deleted one never
    assert figures_of(html) == {"New customers": ("6", "1"), "All customers": ("7", None)}
    html = fragment(admin, acme, "customers/by-tag")
    assert figures_of(html) == {"Customers": ("7", None), "New in the period": ("6", "1")}


def test_time_zone_edge_in_a_zone_behind_utc(acme, admin, in_tenant, make_customer):
    from crm.customers.models import Customer
    from crm.settings import put_setting

    def setup():
        put_setting("timezone", "America/New_York")
        customer = db.session.get(Customer, make_customer(acme, name="Late Larry"))
        customer.created_at = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)  # 23:30 on 2 March in New York

    in_tenant(acme, setup)
    days = rows_of(fragment(admin, acme, "customers/new"))
    assert days["Mar 2"][0][0] == "1" and days["Mar 3"][0][0] == "0"
    assert "Late Larry" in admin.get(days["Mar 2"][0][1]).text


def test_distributions_source_and_tag(world, acme, admin, in_tenant):
    sources = counts(fragment(admin, acme, "customers/by-source"))
    assert sources == {"Web": "3", "No source": "3", "Fair": "1"}
    html = fragment(admin, acme, "customers/by-stage")
    assert counts(html) == {"Lead": "7"} and 'data-chart=' in html


def test_follow_up_coverage(world, acme, admin, in_tenant):
    from crm.customers.models import Customer

    def contacted():
        for key, days in (("c1", 1), ("c2", 10), ("c3", 40)):
            db.session.get(Customer, world[key]).last_contact_at = utcnow() - timedelta(days=days)

    in_tenant(acme, contacted)
    html = fragment(admin, acme, "customers/follow-up")
    quiet = rows_of(html)
    assert [quiet[label][0][0] for label in ("7 days", "30 days", "90 days")] == ["6", "5", "4"]
    assert "4 customers" in admin.get(quiet["90 days"][0][1]).text


def buyers_orders(world, acme):
    """c1 ordered in February and on March 5, c3 on March 6; c4's order of March 7 was cancelled."""
    def place():
        from crm.orders.models import Order
        from crm.orders.service import refresh_first_orders

        for customer, at, status in (("c1", shanghai(10, 12, month=2), "completed"), ("c1", shanghai(5, 12), "placed"),
                                     ("c3", shanghai(6, 12), "placed"), ("c4", shanghai(7, 12), "cancelled")):
            db.session.add(Order(customer_id=world[customer], owner_id=acme.admin_member_id, currency="CNY",
                                 status=status, created_at=at))
        db.session.flush()
        refresh_first_orders(*(world[c] for c in ("c1", "c3", "c4")))

    return place


def test_new_and_returning_buyers(world, acme, admin, in_tenant):
    in_tenant(acme, buyers_orders(world, acme))
    buyers = rows_of(fragment(admin, acme, "customers/buyers"))
    assert [c[0] for c in buyers["Mar 5"]] == ["0", "1"] and [c[0] for c in buyers["Mar 6"]] == ["1", "0"]
    assert [c[0] for c in buyers["Mar 7"]] == ["0", "0"]
    figures = figures_of(fragment(admin, acme, "customers/buyers"))
    assert figures["New buyers"] == ("1", "1") and figures["Returning buyers"] == ("1", "0")  # c1 first in February


def test_a_buyer_whose_first_order_is_cancelled_is_new_at_their_next_one(world, acme, admin, in_tenant):
    from crm.members.models import Member
    from crm.orders.models import Order
    from crm.orders.service import move_order

    def cancel_february():
        first = db.session.scalar(select(Order).where(Order.customer_id == world["c1"]).order_by(Order.created_at))
        first.status = "placed"  # a February order still placed, so that it may be cancelled
        move_order(db.session.get(Member, acme.admin_member_id), first, "cancelled")

    in_tenant(acme, buyers_orders(world, acme))
    in_tenant(acme, cancel_february)
    buyers = rows_of(fragment(admin, acme, "customers/buyers"))
    assert [c[0] for c in buyers["Mar 5"]] == ["1", "0"] and [c[0] for c in buyers["Mar 6"]] == ["1", "0"]
    figures = figures_of(fragment(admin, acme, "customers/buyers"))
    assert figures["New buyers"] == ("2", "0") and figures["Returning buyers"] == ("0", "0")


def test_upgrading_a_workspace_fills_each_customers_first_order(app, world, acme, admin, in_tenant):
    from sqlalchemy import text

    from tenants.migrations import upgrade_schema

    in_tenant(acme, buyers_orders(world, acme))
    schema = f"t_{acme.id}"
    with app.app_context(), db.engine.begin() as connection:  # the workspace as it was one version back
        connection.execute(text(f"alter table {schema}.customers drop column first_ordered_at"))
        connection.execute(text(f"update {schema}.alembic_version set version_num = 't0026'"))
    with app.app_context():
        upgrade_schema(db.engine, schema, "t0027")
    with app.app_context(), db.engine.connect() as connection:
        first = dict(connection.execute(text(f"select id, first_ordered_at from {schema}.customers")).all())
    assert first[world["c1"]] == shanghai(10, 12, month=2) and first[world["c3"]] == shanghai(6, 12)
    assert first[world["c4"]] is None  # only a cancelled order
    figures = figures_of(fragment(admin, acme, "customers/buyers"))
    assert figures["New buyers"] == ("1", "1") and figures["Returning buyers"] == ("1", "0")


def test_pool_health_counts_moves_in_the_scope_of_whom_they_concern(world, acme, people, admin, client_as,
                                                                      in_tenant):
    from crm.timeline.models import TimelineEvent

    def moves():
        for kind, owner, day in (("pool_claimed", people["rep"], 5), ("pool_released", people["rep2"], 6),
                                 ("pool_recycled", people["west"], 7)):
            db.session.add(TimelineEvent(kind=kind, customer_id=world["pool"], at=shanghai(day, 12),
                                         payload={"owner_id": owner.member_id}))

    in_tenant(acme, moves)
    assert [c[0] for c in rows_of(fragment(admin, acme, "customers/pool"))["Mar 5"]] == ["1", "0", "0"]
    every = rows_of(fragment(admin, acme, "customers/pool"))
    assert (every["Mar 6"][1][0], every["Mar 7"][2][0]) == ("1", "1")
    mia = rows_of(fragment(client_as(people["manager"].account_id), acme, "customers/pool"))
    assert (mia["Mar 5"][0][0], mia["Mar 6"][1][0], mia["Mar 7"][2][0]) == ("1", "1", "0")
    rui = rows_of(fragment(client_as(people["rep"].account_id), acme, "customers/pool"))
    assert (rui["Mar 5"][0][0], rui["Mar 6"][1][0]) == ("1", "0")


def test_funnel_from_stage_history_by_scope(world, acme, people, admin, client_as):
    html = fragment(admin, acme, "sales/funnel")
    funnel = rows_of(html)
    assert [funnel[s][0][0] for s in ("Lead", "Qualified", "Proposal", "Negotiation", "Won")] == \
        ["4", "2", "2", "2", "1"]
    assert funnel["Lead"][1][0] == "CN¥3,500.00" and funnel["Won"][1][0] == "CN¥1,000.00"
    assert funnel["Lead"][2][0] == "50.0%" and "1 deals in other currencies" in html
    assert figures_of(html)["Deals created"] == ("4", "1")  # d1-d4 in March, d5 in February
    listed = admin.get(funnel["Qualified"][0][1]).text
    assert "Deal d1" in listed and "Deal d3" in listed and listed.count('<tr id="deal-') == 2
    rui = counts(fragment(client_as(people["rep"].account_id), acme, "sales/funnel"))
    assert [rui[s] for s in ("Lead", "Qualified", "Won")] == ["2", "1", "1"]
    mia = counts(fragment(client_as(people["manager"].account_id), acme, "sales/funnel"))
    assert [mia[s] for s in ("Lead", "Qualified", "Won")] == ["3", "2", "1"]


def test_win_rate_lost_reasons_and_cycle(world, acme, admin):
    wins = rows_of(fragment(admin, acme, "sales/win-rate"))
    assert [c[0] for c in wins["Mar 12"]] == ["0", "1", "0.0%"] and [c[0] for c in wins["Mar 20"]] == ["1", "0",
                                                                                                       "100.0%"]
    html = fragment(admin, acme, "sales/win-rate")
    assert "33.3%" in html and "100.0%" in html  # a third of March's closed deals won; all of February's
    reasons = rows_of(fragment(admin, acme, "sales/lost-reasons"))
    assert list(reasons) == ["Too expensive"] and reasons["Too expensive"][0][0] == "2"
    listed = admin.get(reasons["Too expensive"][0][1]).text
    assert listed.count('<tr id="deal-') == 2
    cycle = rows_of(fragment(admin, acme, "sales/cycle"))
    assert cycle["Mar 20"][0][0] == "1" and cycle["Mar 20"][1][0] == "17.0"


def test_stalled_deals(world, acme, admin, in_tenant):
    from crm.deals.models import DealStageChange

    def recently_moved():
        for change in db.session.scalars(select(DealStageChange).where(DealStageChange.deal_id == world["d3"])):
            change.at = utcnow() - timedelta(days=20)

    in_tenant(acme, recently_moved)
    stalled = rows_of(fragment(admin, acme, "sales/stalled", "days=14"))
    assert list(stalled) == ["Negotiation"] and stalled["Negotiation"][0][0] == "1"
    assert admin.get(stalled["Negotiation"][0][1]).text.count('<tr id="deal-') == 1
    assert rows_of(fragment(admin, acme, "sales/stalled", "days=30")) == {}


def test_export_is_formula_safe_and_needs_the_export_permission(world, acme, admin, in_tenant, add_member,
                                                                client_as):
    from crm.customers.models import Customer

    in_tenant(acme, lambda: setattr(db.session.get(Customer, world["c5"]), "source", "=HYPERLINK(\"x\")"))
    answer = admin.get(f"/{acme.slug}/reports/customers/by-source/export?{MARCH}")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    assert answer.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert table[0][:3] == ["Value", "Customers", "Share (%)"]
    assert ["'=HYPERLINK(\"x\")", "1"] == table[-1][:2] or any(r[0] == "'=HYPERLINK(\"x\")" for r in table)
    xlsx = admin.get(f"/{acme.slug}/reports/sales/funnel/export?{MARCH}&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("Stage", "Deals", "Amount (CNY)") and values[1][:3] == ("Lead", 4, 3500)
    reader, _member = add_member(acme, "read_only", "Rita Reader")
    refused = client_as(reader).get(f"/{acme.slug}/reports/customers/by-source/export?{MARCH}")
    assert refused.status_code == 403
    page = client_as(reader).get(f"/{acme.slug}/reports/customers/by-source?{MARCH}", headers=HX)
    assert page.status_code == 200 and "/export" not in page.text


def test_page_menu_filters_and_bad_range(world, acme, admin):
    page = admin.get(f"/{acme.slug}/reports/?pack=sales")
    assert page.status_code == 200 and 'aria-current="page">Reports' in page.text.replace("\n", "")
    assert re.search(r'hx-get="[^"]*/reports/sales/funnel', page.text)
    refused = admin.get(f"/{acme.slug}/reports/?preset=custom&start=2026-03-31&end=2026-03-01")
    assert refused.status_code == 422 and "The end must not be before the start." in refused.text
    moved = admin.get(f"/{acme.slug}/reports/?preset=30d&start=2026-03-01&end=2026-03-31")
    assert 'value="custom" selected' in moved.text  # a day changed beside a preset makes the range custom
    assert "Not narrowed by: Pipeline" in fragment(admin, acme, "customers/new", MARCH + "&pipeline=1")
    assert "Not narrowed by" not in fragment(admin, acme, "sales/funnel", MARCH + "&pipeline=1")
    fragment_refused = admin.get(f"/{acme.slug}/reports/customers/new?preset=custom&start=x", headers=HX)
    assert fragment_refused.status_code == 422 and "Enter a valid date." in fragment_refused.text


def test_a_manager_counts_the_team_and_nobody_without_reports(world, acme, people, client_as, add_member):
    from crm.reports.periods import ReportQuery

    assert ReportQuery().args() == {}
    support, _member = add_member(acme, "support_agent", "Sue Support")
    assert client_as(support).get(f"/{acme.slug}/reports/").status_code == 403
    mia = rows_of(fragment(client_as(people["manager"].account_id), acme, "customers/by-level"))
    assert mia["Level A"][0][0] == "4"  # c1, c3, c4 and c6: Rui's and Ren's; c5 is West's


def test_presets_and_weeks_follow_the_workspace(acme, admin, in_tenant, make_customer):
    from datetime import date

    from crm.customers.models import Customer
    from crm.reports.periods import Period, preset_period
    from crm.settings import put_setting

    def check():
        put_setting("week_start", "sunday")
        thursday = date(2026, 3, 12)
        assert preset_period("week", thursday) == Period(date(2026, 3, 8), thursday)
        assert preset_period("quarter", thursday) == Period(date(2026, 1, 1), thursday)
        assert preset_period("7d", thursday) == Period(date(2026, 3, 6), thursday)
        assert Period(date(2026, 3, 1), date(2026, 3, 31)).previous() == Period(date(2026, 1, 29), date(2026, 2, 28))
        weeks = Period(date(2026, 3, 1), date(2026, 4, 30)).buckets()
        assert weeks[0].key == date(2026, 3, 1) and weeks[1].key == date(2026, 3, 8) and weeks[-1].end == date(
            2026, 4, 30)
        customer = db.session.get(Customer, make_customer(acme, name="Sunday Sam"))
        customer.created_at = shanghai(8, 0, 10)  # ten past midnight, Sunday 8 March, Shanghai

    in_tenant(acme, check)
    weeks = rows_of(fragment(admin, acme, "customers/new", "preset=custom&start=2026-03-01&end=2026-04-30"))
    assert weeks["Mar 8"][0][0] == "1" and weeks["Mar 1"][0][0] == "0"
