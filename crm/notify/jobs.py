"""The send job and the sweeper.

A send goes in three steps, each its own transaction:
1. claim: lock the row, skip it if it is finished or claimed by a live worker, mark it `sending`, commit;
2. deliver, mark it `sent` and drop its due line, commit;
3. on a failure, schedule a retry with backoff, or give up past the limit (`failed`).
Two workers never send one message: the claim is taken under the row lock, a finished row is skipped, and only
the latest claim may mark the row sent. A worker killed after its claim leaves a `sending` row whose claim goes
stale; the sweeper hands it over again.
Email is sent exactly once in effect (smtp.py): in step 2 the SMTP server gets the whole message but its final
".", the row is marked sent, and the COMMIT and the "." leave back to back; a worker killed before that COMMIT
leaves the server an unfinished message, which it discards, so the retry delivers it once. SMS and bots mark
the row after the provider's answer: killed in between, the retry sends the message again with the same
idempotency key, for the provider to drop the repeat.
"""
import functools
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from crm import outbox as protocol
from crm.billing import sms
from crm.extensions import db, utcnow
from crm.jobs import platform_job, tenant_job
from crm.notify import channels, messages, outbox, rules, smtp
from crm.notify.models import OPEN_STATUSES, Notification, NotificationDue

log = logging.getLogger(__name__)


def _stale() -> timedelta:
    return timedelta(seconds=current_app.config["NOTIFY_STALE_SECONDS"])


@tenant_job
def send_notification(notification_id: int) -> str:
    """Send one message of the tenant; returns what happened (for logs and tests)."""
    outcome = _claim(notification_id)
    db.session.commit()
    if outcome != "claimed":
        return outcome
    return _deliver(notification_id)


def _claim(notification_id: int) -> str:
    notification = db.session.scalar(select(Notification).where(Notification.id == notification_id)
                                     .with_for_update(skip_locked=True))
    if notification is None:
        return "busy"  # another worker is claiming it right now (or it is gone)
    cannot = protocol.not_claimable(notification, OPEN_STATUSES, _stale())
    if cannot == "skipped":
        outbox.forget([notification.id])
    if cannot is not None:
        return cannot
    now = utcnow()
    refusal = rules.refusal(notification)
    if refusal is not None:
        return _finish(notification, "cancelled", refusal)
    held_until = rules.held_until(notification, now)
    if held_until is not None:
        notification.status, notification.due_at, notification.held_by_quiet_hours = "scheduled", held_until, True
        outbox.reindex(notification)
        return "postponed"
    past_credits = sms.held_until(notification)
    if past_credits is not None:
        notification.status, notification.due_at, notification.held_by_credits = "scheduled", past_credits, True
        outbox.reindex(notification)
        return "held"
    notification.status, notification.claimed_at, notification.held_by_quiet_hours = "sending", now, False
    notification.held_by_credits = False
    notification.attempts += 1
    return "claimed"


def _deliver(notification_id: int) -> str:
    notification = db.session.get(Notification, notification_id)
    mark_sent = functools.partial(_mark_sent, notification_id, notification.attempts)
    try:
        held = channels.deliver(notification, messages.render(notification))
        if held is not None:  # an email with all but its final "."
            return "sent" if smtp.deliver_once(held, mark_sent) else "taken over"
    except Exception as error:  # noqa: BLE001 - any failure of a channel is recorded and retried
        db.session.rollback()
        return _failed(db.session.get(Notification, notification_id), error)
    mark_sent()
    return "sent"


def _mark_sent(notification_id: int, attempt: int) -> bool:
    """Mark the message sent; False when its claim went stale and another attempt took it over."""
    marked = db.session.execute(update(Notification).where(Notification.id == notification_id,
                                                           Notification.attempts == attempt)
                                .values(status="sent", sent_at=utcnow(), last_error=None)).rowcount
    if marked:
        outbox.forget([notification_id])
    return marked == 1


def _finish(notification: Notification, status: str, error: str | None) -> str:
    notification.status, notification.last_error = status, error
    outbox.forget([notification.id])
    return status


def _failed(notification: Notification, error: Exception) -> str:
    """Retry later with backoff, or give up past the limit (the tenant sees the error)."""
    message = f"{type(error).__name__}: {error}"[:500]
    log.warning("notification %s failed (attempt %s): %s", notification.id, notification.attempts, message)
    config = current_app.config
    if notification.attempts >= config["NOTIFY_MAX_ATTEMPTS"]:
        return _finish(notification, "failed", message)
    notification.status, notification.last_error = "scheduled", message
    notification.due_at = protocol.retry_at(notification.attempts, config["NOTIFY_BACKOFF"])
    outbox.reindex(notification)
    return "retrying"


@platform_job
def sweep(limit: int = 5000, stale_seconds: int | None = None) -> int:
    """Hand over again every message due for a while and still not finished (Redis lost it, a worker died);
    a message handed over twice is still sent once."""
    stale = _stale() if stale_seconds is None else timedelta(seconds=stale_seconds)
    return protocol.hand_over_lost(NotificationDue.notification_id, "notify", send_notification, outbox.job_id,
                                   stale, limit)
