"""Campaign test helpers: a workspace without quiet hours, the campaign form posted as the pages post it, and
its rows read back."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification
from tests.conftest import HX


@pytest.fixture
def shop(acme, in_tenant):
    """Acme with quiet hours off, so nothing depends on the time of day the tests run at."""
    from crm.settings import put_setting

    in_tenant(acme, lambda: put_setting("quiet_hours", None))
    return acme


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
