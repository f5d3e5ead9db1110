"""The tenant's Stripe webhook endpoint: each workspace has its own address (`/stripe/<token>/webhook`, the
tenant's id signed under SECRET_KEY, so the tenant is found without guessing a slug), checked with that workspace's
own signing secret by the `stripe` library. An event is stored once by its id and handled by a job."""
from rq import Retry
from sqlalchemy import select

from crm import public_links
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit
from crm.payments import service, settings
from crm.payments.models import StripeEvent
from crm.payments.stripe_api import store_once, verified_event
from crm.web import absolute_url
from tenants.binding import current_tenant
from tenants.resolver import TenantRef, tenant_by_id

PURPOSE = "stripe-webhook"  # crm/public_links.py
# What each event type makes the job read again from Stripe. Anything else is stored and ignored.
CHECKOUT = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
PAYMENT = ("payment_intent.succeeded",)
REFUND = ("charge.refunded", "charge.refund.updated", "refund.created", "refund.updated")
EVENTS = CHECKOUT + PAYMENT + REFUND
RETRIES = Retry(max=5, interval=[30, 120, 600, 1800, 3600])  # Stripe down for a while; then the hourly pass


def endpoint_url() -> str:
    """The address to paste into Stripe's dashboard as the workspace's webhook endpoint."""
    return absolute_url("stripe_webhooks.receive", token=public_links.make_token(PURPOSE, current_tenant().id))


def tenant_of(token: str) -> TenantRef | None:
    """The active workspace a webhook address belongs to, else None."""
    ids = public_links.read_token(PURPOSE, token, 1)
    tenant = tenant_by_id(ids[0]) if ids else None
    return tenant if tenant is not None and tenant.active else None


def receive(payload: bytes, signature: str | None) -> StripeEvent | None:
    """Check and store one delivery (the bound workspace's); its job is queued after the commit. A repeat of an
    event that is not handled yet is queued again (handling is idempotent); a handled one changes nothing."""
    event = verified_event(payload, signature, settings.webhook_secret())
    stored = store_once(StripeEvent, event)
    if stored is not None:
        queue_handling(stored)
    return stored


def queue_handling(event: StripeEvent) -> None:
    from crm.payments.jobs import handle_stripe_event

    enqueue_after_commit(handle_stripe_event, current_tenant().id, event.id, queue_name="webhooks", retry=RETRIES)


def handle(event_row_id: int) -> None:
    """Apply one stored event by reading its object again from Stripe (never from the event's snapshot)."""
    event = db.session.scalar(select(StripeEvent).where(StripeEvent.id == event_row_id).with_for_update())
    if event is None or event.handled_at is not None:
        return
    if event.type in CHECKOUT:
        service.record_checkout(event.object_id)
    elif event.type in PAYMENT:
        service.record_payment_intent(event.object_id)
    elif event.type in REFUND:
        service.record_refunds(_refunded_intent(event))
    event.handled_at, event.error = utcnow(), None


def _refunded_intent(event: StripeEvent) -> str:
    """The payment intent a refund event is about (a charge's or a refund's)."""
    api = settings.api_client()
    if event.object_id.startswith("re_"):
        return str(api.v1.refunds.retrieve(event.object_id).payment_intent)
    return str(api.v1.charges.retrieve(event.object_id).payment_intent)


def note_failure(event_row_id: int, error: str) -> None:
    """Keep why handling failed (shown on Settings > Payments until a retry succeeds)."""
    event = db.session.get(StripeEvent, event_row_id)
    if event is not None:
        event.error = error[:1000]


def waiting() -> tuple[int, str | None]:
    """(events not handled yet, the latest error among them) for the settings page."""
    rows = db.session.scalars(select(StripeEvent).where(StripeEvent.handled_at.is_(None))
                              .order_by(StripeEvent.id.desc())).all()
    return len(rows), next((row.error for row in rows if row.error), None)


def requeue_unhandled(older_than) -> int:
    """Queue again the events not handled since before `older_than` (a lost job, an outage that outlasted the
    job's retries); returns how many."""
    rows = db.session.scalars(select(StripeEvent).where(StripeEvent.handled_at.is_(None),
                                                        StripeEvent.received_at < older_than)).all()
    for row in rows:
        queue_handling(row)
    return len(rows)
