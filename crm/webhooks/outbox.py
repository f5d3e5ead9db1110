"""The webhooks' outbox: delivery rows written in the caller's transaction, each with its line in
`public.webhook_due`; the send job is handed to RQ only after commit (at its due time through RQ's scheduler),
and the sweeper hands over again any due line whose job Redis lost. The same protocol as crm/notify/outbox.py."""
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit, enqueue_many_after_commit
from crm.webhooks.models import WebhookDelivery, WebhookDue, WebhookSubscription
from tenants.binding import current_tenant

# Named, not imported: the send job (jobs.py) uses this module, and RQ finds a job by its dotted name.
SEND_JOB = "crm.webhooks.jobs.deliver"
QUEUE = "webhooks"
BATCH = 1000  # delivery rows per INSERT


def enabled_subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(select(WebhookSubscription).where(WebhookSubscription.enabled)))


def add(deliveries: list[tuple[int, dict]]) -> None:
    """A delivery, due now, for each (subscription id, payload): a few statements for any number."""
    if not deliveries:
        return
    now, tenant_id = utcnow(), current_tenant().id
    for start in range(0, len(deliveries), BATCH):
        batch = deliveries[start:start + BATCH]
        ids = db.session.scalars(
            insert(WebhookDelivery.__table__).returning(WebhookDelivery.id, sort_by_parameter_order=True),
            [{"subscription_id": subscription_id, "event_id": payload["id"], "type": payload["type"],
              "payload": payload, "status": "scheduled", "attempts": 0, "due_at": now, "created_at": now}
             for subscription_id, payload in batch]).all()
        db.session.execute(insert(WebhookDue.__table__), [
            {"tenant_id": tenant_id, "delivery_id": delivery_id, "due_at": now, "enqueued_at": now}
            for delivery_id in ids])
        enqueue_many_after_commit(SEND_JOB, [((tenant_id, delivery_id), job_id(tenant_id, delivery_id))
                                             for delivery_id in ids], queue_name=QUEUE)


def reindex(delivery: WebhookDelivery) -> None:
    """(Re)write the due line and hand the send job to RQ for the due time, once this transaction commits."""
    tenant_id = current_tenant().id
    due = db.session.get(WebhookDue, (tenant_id, delivery.id))
    if due is None:
        db.session.add(WebhookDue(tenant_id=tenant_id, delivery_id=delivery.id, due_at=delivery.due_at,
                                  enqueued_at=utcnow()))
    else:
        due.due_at, due.enqueued_at = delivery.due_at, utcnow()
    hand_over(tenant_id, delivery.id, delivery.due_at)


def hand_over(tenant_id: int, delivery_id: int, due_at: datetime) -> None:
    """Enqueue the send job after commit: now when due, else at `due_at` through RQ's scheduler."""
    when = None if due_at <= utcnow() + timedelta(seconds=1) else due_at
    enqueue_after_commit(SEND_JOB, tenant_id, delivery_id, queue_name=QUEUE, at=when,
                         job_id=job_id(tenant_id, delivery_id))


def job_id(tenant_id: int, delivery_id: int) -> str:
    """One RQ job id per delivery: a retry replaces its scheduled job, and the sweeper can see it waits."""
    return f"webhook-{tenant_id}-{delivery_id}"


def forget(delivery_ids: list[int]) -> None:
    """Drop the due lines of deliveries that are finished (delivered, failed or paused)."""
    db.session.execute(delete(WebhookDue).where(WebhookDue.tenant_id == current_tenant().id,
                                                WebhookDue.delivery_id.in_(delivery_ids)))
