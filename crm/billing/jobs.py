"""Billing's background work: each event of the platform's Stripe account (queue "webhooks"), the hourly pass that
queues again events whose job was lost, and the nightly reconciliation of every paying workspace with Stripe."""
import logging

import stripe
from rq import Retry
from sqlalchemy import select

from crm.billing import stripe_sync
from crm.billing.service import billing_on
from crm.billing.models import BillingEvent
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit, platform_job
from crm.payments.jobs import STALE
from crm.platform.models import OperatorAction

log = logging.getLogger(__name__)
RETRIES = Retry(max=5, interval=[30, 120, 600, 1800, 3600])  # Stripe down for a while; then the hourly pass
RECONCILER = "stripe-reconciliation"  # who the console names for a repair


@platform_job
def handle_billing_event(event_row_id: int) -> None:
    """Apply one stored event; when Stripe cannot be asked, keep why on the row and fail so RQ tries again."""
    try:
        stripe_sync.handle(event_row_id)
    except stripe.StripeError as error:
        db.session.rollback()
        event = db.session.get(BillingEvent, event_row_id)
        event.error = (str(error) or type(error).__name__)[:1000]
        db.session.commit()  # the failure is kept although the job fails
        raise


@platform_job
def requeue_billing_events() -> int:
    """Queue again the events still not handled an hour after they came."""
    rows = db.session.scalars(select(BillingEvent.id).where(BillingEvent.handled_at.is_(None),
                                                            BillingEvent.received_at < utcnow() - STALE)).all()
    for row_id in rows:
        enqueue_after_commit(handle_billing_event, row_id, queue_name="webhooks", retry=RETRIES)
    return len(rows)


@platform_job
def reconcile_subscriptions() -> dict[int, dict]:
    """Compare every paying workspace with Stripe (nightly): repair what drifted, each workspace in its own
    transaction; every repair is logged and kept in the console's actions on that workspace. Returns the repairs."""
    repairs = {}
    if not billing_on():
        return repairs
    for tenant_id in stripe_sync.paying_tenants():
        try:
            changes = stripe_sync.reconcile_one(tenant_id)
        except stripe.StripeError as error:
            db.session.rollback()
            log.error("billing reconciliation could not read workspace %s from Stripe: %s", tenant_id, error)
            continue
        if changes:
            repairs[tenant_id] = changes
            log.warning("billing reconciliation repaired workspace %s: %s", tenant_id, changes)
            db.session.add(OperatorAction(operator_email=RECONCILER, tenant_id=tenant_id, action="reconcile",
                                          changes=changes))
        db.session.commit()
    log.info("billing reconciliation: %d workspaces repaired", len(repairs))
    return repairs
