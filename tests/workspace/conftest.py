"""Workbench fixtures: records of team East (manager Mia, reps Rui and Ren) and team West (rep Wes) this month and
last month, placed so each key number can be counted by hand per scope."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.customers.models import Customer
from crm.deals.models import Deal, Stage
from crm.extensions import db, utcnow
from crm.followups.models import Activity
from crm.orders.models import Order
from crm.settings import day_start, workspace_zone
from crm.targets import months
from crm.tickets.models import Ticket


@pytest.fixture
def as_(people, client_as):
    """A signed-in client for one of `people` by its key (admin, manager, rep, rep2, west)."""
    return lambda who: client_as(people[who].account_id)


@pytest.fixture
def records(acme, people, in_tenant):
    """Rui's, Ren's and Wes's records (see each line's comment); returns the first day of this month."""
    rui, ren, wes = people["rep"].member_id, people["rep2"].member_id, people["west"].member_id

    def make():
        now = utcnow()
        this_month = months.current()
        last_month = day_start(months.shift(this_month, -1)) + timedelta(days=1)
        long_ago = now - timedelta(days=400)

        def customer(owner, created_at, **fields):
            row = Customer(name="C", owner_id=owner, created_at=created_at, custom={}, **fields)
            db.session.add(row)
            return row

        shop = customer(rui, long_ago)
        for owner, when in ((rui, now), (rui, now), (rui, last_month), (ren, now), (wes, now), (wes, last_month)):
            customer(owner, when)
        customer(rui, now, deleted_at=now)  # in the trash: never counted
        db.session.flush()

        stages = dict(db.session.execute(select(Stage.kind, Stage.id).where(Stage.pipeline_id == 1)
                                         .order_by(Stage.position.desc())).all())

        def deal(owner, amount, status, probability=100, closed_at=None, currency="CNY"):
            db.session.add(Deal(title="D", customer_id=shop.id, pipeline_id=1, stage_id=stages[status],
                                amount=Decimal(amount), currency=currency, owner_id=owner, status=status,
                                probability=probability, closed_at=closed_at, created_at=long_ago))

        deal(rui, "1000.00", "open", 50)  # weighs 500
        deal(ren, "2000.00", "open", 25)  # weighs 500
        deal(wes, "400.00", "open", 100)  # weighs 400
        deal(rui, "300.00", "won", closed_at=now)
        deal(rui, "999.00", "won", closed_at=now, currency="USD")  # another currency: left out
        deal(rui, "50.00", "won", closed_at=last_month)
        deal(wes, "700.00", "won", closed_at=now)

        def order(owner, total, created_at, status="placed", refunded=None):
            db.session.add(Order(customer_id=shop.id, owner_id=owner, status=status, currency="CNY",
                                 total=Decimal(total), refunded_amount=refunded, created_at=created_at))

        order(rui, "120.00", now)
        order(rui, "80.00", now, "partially_refunded", Decimal("30.00"))  # counts 50
        order(rui, "500.00", now, "cancelled")
        order(rui, "40.00", last_month)
        order(ren, "10.00", now)
        order(wes, "1000.00", now)

        today = day_start(now.astimezone(workspace_zone()).date())

        def follow_up(owner, due_at=None, done_at=None):
            db.session.add(Activity(owner_id=owner, customer_id=shop.id, method="call", summary="S", outcome="",
                                    due_at=due_at, done_at=done_at))

        follow_up(rui, today - timedelta(days=2))  # overdue
        follow_up(rui, today + timedelta(hours=23))  # due today
        follow_up(rui, today + timedelta(days=3))  # later: neither
        follow_up(ren, today - timedelta(minutes=1))  # overdue
        follow_up(wes, today + timedelta(minutes=1))  # due today
        follow_up(rui, today - timedelta(days=2), done_at=now)  # done: neither

        def ticket(owner, status):
            db.session.add(Ticket(customer_id=shop.id, subject="T", owner_id=owner, status=status, due_at=now))

        ticket(rui, "open")
        ticket(rui, "closed")
        ticket(ren, "pending")
        ticket(wes, "open")
        return this_month

    return in_tenant(acme, make)
