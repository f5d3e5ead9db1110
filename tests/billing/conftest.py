"""Billing on (a Stripe key set), plans with small limits to cross, and billing against the local fake Stripe: prices
for the paid plans, a Stripe customer per workspace, events delivered signed to the platform's endpoint."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.extensions import db, utcnow


@pytest.fixture
def billing_on(app):
    """Billing is on for this test, as in a deployment with Stripe keys."""
    app.config["STRIPE_SECRET_KEY"] = "sk_test_local"
    yield
    app.config["STRIPE_SECRET_KEY"] = ""


@pytest.fixture
def on_plan(app, billing_on):
    """Put a tenant on a new plan of its own with these limits (None: unlimited) and features; returns its key."""
    from crm.billing import service
    from crm.billing.models import Plan

    def put(tenant, seats=None, customers=None, storage_bytes=None, sms_per_month=None, features=("campaigns", "api"),
            sms_beyond="hold") -> str:
        key = f"test-{uuid.uuid4().hex[:8]}"
        with app.app_context():
            plan = Plan(key=key, name_en="Tiny", name_zh="迷你", seats=seats, customers=customers,
                        storage_bytes=storage_bytes, sms_per_month=sms_per_month, features=list(features),
                        sms_beyond=sms_beyond, position=100, public=False)
            db.session.add(plan)
            db.session.flush()
            service.change_plan(tenant.id, plan)
            db.session.commit()
        return key

    return put


@pytest.fixture
def subscription(app):
    """Set columns of a tenant's stored subscription, as Stripe's webhooks (§2) or the operator would."""
    from crm.billing.models import Subscription

    def set_(tenant, **values):
        with app.app_context():
            db.session.execute(update(Subscription).where(Subscription.tenant_id == tenant.id).values(**values))
            db.session.commit()

    return set_


def days(n: float):
    return utcnow() + timedelta(days=n)


PLATFORM_WEBHOOK_SECRET = "whsec_platform0123456789"
WEBHOOK_PATH = "/billing/stripe-webhook"


@pytest.fixture
def stripe_billing(app, fake_stripe, billing_on):
    """Billing on against the local fake Stripe: the platform's key and webhook secret set, and Pro and Business
    given monthly and yearly prices made in the fake (restored after the test). Returns the fake, with the prices
    in `fake.plan_prices` ({(plan key, interval): price id})."""
    from crm.billing.models import Plan

    app.config.update(STRIPE_SECRET_KEY="sk_test_platform", STRIPE_WEBHOOK_SECRET=PLATFORM_WEBHOOK_SECRET)
    fake_stripe.api_keys.add("sk_test_platform")
    fake_stripe.plan_prices = {}
    with app.app_context():
        kept = {key: db.session.execute(select(Plan.stripe_price_monthly, Plan.stripe_price_yearly)
                                        .where(Plan.key == key)).one() for key in ("pro", "business")}
        for key, amount in (("pro", 2900), ("business", 9900)):
            for interval in ("monthly", "yearly"):
                price = fake_stripe.create_price({"currency": "usd", "unit_amount": amount * (10 if interval ==
                                                  "yearly" else 1), "recurring": {"interval": interval[:-2]}})
                fake_stripe.plan_prices[key, interval] = price["id"]
            db.session.execute(update(Plan).where(Plan.key == key).values(
                stripe_price_monthly=fake_stripe.plan_prices[key, "monthly"],
                stripe_price_yearly=fake_stripe.plan_prices[key, "yearly"]))
        db.session.commit()
    yield fake_stripe
    app.config["STRIPE_WEBHOOK_SECRET"] = ""
    with app.app_context():
        for key, (monthly, yearly) in kept.items():
            db.session.execute(update(Plan).where(Plan.key == key).values(stripe_price_monthly=monthly,
                                                                          stripe_price_yearly=yearly))
        db.session.commit()


@pytest.fixture
def deliver(app, run_worker):
    """Post events to the platform's webhook endpoint as Stripe does (signed), then run the jobs they queued;
    returns the status codes."""
    from tests.payments.conftest import post_event

    def send(*events, work: bool = True) -> list[int]:
        client = app.test_client()
        statuses = [post_event(client, WEBHOOK_PATH, event, PLATFORM_WEBHOOK_SECRET).status_code for event in events]
        if work:
            run_worker()
        return statuses

    return send


@pytest.fixture
def stored(app):
    """The tenant's stored subscription row (public.subscriptions), read now, with its plan."""
    from crm.billing.models import Subscription

    def read(tenant):
        with app.app_context():
            row = db.session.get(Subscription, tenant.id)
            db.session.expunge(row)
            return row

    return read


@pytest.fixture
def customer_of(app, stripe_billing):
    """Give the tenant a Stripe customer (as its first Choose a plan does) and return its id."""
    from crm.billing.models import Subscription

    def make(tenant) -> str:
        customer = stripe_billing.create_customer({"name": tenant.name, "metadata": {"tenant_id": str(tenant.id)}})
        with app.app_context():
            db.session.execute(update(Subscription).where(Subscription.tenant_id == tenant.id)
                               .values(stripe_customer_id=customer["id"]))
            db.session.commit()
        return customer["id"]

    return make
