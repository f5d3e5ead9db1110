"""Pool fixtures: a team with a manager and reps, pool customers, and direct column changes for clocks."""
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from crm.customers.models import Customer
from crm.extensions import db
from crm.members.models import Member, Role, Team
from crm.timeline.models import TimelineEvent


@dataclass
class Person:
    account_id: int
    member_id: int


@pytest.fixture
def people(acme, add_member, in_tenant):
    """Team East (manager Mia, reps Rui and Ren) and team West (rep Wes), plus Acme's admin."""
    made = {name: Person(*add_member(acme, role, name)) for name, role in (
        ("Mia Manager", "sales_manager"), ("Rui Rep", "sales_rep"), ("Ren Rep", "sales_rep"),
        ("Wes West", "sales_rep"))}

    def teams():
        east, west = Team(name="East", manager_id=made["Mia Manager"].member_id), Team(name="West")
        db.session.add_all([east, west])
        db.session.flush()
        for name in ("Mia Manager", "Rui Rep", "Ren Rep"):
            db.session.get(Member, made[name].member_id).team_id = east.id
        db.session.get(Member, made["Wes West"].member_id).team_id = west.id

    in_tenant(acme, teams)
    return {"manager": made["Mia Manager"], "rep": made["Rui Rep"], "rep2": made["Ren Rep"],
            "west": made["Wes West"], "admin": Person(acme.admin_account_id, acme.admin_member_id)}


@pytest.fixture
def pooled(acme, make_customer):
    """Make a customer without an owner (in the pool); returns its id."""

    def make(name: str = "Pool Person", **fields) -> int:
        return make_customer(acme, name=name, owner_id="", **fields)

    return make


@pytest.fixture
def owned(acme, make_customer):
    """Make a customer owned by a member; returns its id."""

    def make(member_id: int, name: str = "Owned Person", **fields) -> int:
        return make_customer(acme, name=name, owner_id=str(member_id), **fields)

    return make


@pytest.fixture
def change(acme, in_tenant):
    """Set columns of a customer directly (clocks in the past, levels), as time and other features would."""

    def run(customer_id: int, **values) -> None:
        in_tenant(acme, lambda: db.session.execute(update(Customer).where(Customer.id == customer_id)
                                                   .values(**values)))

    return run


@pytest.fixture
def customer_row(acme, in_tenant):
    def read(customer_id: int) -> Customer:
        def load():
            customer = db.session.get(Customer, customer_id)
            db.session.expunge(customer)
            return customer

        return in_tenant(acme, load)

    return read


@pytest.fixture
def events(acme, in_tenant):
    """The timeline events of a customer as (kind, payload), oldest first."""

    def read(customer_id: int) -> list[tuple[str, dict]]:
        return in_tenant(acme, lambda: [(e.kind, e.payload) for e in db.session.scalars(
            select(TimelineEvent).where(TimelineEvent.customer_id == customer_id).order_by(TimelineEvent.id))])

    return read


@pytest.fixture
def set_limit(acme, in_tenant):
    def run(role_key: str, limit: int | None) -> None:
        in_tenant(acme, lambda: db.session.execute(update(Role).where(Role.key == role_key).values(pool_limit=limit)))

    return run
