"""Payments fixtures: a workspace connected to the local fake Stripe, orders with a status link, and events built
and signed as Stripe makes them."""
import json
import re

import pytest

from tests.fake_stripe import API_KEY, sign

WEBHOOK_SECRET = "whsec_testsecret0123456789"


@pytest.fixture
def stripe_on(acme, admin, fake_stripe):
    """Acme connected to the fake Stripe through Settings > Payments; the fake sends its events to Acme's endpoint."""
    response = admin.post(f"/{acme.slug}/settings/payments",
                          data={"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET})
    assert response.status_code == 303, response.text
    return fake_stripe


def endpoint_path(client, tenant) -> str:
    """The workspace's webhook endpoint, as Settings > Payments shows it (its path)."""
    page = client.get(f"/{tenant.slug}/settings/payments").text
    return re.search(r'id="webhook-url" class="public-link-url" readonly value="https?://[^/]+(/stripe/[^"]+)"',
                     page)[1]


def post_event(client, path: str, event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
               header: str | None = None):
    """Deliver an event to a webhook endpoint as Stripe does (JSON body, Stripe-Signature header)."""
    payload = json.dumps(event)
    signature = header if header is not None else sign(payload, secret, timestamp)
    return client.post(path, data=payload, headers={"Stripe-Signature": signature} if signature else {},
                       content_type="application/json")


@pytest.fixture
def linked_order(acme, admin, make_customer, make_order):
    """An order (50.97 CNY) of a customer with a phone, with its status link; (order id, link path)."""
    customer_id = make_customer(acme, name="王芳 Wang Fang", phone="13900001234")
    order_id = make_order(acme, customer_id)
    admin.post(f"/{acme.slug}/orders/{order_id}/link")
    page = admin.get(f"/{acme.slug}/orders/{order_id}").text
    return order_id, re.search(r'readonly value="https?://[^/]+(/o/[^"]+)"', page)[1]
