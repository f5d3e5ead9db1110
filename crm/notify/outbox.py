"""Write messages into the outbox in the caller's transaction; change or cancel them with their cause.

A row in `notifications` plus its line in `public.notification_due` are written together; the send job is
handed to RQ only after commit (at its due time through RQ's scheduler). If Redis loses the job, the sweeper
finds the due line and hands it over again."""
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit, enqueue_many_after_commit
from crm.notify.models import Notification, NotificationDue
from tenants.binding import current_tenant


# Named, not imported: the send job (jobs.py) uses this module, and RQ finds a job by its dotted name.
SEND_JOB = "crm.notify.jobs.send_notification"


def _tenant_id() -> int:
    return current_tenant().id


def schedule(*, channel: str, kind: str, recipient: str, key: str, due_at: datetime | None = None,
             payload: dict | None = None, language: str = "en", source: str | None = None,
             member_id: int | None = None, customer_id: int | None = None,
             campaign_id: int | None = None) -> Notification | None:
    """Put one message in the outbox. A second call with the same `key` adds nothing (returns None),
    except that a cancelled message comes back (a follow-up moved away and back again)."""
    existing = db.session.scalar(select(Notification).where(Notification.idempotency_key == key))
    if existing is not None:
        if existing.status != "cancelled":
            return None
        existing.status, existing.due_at, existing.payload = "scheduled", due_at or utcnow(), payload or {}
        existing.held_by_quiet_hours = False
        reindex(existing)
        return existing
    notification = Notification(channel=channel, kind=kind, recipient=recipient, idempotency_key=key,
                                due_at=due_at or utcnow(), payload=payload or {}, language=language,
                                source=source, member_id=member_id, customer_id=customer_id,
                                campaign_id=campaign_id, status="scheduled", attempts=0)
    db.session.add(notification)
    db.session.flush()
    reindex(notification)
    return notification


def schedule_many(messages: list[dict]) -> int:
    """Put many new messages in the outbox at once (an import's reminders): `schedule()`'s rows, due lines and
    send jobs in a few statements and one round trip to Redis. Each dict holds Notification's columns
    (`idempotency_key` among them); a key already there adds nothing. Returns how many were added."""
    if not messages:
        return 0
    added = db.session.execute(
        pg_insert(Notification).on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Notification.id, Notification.due_at),
        [{"status": "scheduled", "attempts": 0, **message} for message in messages]).all()
    if added:
        tenant_id, now = _tenant_id(), utcnow()
        db.session.execute(insert(NotificationDue), [
            {"tenant_id": tenant_id, "notification_id": notification_id, "due_at": due_at, "enqueued_at": now}
            for notification_id, due_at in added])
        enqueue_many_after_commit(SEND_JOB, [
            ((tenant_id, notification_id), job_id(tenant_id, notification_id),
             None if due_at <= now + timedelta(seconds=1) else due_at) for notification_id, due_at in added],
            queue_name="notify")
    return len(added)


def reindex(notification: Notification) -> None:
    """(Re)write the due line and hand the send job to RQ for the due time, once this transaction commits."""
    tenant_id = _tenant_id()
    due = db.session.get(NotificationDue, (tenant_id, notification.id))
    if due is None:
        db.session.add(NotificationDue(tenant_id=tenant_id, notification_id=notification.id,
                                       due_at=notification.due_at, enqueued_at=utcnow()))
    else:
        due.due_at, due.enqueued_at = notification.due_at, utcnow()
    hand_over(tenant_id, notification.id, notification.due_at)


def reschedule(notification_ids: list[int], due_at: datetime) -> None:
    """These messages' rows now say `due_at`: move their due lines (one statement) and their send jobs."""
    if not notification_ids:
        return
    tenant_id = _tenant_id()
    db.session.execute(update(NotificationDue).where(NotificationDue.tenant_id == tenant_id,
                                                     NotificationDue.notification_id.in_(notification_ids))
                       .values(due_at=due_at, enqueued_at=utcnow()))
    for notification_id in notification_ids:
        hand_over(tenant_id, notification_id, due_at)


def hand_over(tenant_id: int, notification_id: int, due_at: datetime) -> None:
    """Enqueue the send job after commit: now when due, else at `due_at` through RQ's scheduler."""
    when = None if due_at <= utcnow() + timedelta(seconds=1) else due_at
    enqueue_after_commit(SEND_JOB, tenant_id, notification_id, queue_name="notify", at=when,
                         job_id=job_id(tenant_id, notification_id))


def job_id(tenant_id: int, notification_id: int) -> str:
    """One RQ job id per message: a new due time replaces its scheduled job, and the sweeper can see it waits."""
    return f"notify-{tenant_id}-{notification_id}"


def pending(source: str) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.source == source,
                                                             Notification.status.in_(("scheduled", "queued")))))


def held_until(source: str) -> datetime | None:
    """When the first of `source`'s messages that quiet hours hold is due; None when none is held."""
    return db.session.scalar(select(func.min(Notification.due_at)).where(
        Notification.source == source, Notification.status == "scheduled", Notification.held_by_quiet_hours))


def move(source: str, due_at: datetime) -> int:
    """Its cause moved (a follow-up rescheduled): the pending messages move with it."""
    moved = 0
    for notification in pending(source):
        notification.due_at = due_at
        reindex(notification)
        moved += 1
    return moved


def cancel(source: str) -> int:
    """Its cause is gone or done early: the pending messages will not be sent."""
    ids = [n.id for n in pending(source)]
    if ids:
        db.session.execute(update(Notification).where(Notification.id.in_(ids)).values(status="cancelled"))
        forget(ids)
    return len(ids)


def cancel_many(sources: list[str]) -> int:
    """`cancel()` for many causes at once (an import undone)."""
    ids = list(db.session.scalars(update(Notification).where(
        Notification.source.in_(sources), Notification.status.in_(("scheduled", "queued")))
        .values(status="cancelled").returning(Notification.id), execution_options={"synchronize_session": False}))
    if ids:
        forget(ids)
    return len(ids)


def forget(notification_ids: list[int]) -> None:
    """Drop the due lines of messages that are finished (sent, failed or cancelled)."""
    db.session.execute(delete(NotificationDue).where(NotificationDue.tenant_id == _tenant_id(),
                                                     NotificationDue.notification_id.in_(notification_ids)))


