"""Issue 16's "Done when": 1,000 subscription and payment events for 50 workspaces, shuffled, 30 % of them delivered
twice, each to its endpoint (the platform's for subscriptions, each workspace's own for its order payments): every
workspace ends in the state Stripe holds, every order's paid amount equals its payments, nothing is applied twice."""
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import stripe
from sqlalchemy import func, select

from crm.billing.models import BillingEvent, Subscription
from crm.extensions import db
from crm.orders.models import Order
from crm.payments.models import Payment, StripeEvent
from tests.billing.conftest import PLATFORM_WEBHOOK_SECRET, WEBHOOK_PATH
from tests.fake_stripe import API_KEY
from tests.payments.conftest import WEBHOOK_SECRET, endpoint_path, post_event

TENANTS, WITH_PAYMENTS, EVENTS = 50, 10, 1000


def lifecycle(fake, rng, customer: str) -> list[dict]:
    """A random life of a workspace's subscription in Stripe (failures, renewals, plan changes, cancelling and
    subscribing again); the events Stripe sent on the way."""
    prices = list(fake.plan_prices.values())
    sub = fake.subscribe(customer, rng.choice(prices))
    events = [fake.event("customer.subscription.created", sub)]
    for _ in range(rng.randint(3, 9)):
        move = rng.choice(["fail", "renew", "renew", "change", "unpaid", "cancel_later", "cancel"])
        if move == "cancel":
            events += fake.cancel(sub["id"])
            sub = fake.subscribe(customer, rng.choice(prices))
            events.append(fake.event("customer.subscription.created", sub))
        elif move == "fail":
            events += fake.fail_payment(sub["id"])
        elif move == "unpaid":
            events += fake.set_status(sub["id"], "unpaid")
        elif move == "cancel_later":
            events += fake.cancel(sub["id"], at_period_end=True)
        else:
            events += fake.renew(sub["id"], price=rng.choice(prices) if move == "change" else None)
    return events


def payment_events(fake, rng, tenant_id: int, orders: list[int], count: int) -> tuple[list[dict], dict[int, int]]:
    """Order payments (and some refunds) in the workspace's own Stripe account; events and the cents per order."""
    api = stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, max_network_retries=0)
    events, cents = [], dict.fromkeys(orders, 0)
    while len(events) < count:
        order_id, amount = rng.choice(orders), rng.randint(100, 9000)
        metadata = {"tenant_id": str(tenant_id), "order_id": str(order_id)}
        session = api.v1.checkout.sessions.create(params={
            "mode": "payment", "metadata": metadata, "payment_intent_data": {"metadata": metadata},
            "line_items": [{"quantity": 1, "price_data": {"currency": "cny", "unit_amount": amount,
                                                           "product_data": {"name": "x"}}}],
            "success_url": "http://x.test/ok", "cancel_url": "http://x.test/back"})
        paid = fake.complete_checkout(session.id)
        intent = fake.objects["payment_intents"][paid["payment_intent"]]
        events += [fake.event("checkout.session.completed", paid), fake.event("payment_intent.succeeded", intent)]
        cents[order_id] += amount
        if rng.random() < 0.4:
            refund = api.v1.refunds.create(params={"payment_intent": intent["id"], "amount": rng.randint(1, amount)})
            events.append(fake.event("refund.created", fake.objects["refunds"][refund.id]))
            cents[order_id] -= refund.amount
    return events, cents


def expected_state(fake, customer: str) -> tuple:
    """What Stripe holds for the customer, as the CRM stores it: (subscription, status, price, period end)."""
    subs = [s for s in fake.objects["subscriptions"].values() if s["customer"] == customer]
    live = [s for s in subs if s["status"] != "canceled"]
    sub = max(live or subs, key=lambda s: s["created"])
    item = sub["items"]["data"][0]
    status = "canceled" if sub["status"] == "active" and sub["cancel_at_period_end"] else sub["status"]
    return sub["id"], status, item["price"]["id"], sub["ended_at"] or item["current_period_end"]


@pytest.mark.slow
def test_1000_shuffled_subscription_and_payment_events_some_twice_end_in_stripes_state(
        app, make_tenant, client_as, stripe_billing, customer_of, make_customer, make_order, in_tenant, run_worker):
    fake, rng = stripe_billing, random.Random(1616)
    tenants = [make_tenant(f"Scale {n}") for n in range(TENANTS)]
    customers = {tenant.id: customer_of(tenant) for tenant in tenants}
    subscription_events = [e for tenant in tenants for e in lifecycle(fake, rng, customers[tenant.id])]

    deliveries, expected_paid, endpoints, sent = [], {}, {}, {}
    share = (EVENTS - len(subscription_events)) // WITH_PAYMENTS
    for tenant in tenants[:WITH_PAYMENTS]:
        admin = client_as(tenant.admin_account_id)
        admin.post(f"/{tenant.slug}/settings/payments", data={"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET})
        endpoints[tenant.id] = endpoint_path(admin, tenant)
        customer_id = make_customer(tenant, name="Zhao Min")
        orders = [make_order(tenant, customer_id, lines=[{"description": "Tea", "quantity": "1",
                                                          "unit_price": "1000"}]) for _ in range(3)]
        events, cents = payment_events(fake, rng, tenant.id, orders, share)
        deliveries += [(endpoints[tenant.id], WEBHOOK_SECRET, event) for event in events]
        expected_paid[tenant.id] = {order_id: Decimal(c) / 100 for order_id, c in cents.items()}
        sent[tenant.id] = len(events)
    deliveries += [(WEBHOOK_PATH, PLATFORM_WEBHOOK_SECRET, event) for event in subscription_events]
    assert len(deliveries) >= EVENTS
    unique = len(deliveries)
    deliveries += rng.sample(deliveries, k=int(unique * 0.3))
    rng.shuffle(deliveries)

    client = app.test_client()
    for path, secret, event in deliveries:
        assert post_event(client, path, event, secret).status_code == 200
    run_worker()

    with app.app_context():
        rows = {row.tenant_id: row for row in db.session.scalars(
            select(Subscription).where(Subscription.tenant_id.in_(customers)))}
        for tenant in tenants:
            sub_id, status, price, period_end = expected_state(fake, customers[tenant.id])
            row = rows[tenant.id]
            assert (row.stripe_subscription_id, row.status, price in (row.plan.stripe_price_monthly,
                                                                      row.plan.stripe_price_yearly)) == (
                sub_id, status, True), tenant.slug
            assert row.period_ends_at == datetime.fromtimestamp(period_end, UTC)
            assert (row.grace_ends_at is not None) == (status == "past_due")
        ids = [event["id"] for event in subscription_events]
        stored = db.session.scalar(select(func.count()).select_from(BillingEvent).where(
            BillingEvent.event_id.in_(ids), BillingEvent.handled_at.is_not(None)))
        assert stored == len(subscription_events)  # each once, each handled

    for tenant in tenants[:WITH_PAYMENTS]:
        def recorded():
            paid = {o: db.session.get(Order, o).paid_amount for o in expected_paid[tenant.id]}
            return (paid, db.session.scalar(select(func.count()).select_from(StripeEvent)),
                    db.session.scalar(select(func.count()).select_from(Payment).where(Payment.kind == "payment")))
        paid, events, payments = in_tenant(tenant, recorded)
        assert paid == expected_paid[tenant.id]
        assert events == sent[tenant.id]  # each stored once
        assert payments == sum(1 for e in fake.objects["payment_intents"].values()
                               if e["metadata"].get("tenant_id") == str(tenant.id))
