"""The Revenue and Team packs and the Sales pack's forecast against hand-counted records (the customers and deals
of test_reports.py's world, Asia/Shanghai, March 2026 against 29 Jan - 28 Feb).

Orders (CNY unless said; owner = the customer's owner: c1-c3 Rui, c4 Ren, c5 Wes):
  o1  c1  2 Mar 23:30  completed           100  P1 100
  o2  c1  5 Mar        placed              200  P2 200
  o3  c2  6 Mar        partially_refunded  300, 100 refunded -> 200   P1 300
  o4  c3  7 Mar        cancelled          1000                 -> left out
  o5  c4  10 Mar       refunded            400, 400 refunded   -> left out
  o6  c4  3 Mar 00:30  shipped              50  a line without a product   (16:30 UTC on 2 March)
  o7  c5  10 Mar       placed               80 USD              -> left out of amounts
  o8  c5  12 Mar       completed           500  P2 500
  o9  c6  15 Feb       completed           150  (the period before)
  o10 c3  20 Mar       completed            30  P1 30
Counted in March: o1 o2 o3 o6 o8 o10 = 1,080 in 6 orders. Rui's: o1 o2 o3 o10 = 530; Mia's (East) + o6 = 580.

Follow-ups: a1 Rui call due 5 Mar done 5 Mar | a2 Rui call due 6 Mar open | a3 Rui visit logged 7 Mar |
a4 Ren email due 8 Mar done 9 Mar | a5 Wes call due+done 10 Mar | a6 Rui call due+done 20 Feb."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.extensions import db
from tests.reports.test_reports import MARCH, counts, fragment, rows_of, shanghai, world  # noqa: F401


@pytest.fixture
def sales(world, acme, people, in_tenant):  # noqa: F811
    from crm.customers.models import Customer
    from crm.followups.models import Activity
    from crm.orders.models import Order, OrderLine
    from crm.products.models import Product

    def make():
        p1, p2 = Product(name="Pump", price=Decimal(100)), Product(name="Valve", price=Decimal(100))
        db.session.add_all([p1, p2])
        db.session.flush()
        products = {"P1": p1.id, "P2": p2.id, None: None}
        for key, customer, at, status, total, refunded, currency, product in (
                ("o1", "c1", shanghai(2, 23, 30), "completed", 100, None, "CNY", "P1"),
                ("o2", "c1", shanghai(5, 12), "placed", 200, None, "CNY", "P2"),
                ("o3", "c2", shanghai(6, 12), "partially_refunded", 300, 100, "CNY", "P1"),
                ("o4", "c3", shanghai(7, 12), "cancelled", 1000, None, "CNY", "P1"),
                ("o5", "c4", shanghai(10, 12), "refunded", 400, 400, "CNY", "P1"),
                ("o6", "c4", shanghai(3, 0, 30), "shipped", 50, None, "CNY", None),
                ("o7", "c5", shanghai(10, 12), "placed", 80, None, "USD", "P1"),
                ("o8", "c5", shanghai(12, 12), "completed", 500, None, "CNY", "P2"),
                ("o9", "c6", shanghai(15, 12, month=2), "completed", 150, None, "CNY", "P1"),
                ("o10", "c3", shanghai(20, 12), "completed", 30, None, "CNY", "P1")):
            owner = db.session.get(Customer, world[customer]).owner_id
            order = Order(customer_id=world[customer], owner_id=owner, currency=currency, status=status,
                          created_at=at, subtotal=Decimal(total), total=Decimal(total),
                          refunded_amount=Decimal(refunded) if refunded else None)
            order.lines.append(OrderLine(position=1, product_id=products[product], description=f"{key} line",
                                         quantity=Decimal(1), unit_price=Decimal(total), total=Decimal(total)))
            db.session.add(order)
            db.session.flush()
            world[key] = order.id
        rui, ren, wes = people["rep"].member_id, people["rep2"].member_id, people["west"].member_id
        for owner, method, due, done in (
                (rui, "call", shanghai(5, 9), shanghai(5, 10)), (rui, "call", shanghai(6, 9), None),
                (rui, "visit", None, shanghai(7, 9)), (ren, "email", shanghai(8, 9), shanghai(9, 9)),
                (wes, "call", shanghai(10, 9), shanghai(10, 10)),
                (rui, "call", shanghai(20, 9, month=2), shanghai(20, 10, month=2))):
            db.session.add(Activity(owner_id=owner, method=method, summary="", due_at=due, done_at=done,
                                    created_by=owner))
        return world

    return in_tenant(acme, make)


def test_revenue_per_local_day_without_cancelled_refunded_or_other_currencies(sales, acme, admin):
    html = fragment(admin, acme, "revenue/amount")
    days = rows_of(html)
    # 23:30 local on 2 March counts on 2 March; 00:30 local on 3 March (2 March in UTC) on 3 March.
    assert [c[0] for c in days["Mar 2"]] == ["1", "CN¥100.00", "CN¥100.00"]
    assert [c[0] for c in days["Mar 3"]] == ["1", "CN¥50.00", "CN¥50.00"]
    assert days["Mar 6"][1][0] == "CN¥200.00"  # 300 less the 100 refunded
    assert days["Mar 7"][0][0] == "0" and days["Mar 10"][0][0] == "0"  # cancelled; fully refunded and USD
    assert "CN¥1,080.00" in html and "CN¥180.00" in html  # six orders; their average
    assert "Period before: CN¥150.00" in html
    assert "1 orders in other currencies are left out" in html


def test_revenue_by_status_opens_the_order_list(sales, acme, admin):
    statuses = rows_of(fragment(admin, acme, "revenue/by-status"))
    assert {k: v[0][0] for k, v in statuses.items()} == {
        "Placed": "2", "Shipped": "1", "Completed": "3", "Refunded": "1", "Partially refunded": "1", "Cancelled": "1"}
    assert statuses["Completed"][1][0] == "CN¥630.00" and statuses["Placed"][1][0] == "CN¥200.00"
    assert statuses["Refunded"][1][0] == "CN¥0.00" and statuses["Cancelled"][1][0] == ""
    listed = admin.get(statuses["Completed"][0][1]).text
    assert listed.count('<tr id="order-') == 3


def test_products_top_customers_and_repeat_purchase(sales, acme, admin):
    products = rows_of(fragment(admin, acme, "revenue/by-product"))
    assert list(products) == ["Valve", "Pump", "Lines without a product"]
    assert [c[0] for c in products["Pump"][:3]] == ["3", "3", "CN¥430.00"]
    top = rows_of(fragment(admin, acme, "revenue/top-customers"))
    assert list(top) == ["Customer c5", "Customer c1", "Customer c2", "Customer c4", "Customer c3"]
    assert top["Customer c1"][:2] == [("2", None), ("CN¥300.00", None)]
    html = fragment(admin, acme, "revenue/repeat")
    assert counts(html) == {"1": "4", "2": "1", "3": "0", "4": "0", "5 or more": "0"}
    assert "20.0%" in html  # one of five buyers ordered twice


def test_rfm_segments_and_their_customers(sales, acme, admin):
    segments = rows_of(fragment(admin, acme, "revenue/rfm"))
    assert {k: v[0][0] for k, v in segments.items()} == {
        "Champions": "1", "Loyal": "1", "Promising": "1", "Need attention": "0", "At risk": "1", "Lost customers": "1"}
    link = segments["At risk"][0][1]
    assert "pack=revenue" in link and "by=at_risk" in link
    args = link.split("?", 1)[1].split("#")[0]
    listed = rows_of(fragment(admin, acme, "revenue/rfm-customers", args))
    assert list(listed) == ["Customer c1"]  # last order 5 Mar (R 2), two orders (F 5), 300 (M 4)
    assert [c[0] for c in listed["Customer c1"]] == ["Mar 5, 2026", "2", "CN¥300.00", "2", "5", "4"]
    champions = rows_of(fragment(admin, acme, "revenue/rfm-customers", MARCH + "&by=champions"))
    assert list(champions) == ["Customer c5"]


def test_revenue_scope_rep_and_manager(sales, acme, people, client_as):
    rui = fragment(client_as(people["rep"].account_id), acme, "revenue/amount")
    assert "CN¥530.00" in rui and rows_of(rui)["Mar 3"][0][0] == "0" and rows_of(rui)["Mar 12"][0][0] == "0"
    mia = fragment(client_as(people["manager"].account_id), acme, "revenue/amount")
    assert "CN¥580.00" in mia and rows_of(mia)["Mar 3"][0][0] == "1" and rows_of(mia)["Mar 12"][0][0] == "0"
    top = rows_of(fragment(client_as(people["rep"].account_id), acme, "revenue/top-customers"))
    assert list(top) == ["Customer c1", "Customer c2", "Customer c3"]


def test_follow_ups_per_member_and_method(sales, acme, people, admin, client_as):
    done = rows_of(fragment(admin, acme, "team/follow-ups"))
    assert [c[0] for c in done["Rui Rep"]] == ["2", "2", "1", "0", "1"]  # planned, done, call, email, visit
    assert [c[0] for c in done["Ren Rep"]] == ["1", "1", "0", "1", "0"]
    assert [c[0] for c in done["Wes West"]] == ["1", "1", "1", "0", "0"]
    mia = rows_of(fragment(client_as(people["manager"].account_id), acme, "team/follow-ups"))
    assert set(mia) == {"Rui Rep", "Ren Rep"}
    assert set(rows_of(fragment(client_as(people["rep"].account_id), acme, "team/follow-ups"))) == {"Rui Rep"}


def test_leaderboard_order_and_scope(sales, acme, people, admin, client_as):
    board = rows_of(fragment(admin, acme, "team/leaderboard"))
    assert list(board)[:3] == ["Rui Rep", "Wes West", "Ren Rep"]  # won 1000; then order revenue 500, 50
    assert [c[0] for c in board["Rui Rep"]] == ["CN¥1,000.00", "CN¥530.00", "3", "2"]
    assert [c[0] for c in board["Wes West"]] == ["CN¥0.00", "CN¥500.00", "1", "1"]
    by_follow_ups = list(rows_of(fragment(admin, acme, "team/leaderboard", MARCH + "&by=follow_ups")))
    assert by_follow_ups[0] == "Rui Rep"
    mia = rows_of(fragment(client_as(people["manager"].account_id), acme, "team/leaderboard"))
    assert "Wes West" not in mia and list(mia)[:2] == ["Rui Rep", "Ren Rep"]
    assert list(rows_of(fragment(client_as(people["rep"].account_id), acme, "team/leaderboard"))) == ["Rui Rep"]


def _set_targets(acme, in_tenant, people, rows):
    from crm.members.models import Member, Team
    from crm.targets.models import SalesTarget

    def put():
        east = db.session.scalar(select(Team.id).where(Team.name == "East"))
        for subject, month, won in rows:
            ids = {"team_id": east} if subject == "east" else {
                "member_id": db.session.get(Member, people[subject].member_id).id}
            db.session.add(SalesTarget(month=month, currency="CNY", won_amount=Decimal(won), **ids))

    in_tenant(acme, put)


def test_target_against_actual_for_the_months_of_the_period(sales, acme, people, client_as, in_tenant):
    from datetime import date

    _set_targets(acme, in_tenant, people, [("east", date(2026, 3, 1), 2000), ("rep", date(2026, 3, 1), 800)])
    both = "preset=custom&start=2026-02-01&end=2026-03-31"
    mia = table_rows(fragment(client_as(people["manager"].account_id), acme, "team/targets", both))
    assert mia == [["Feb 2026", "East", "", "CN¥700.00", ""], ["Mar 2026", "East", "CN¥2,000.00", "CN¥1,000.00",
                                                               "50.0%"]]
    rui = table_rows(fragment(client_as(people["rep"].account_id), acme, "team/targets", both))
    assert rui[1] == ["Mar 2026", "Rui Rep", "CN¥800.00", "CN¥1,000.00", "125.0%"]
    ren = table_rows(fragment(client_as(people["manager"].account_id), acme, "team/targets",
                               f"{MARCH}&owner={people['rep2'].member_id}&by=follow_ups"))
    assert ren == [["Mar 2026", "Ren Rep", "", "1", ""]]


def table_rows(html: str) -> list[list[str]]:
    return [[label, *(c[0] for c in cells)] for label, cells in rows_of(html).items()]


def test_weighted_forecast_against_the_won_target(world, acme, people, admin, client_as, in_tenant):  # noqa: F811
    from crm.deals.models import Deal, Stage
    from crm.targets import months

    def deals():
        this = months.current()
        lead = db.session.scalar(select(Stage.id).where(Stage.pipeline_id == 1, Stage.name_en == "Lead"))
        d3 = db.session.get(Deal, world["d3"])
        d3.expected_close, d3.probability = this + timedelta(days=14), 50  # Ren: 2000 x 50%
        for amount, probability, close in ((1000, 20, months.shift(this, 1)), (500, 10, this - timedelta(days=3))):
            db.session.add(Deal(title="Next", customer_id=world["c1"], pipeline_id=1, stage_id=lead,
                                amount=Decimal(amount), currency="CNY", owner_id=people["rep"].member_id,
                                probability=probability, status="open", expected_close=close))
        return this

    this = in_tenant(acme, deals)
    _set_targets(acme, in_tenant, people, [("east", this, 3000)])
    mia = table_rows(fragment(client_as(people["manager"].account_id), acme, "sales/forecast"))
    assert mia[0][1:] == ["2", "CN¥2,500.00", "CN¥1,050.00", "CN¥3,000.00", "35.0%"]  # one overdue
    assert mia[1][1:] == ["1", "CN¥1,000.00", "CN¥200.00", "CN¥3,000.00", "6.7%"]  # the target carries on
    rui_html = fragment(client_as(people["rep"].account_id), acme, "sales/forecast")
    rui = table_rows(rui_html)
    assert rui[0][1:] == ["1", "CN¥500.00", "CN¥50.00", "", ""] and rui[1][1] == "1"
    assert "1 open deals expected to close earlier" in rui_html
    link = rows_of(fragment(admin, acme, "sales/forecast"))
    listed = admin.get(list(link.values())[0][0][1]).text
    assert listed.count('<tr id="deal-') == 2


def test_report_pages_of_the_new_packs(sales, acme, admin):
    for pack in ("revenue", "team"):
        page = admin.get(f"/{acme.slug}/reports/?pack={pack}&{MARCH}")
        assert page.status_code == 200 and f"/reports/{pack}/" in page.text
    answer = admin.get(f"/{acme.slug}/reports/revenue/rfm/export?{MARCH}")
    assert answer.status_code == 200 and "Champions" in answer.data.decode("utf-8-sig")


def test_each_reports_picker_says_what_it_picks(sales, acme, admin):
    """Screen readers name the `by` select of a report by what it chooses, not a generic "Field"."""
    for path, label in (("team/leaderboard", "Rank by"), ("team/targets", "Measure"),
                        ("revenue/rfm-customers", "Segment"), ("service/tickets", "Group by")):
        assert f'<select name="by" aria-label="{label}">' in fragment(admin, acme, path), path
