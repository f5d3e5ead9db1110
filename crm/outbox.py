"""The outbox protocol that messages (crm/notify) and webhooks (crm/webhooks) share.

A row to send lives in the tenant's schema with a due line in a public table (tenant, row id, due time, when a job
was last handed to RQ). Its job claims the row under its lock, sends, and marks it finished or schedules a retry
with backoff; the sweeper hands over again every due line whose job Redis lost or whose worker died."""
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import InstrumentedAttribute

from crm.extensions import db, utcnow
from crm.jobs import queue


def not_claimable(row, open_statuses, stale: timedelta) -> str | None:
    """Why the locked row cannot be claimed now, or None when it can: "skipped" (finished: the caller drops its
    due line), "busy" (a live worker has it) or "early" (moved later since this job was queued; its own job comes
    at the new time)."""
    now = utcnow()
    if row.status not in open_statuses:
        return "skipped"
    if row.status == "sending" and row.claimed_at > now - stale:
        return "busy"
    if row.due_at > now + timedelta(seconds=1):
        return "early"
    return None


def retry_at(attempts: int, backoff: list[int]) -> datetime:
    """When the next attempt goes: the backoff's wait for this attempt, its last one past its end."""
    return utcnow() + timedelta(seconds=backoff[min(attempts - 1, len(backoff) - 1)])


def hand_over_lost(row_id: InstrumentedAttribute, queue_name: str, job, job_id, stale: timedelta,
                   limit: int) -> int:
    """Enqueue again the job of every due line due for a while and not handed over recently: `row_id` is the due
    table's column naming the row, `job_id(tenant_id, row id)` the row's one RQ job id.

    Safe on several machines at once: lines locked by another sweeper are skipped, and a row handed over twice is
    still claimed once."""
    due = row_id.class_
    now = utcnow()
    rows = list(db.session.scalars(
        select(due).where(due.due_at <= now - stale, or_(due.enqueued_at.is_(None), due.enqueued_at <= now - stale))
        .order_by(due.due_at).limit(limit).with_for_update(skip_locked=True)))
    jobs = queue(queue_name)
    # The jobs RQ will still run by itself: in the queue, or scheduled for later. (A job's status is no guide:
    # a worker killed between taking a job and starting it leaves it "queued" with nobody to run it.)
    waiting = set(jobs.get_job_ids()) | set(jobs.scheduled_job_registry.get_job_ids(cleanup=False)) if rows else set()
    handed = 0
    for row in rows:
        one = job_id(row.tenant_id, getattr(row, row_id.key))
        if one in waiting:
            continue  # its job is still in the queue (a backlog), not lost: no second copy
        jobs.enqueue(job, row.tenant_id, getattr(row, row_id.key), job_id=one)
        row.enqueued_at = now
        handed += 1
    return handed
