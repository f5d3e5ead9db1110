"""Billing on (a Stripe key set; no call reaches Stripe in these tests) and plans with small limits to cross."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

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
