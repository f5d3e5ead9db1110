"""The big-tenant generator of the report benchmarks (bench/bigtenant.py), at a tiny size."""
from datetime import UTC, datetime

from sqlalchemy import func, select

from bench.bigtenant import BigTenant, problems, seed_big_tenant
from tests.conftest import unique

TINY = {"customers": 200, "deals": 100, "orders": 200, "order_lines": 500, "follow_ups": 400, "tickets": 40,
        "contacts": 300}
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def fingerprint(app, big: BigTenant) -> str:
    """A hash of every deal, order line and follow-up, as stored."""
    from crm.extensions import db
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    s = f'"{big.schema}"'
    with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
        return db.session.connection().exec_driver_sql(
            f"SELECT md5((SELECT string_agg(d::text, ',' ORDER BY d.id) FROM {s}.deals d)"
            f" || (SELECT string_agg(l::text, ',' ORDER BY l.id) FROM {s}.order_lines l)"
            f" || (SELECT string_agg(a::text, ',' ORDER BY a.id) FROM {s}.activities a))").scalar()


def test_a_tiny_big_tenant_has_what_was_asked_and_holds_together(app):
    from crm.customers.models import Customer
    from crm.extensions import db
    from crm.members.models import Member, Team
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    big = seed_big_tenant(app, slug=unique("big"), now=NOW, **TINY)

    counts = big.counts
    assert {k: counts[k if k != "follow_ups" else "activities"] for k in TINY} == TINY
    assert counts["members"] == 20 and counts["teams"] == 3
    assert counts["deal_stage_changes"] > TINY["deals"] and counts["order_status_changes"] > TINY["orders"]
    assert counts["timeline_events"] > 0  # the pool's moves
    assert problems(app, big, NOW) == {}
    with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
        managed = db.session.scalars(select(Team.manager_id).order_by(Team.id)).all()
        assert managed == big.manager_member_ids
        assert db.session.scalar(select(func.count()).where(Member.team_id == Team.id, Team.id == big.team_ids[0])) == 7
        # The ids given in SQL moved the id sequence on: the app's next customer gets a fresh one.
        largest = db.session.scalar(select(func.max(Customer.id)))
        customer = Customer(name="After the load", owner_id=big.rep_member_ids[0])
        db.session.add(customer)
        db.session.flush()
        assert customer.id > largest
        db.session.rollback()


def test_the_same_seed_gives_the_same_data(app):
    first = seed_big_tenant(app, slug=unique("big"), now=NOW, seed=3, **TINY)
    second = seed_big_tenant(app, slug=unique("big"), now=NOW, seed=3, **TINY)
    other = seed_big_tenant(app, slug=unique("big"), now=NOW, seed=4, **TINY)

    assert fingerprint(app, first) == fingerprint(app, second) != fingerprint(app, other)
