"""The month's actuals counted by hand: records placed on both sides of the month's edges in the workspace's time
zone (Asia/Shanghai, UTC+8: 2026-03-31 23:30 local is 15:30 UTC), in other currencies, cancelled or refunded."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.customers.models import Customer
from crm.deals.models import Deal, Stage
from crm.extensions import db
from crm.followups.models import Activity
from crm.members.models import Member, Role
from crm.orders.models import Order

MARCH = date(2026, 3, 1)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


LAST_EVENING = utc(2026, 3, 31, 15, 30)  # 23:30 on 31 March in Shanghai
APRIL_FIRST = utc(2026, 3, 31, 16, 10)  # 00:10 on 1 April in Shanghai, still March in UTC
MARCH_FIRST = utc(2026, 2, 28, 16, 0)  # 00:00 on 1 March in Shanghai, still February in UTC
FEBRUARY_LAST = utc(2026, 2, 28, 15, 59)


@pytest.fixture
def march(acme, people, in_tenant):
    """Rui's, Ren's and Wes's records around March 2026."""
    rui, ren, wes = people["rep"].member_id, people["rep2"].member_id, people["west"].member_id

    def make():
        old = utc(2025, 1, 5)
        shop = Customer(name="Old shop", owner_id=rui, created_at=old, custom={})
        customers = [shop,
                     Customer(name="New A", owner_id=rui, created_at=MARCH_FIRST, custom={}),
                     Customer(name="New B", owner_id=rui, created_at=LAST_EVENING, custom={}),
                     Customer(name="Binned", owner_id=rui, created_at=LAST_EVENING, deleted_at=LAST_EVENING,
                              custom={}),
                     Customer(name="Too early", owner_id=rui, created_at=FEBRUARY_LAST, custom={}),
                     Customer(name="Too late", owner_id=rui, created_at=APRIL_FIRST, custom={}),
                     Customer(name="Ren's", owner_id=ren, created_at=LAST_EVENING, custom={})]
        db.session.add_all(customers)
        db.session.flush()
        stages = dict(db.session.execute(select(Stage.kind, Stage.id).where(Stage.pipeline_id == 1,
                                                                             Stage.kind != "open")).all())

        def deal(owner, amount, status, closed_at, currency="CNY"):
            stage = stages.get(status) or db.session.scalar(select(Stage.id).where(Stage.kind == "open"))
            return Deal(title="D", customer_id=shop.id, pipeline_id=1, stage_id=stage, amount=Decimal(amount),
                        currency=currency, owner_id=owner, status=status, closed_at=closed_at, created_at=old)

        db.session.add_all([
            deal(rui, "1000.00", "won", LAST_EVENING),  # 23:30 local on the last day: March
            deal(rui, "200.50", "won", MARCH_FIRST),
            deal(rui, "7000.00", "won", APRIL_FIRST),  # April, though March in UTC
            deal(rui, "9000.00", "won", FEBRUARY_LAST),
            deal(rui, "3000.00", "won", LAST_EVENING, currency="USD"),  # not converted: left out
            deal(rui, "4000.00", "lost", LAST_EVENING),
            deal(rui, "5000.00", "open", None),
            deal(ren, "300.00", "won", LAST_EVENING),
            deal(wes, "800.00", "won", LAST_EVENING),
        ])

        def order(owner, total, status, created_at, refunded=None, currency="CNY"):
            return Order(customer_id=shop.id, owner_id=owner, status=status, currency=currency, created_at=created_at,
                         subtotal=Decimal(total), total=Decimal(total),
                         refunded_amount=Decimal(refunded) if refunded else None)

        db.session.add_all([
            order(rui, "500.00", "completed", LAST_EVENING),
            order(rui, "250.00", "placed", MARCH_FIRST),
            order(rui, "400.00", "partially_refunded", LAST_EVENING, refunded="150.00"),  # 250 kept
            order(rui, "600.00", "refunded", LAST_EVENING, refunded="600.00"),
            order(rui, "999.00", "cancelled", LAST_EVENING),
            order(rui, "800.00", "refund_requested", LAST_EVENING),  # asked, not refunded yet: still revenue
            order(rui, "123.00", "completed", APRIL_FIRST),
            order(rui, "321.00", "completed", LAST_EVENING, currency="USD"),
            order(ren, "40.00", "completed", LAST_EVENING),
        ])

        def follow_up(owner, done_at, due_at=None):
            return Activity(owner_id=owner, customer_id=shop.id, method="call", summary="x", done_at=done_at,
                            due_at=due_at)

        db.session.add_all([
            follow_up(rui, LAST_EVENING), follow_up(rui, MARCH_FIRST, due_at=MARCH_FIRST),
            follow_up(rui, utc(2026, 3, 15, 2, 0)),
            follow_up(rui, None, due_at=LAST_EVENING),  # planned, not done
            follow_up(rui, APRIL_FIRST), follow_up(rui, FEBRUARY_LAST),
            follow_up(ren, LAST_EVENING), follow_up(wes, LAST_EVENING),
        ])

    in_tenant(acme, make)
    return rui, ren, wes


