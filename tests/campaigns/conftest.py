"""Campaign test helpers: a workspace without quiet hours, the notify queue run in this process, customers
with tags, a real SMTP server, the campaign form posted as the pages post it, and the browser fixtures."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification
from tests.e2e.conftest import (  # noqa: F401  (the browser fixtures, for test_browser.py)
    artifacts,
    browser,
    live_server,
    login,
    new_page,
    pytest_runtest_makereport,
    shot,
)
from tests.conftest import HX


@pytest.fixture
def shop(acme, in_tenant):
    """Acme with quiet hours off, so nothing depends on the time of day the tests run at."""
    from crm.settings import put_setting

    in_tenant(acme, lambda: put_setting("quiet_hours", None))
    return acme


@pytest.fixture
def tagged(app, make_customer, in_tenant):
    """Make a customer with tags (by name, created when new); returns its id."""
    from crm.customers import service as customers
    from crm.customers.models import Customer
    from crm.tags import service as tags

    def make(tenant, tag_names=(), member_id=None, **fields):
        customer_id = make_customer(tenant, member_id=member_id, **fields)

        def tag():
            for name in tag_names:
                customers.add_tag([db.session.get(Customer, customer_id)], tags.find_or_create_tag(name))

        in_tenant(tenant, tag)
        return customer_id

    return make


@pytest.fixture
def tag_id(in_tenant):
    def find(tenant, name):
        from crm.customers.models import Tag

        return in_tenant(tenant, lambda: db.session.scalar(select(Tag.id).where(Tag.name == name)))

    return find


@pytest.fixture
def post_campaign():
    """Post the new-campaign form; `audience` holds the customer list's filter arguments."""

    def post(client, slug, action="send", audience=None, **fields):
        data = {"name": "Spring sale", "channel": "email", "language": "en", "subject": "Hello {{ customer }}",
                "body": "Dear {{ customer }}, 20% off this week.", "send_at": "", "action": action,
                **fields, **(audience or {})}
        return client.post(f"/{slug}/campaigns/", headers=HX, data=data)

    return post


@pytest.fixture
def campaign_rows(in_tenant):
    """(customer id, recipient, status) of a campaign's messages in the outbox."""

    def rows(tenant, campaign_id):
        def read():
            return [(n.customer_id, n.recipient, n.status) for n in db.session.scalars(
                select(Notification).where(Notification.campaign_id == campaign_id).order_by(Notification.id))]

        return in_tenant(tenant, read)

    return rows


@pytest.fixture
def campaign_id(in_tenant):
    """The id of the newest campaign of a tenant."""

    def newest(tenant):
        from crm.campaigns.models import Campaign

        return in_tenant(tenant, lambda: db.session.scalar(select(Campaign.id).order_by(Campaign.id.desc())))

    return newest
