"""Stripe events handled in the background (queue "webhooks"), and the hourly pass that queues again events whose
job was lost or ran out of retries."""
from datetime import timedelta

import stripe

from crm.extensions import db, utcnow
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job
from crm.payments import webhooks
from crm.payments.settings import NotSetUp

STALE = timedelta(hours=1)


@tenant_job
def handle_stripe_event(event_row_id: int) -> None:
    """Apply one stored event; when Stripe cannot be asked, keep why (shown on the settings page) and fail so RQ
    tries again."""
    try:
        webhooks.handle(event_row_id)
    except (stripe.StripeError, NotSetUp) as error:
        db.session.rollback()
        webhooks.note_failure(event_row_id, str(error) or type(error).__name__)
        db.session.commit()  # the failure is kept although the job fails
        raise


@tenant_job
def requeue_stripe_events() -> int:
    """Queue again the workspace's events still not handled an hour after they came."""
    return webhooks.requeue_unhandled(utcnow() - STALE)


@platform_job
def requeue_stripe_events_all() -> int:
    """Queue the pass for every active workspace."""
    return enqueue_for_active_tenants(requeue_stripe_events, queue_name="webhooks")