def counted(acme, in_tenant, who, keys):
    from crm.targets import actuals, service

    def run():
        viewer = db.session.get(Member, who)
        return actuals.for_subjects(viewer, [MARCH], [s for s in service.subjects(viewer) if s.key in keys])[MARCH]

    return in_tenant(acme, run)


def test_march_is_counted_in_the_workspaces_time_zone(acme, people, march, in_tenant, east):
    rui, ren, wes = march
    found = counted(acme, in_tenant, people["admin"].member_id,
                    {f"member-{rui}", f"member-{ren}", f"member-{wes}", f"team-{east}"})
    assert found[f"member-{rui}"] == {"won_amount": Decimal("1200.50"), "order_revenue": Decimal("1800.00"),
                                      "new_customers": 2, "follow_ups": 3}
    assert found[f"member-{wes}"] == {"won_amount": Decimal("800.00"), "order_revenue": Decimal("0.00"),
                                      "new_customers": 0, "follow_ups": 1}
    # East is Mia (nothing), Rui and Ren; Wes is in West.
    assert found[f"team-{east}"] == {"won_amount": Decimal("1500.50"), "order_revenue": Decimal("1840.00"),
                                     "new_customers": 3, "follow_ups": 4}


def test_a_team_counts_its_sub_teams_but_a_manager_sees_only_their_reach(acme, people, march, in_tenant, east, as_,
                                                                       post_targets):
    from crm.members.models import Team

    def nest():
        db.session.scalar(select(Team).where(Team.name == "West")).parent_id = east

    in_tenant(acme, nest)
    found = counted(acme, in_tenant, people["admin"].member_id, {f"team-{east}"})
    assert found[f"team-{east}"]["won_amount"] == Decimal("2300.50")  # with Wes, now in a team below East
    post_targets(as_("admin"), "2026-03", f"team-{east}", won_amount="4601")
    page = as_("manager").get(f"/{acme.slug}/targets/?month=2026-03").text
    assert "¥2,300.50" in page and '<progress max="100" value="50"' in page

    def team_scope_only():  # "team" reaches the manager's own team, not the teams below it
        role = db.session.scalar(select(Role).where(Role.key == "sales_manager"))
        role.permissions = {**role.permissions, "reports": {**role.permissions["reports"], "view": "team"}}

    in_tenant(acme, team_scope_only)
    found = counted(acme, in_tenant, people["manager"].member_id, {f"team-{east}"})
    assert found[f"team-{east}"]["won_amount"] == Decimal("1500.50")


def test_the_targets_page_shows_the_reps_march_against_the_target(acme, people, march, as_, post_targets):
    rui = people["rep"].member_id
    post_targets(as_("admin"), "2026-03", f"member-{rui}", won_amount="2410", order_revenue="1800",
                 new_customers="8", follow_ups="3")
    page = as_("rep").get(f"/{acme.slug}/targets/?month=2026-03").text
    assert "¥1,200.50" in page and "¥2,410.00" in page and '<progress max="100" value="49"' in page
    assert "¥1,800.00" in page and '<progress max="100" value="100"' in page and "100%" in page
    assert '<progress max="100" value="25"' in page  # 2 of 8 new customers
    assert "¥1,500.50" not in page and "¥300.00" not in page  # no team or teammate for a rep


def test_months_counted_in_one_query_fall_on_the_workspaces_local_months(acme, people, march, in_tenant):
    """Target against actual counts a period's months in one query grouped by local month: the records at the
    edges land in the same month as when each month is counted alone."""
    from crm.targets import actuals, months

    rui = march[0]
    february, april = date(2026, 2, 1), date(2026, 4, 1)

    def run():
        together = actuals.by_month([february, MARCH, april], [rui])
        alone = {month: actuals.between(*months.bounds(month), [rui]) for month in (february, MARCH, april)}
        return together, alone

    together, alone = in_tenant(acme, run)
    assert together == alone
    assert together[february][rui] == {"won_amount": Decimal("9000.00"), "order_revenue": Decimal("0.00"),
                                       "new_customers": 1, "follow_ups": 1}
    assert together[april][rui] == {"won_amount": Decimal("7000.00"), "order_revenue": Decimal("123.00"),
                                    "new_customers": 1, "follow_ups": 1}
    assert together[MARCH][rui]["won_amount"] == Decimal("1200.50")
