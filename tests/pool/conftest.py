"""Pool fixtures: pool customers, and direct column changes for clocks (the team is the root `people`)."""
import pytest
from sqlalchemy import select, update

from crm.customers.models import Customer
from crm.extensions import db
from crm.members.models import Role
from crm.timeline.models import TimelineEvent


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
