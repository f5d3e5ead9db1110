"""The send job and the sweeper of outgoing webhooks (the outbox protocol of crm/outbox.py).

A delivery goes in three steps, each its own transaction:
1. claim: lock the row, skip it if it is finished or claimed by a live worker, mark it `sending`, commit;
2. post it (signed, through crm/notify/transport.py: a timeout, no redirects, no private addresses in
   production), then, if this claim is still the latest, log the attempt and mark the row `delivered`, commit;
3. on a failure, log the attempt and retry with backoff, or give up past the limit (`failed`); a subscription
   whose attempts failed WEBHOOK_DISABLE_AFTER times in a row is switched off and its admins are emailed.
Delivery is at least once: a worker killed after the receiver's answer and before its commit leaves a `sending`
row whose claim goes stale, and the sweeper hands it over again; the receiver drops the repeat by the event's id
(`Webhook-Id`, the payload's `id`). A delivery of a disabled subscription is `paused` when its turn comes and
goes out when the subscription is enabled again.
"""
import json
import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from crm import outbox as protocol
from crm.crypto import decrypt
from crm.extensions import db, utcnow
from crm.jobs import platform_job, tenant_job
from crm.notify.transport import ChannelError, http_call
from crm.webhooks import outbox, service, signing
from crm.webhooks.models import OPEN_STATUSES, WebhookAttempt, WebhookDelivery, WebhookDue, WebhookSubscription

log = logging.getLogger(__name__)


def _stale() -> timedelta:
    return timedelta(seconds=current_app.config["WEBHOOK_STALE_SECONDS"])


@tenant_job
def deliver(delivery_id: int) -> str:
    """Post one delivery of the tenant; returns what happened (for logs and tests)."""
    outcome = _claim(delivery_id)
    db.session.commit()
    if outcome != "claimed":
        return outcome
    return _post(delivery_id)


def _claim(delivery_id: int) -> str:
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                 .with_for_update(skip_locked=True))
    if delivery is None:
        return "busy"  # another worker is claiming it right now (or it is gone)
    cannot = protocol.not_claimable(delivery, OPEN_STATUSES, _stale())
    if cannot == "skipped":
        outbox.forget([delivery.id])
    if cannot is not None:
        return cannot
    if not delivery.subscription.enabled:
        delivery.status = "paused"
        outbox.forget([delivery.id])
        return "paused"
    delivery.status, delivery.claimed_at = "sending", utcnow()
    delivery.attempts += 1
    return "claimed"


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()


def _post(delivery_id: int) -> str:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    subscription, attempt = delivery.subscription, delivery.attempts
    body = body_of(delivery)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "CRM-webhooks/1",
               "Webhook-Id": delivery.event_id, "Webhook-Event": delivery.type,
               signing.HEADER: signing.signature(decrypt(subscription.secret_enc, service.secret_context()), body)}
    started = time.monotonic()
    try:
        answer = http_call("POST", subscription.url, body=body, headers=headers)
        status, excerpt, error = answer.status, answer.excerpt(), None if answer.ok else f"HTTP {answer.status}"
    except ChannelError as refused:
        status, excerpt, error = None, "", str(refused)[:300]
    duration_ms = round((time.monotonic() - started) * 1000)
    db.session.rollback()  # the read transaction held during the call; what follows is its own
    # Only the latest claim writes: one whose claim went stale and was taken over records nothing.
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                               WebhookDelivery.attempts == attempt,
                                                               WebhookDelivery.status == "sending")
                                 .with_for_update())
    if delivery is None:
        return "taken over"
    db.session.add(WebhookAttempt(delivery_id=delivery.id, subscription_id=delivery.subscription_id, attempt=attempt,
                                  status_code=status, error=error, duration_ms=duration_ms, response_excerpt=excerpt))
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", utcnow(), None
        outbox.forget([delivery.id])
        db.session.execute(update(WebhookSubscription).where(WebhookSubscription.id == delivery.subscription_id,
                                                             WebhookSubscription.failures != 0).values(failures=0))
        return "delivered"
    return _failed(delivery, error)


def _failed(delivery: WebhookDelivery, error: str) -> str:
    """Retry later with backoff, or give up past the limit; count the failure against the subscription."""
    log.warning("webhook delivery %s failed (attempt %s): %s", delivery.id, delivery.attempts, error)
    config = current_app.config
    service.count_failure(delivery.subscription_id)
    delivery.last_error = error
    if delivery.attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
        delivery.status = "failed"
        outbox.forget([delivery.id])
        return "failed"
    delivery.status = "scheduled"
    delivery.due_at = protocol.retry_at(delivery.attempts, config["WEBHOOK_BACKOFF"])
    outbox.reindex(delivery)
    return "retrying"


@platform_job
def sweep(limit: int = 5000, stale_seconds: int | None = None) -> int:
    """Hand over again every delivery due for a while and still not finished (Redis lost it, a worker died);
    a delivery handed over twice is still claimed once."""
    stale = _stale() if stale_seconds is None else timedelta(seconds=stale_seconds)
    return protocol.hand_over_lost(WebhookDue.delivery_id, outbox.QUEUE, deliver, outbox.job_id, stale, limit)
