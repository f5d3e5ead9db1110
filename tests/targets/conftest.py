"""Targets fixtures: a client per person of the root `people` (team East: manager Mia, reps Rui and Ren; team
West: rep Wes), posting targets, and reading the rows back."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.members.models import Team
from crm.targets.models import SalesTarget


@pytest.fixture
def as_(people, client_as):
    """A signed-in client for one of `people` by its key (admin, manager, rep, rep2, west)."""
    return lambda who: client_as(people[who].account_id)


@pytest.fixture
def east(acme, in_tenant, people):
    return in_tenant(acme, lambda: db.session.scalar(select(Team.id).where(Team.name == "East")))


@pytest.fixture
def post_targets(acme):
    """Post one subject's targets for a month as `client`; returns the response."""

    def post(client, month: str, subject: str, headers=None, **values):
        data = {"month": month, "subject": subject, "won_amount": "", "order_revenue": "", "new_customers": "",
                "follow_ups": "", **values}
        return client.post(f"/{acme.slug}/targets/", data=data, headers=headers or {})

    return post


@pytest.fixture
def stored(acme, in_tenant):
    """{month "2026-03": (won_amount, order_revenue, new_customers, follow_ups)} of a member's own rows."""

    def read(member_id: int) -> dict:
        return in_tenant(acme, lambda: {
            f"{r.month:%Y-%m}": (r.won_amount, r.order_revenue, r.new_customers, r.follow_ups)
            for r in db.session.scalars(select(SalesTarget).where(SalesTarget.member_id == member_id))})

    return read
