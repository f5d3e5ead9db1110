"""SMS credits: a plan's SMS a month. Past them, a plan that holds keeps each further SMS in the outbox, marked
`held_by_credits` and due at the next month's start (or sooner, once the plan's limit is raised); a metered plan
sends it (reported to Stripe as usage, §2). Nothing held is lost. Imports only notify's outbox, never customers."""
from datetime import datetime

from sqlalchemy import func, select

from crm.billing.service import standing
from crm.extensions import db, utcnow
from crm.jobs import tenant_job
from crm.notify import outbox
from crm.notify.models import Notification
from crm.targets import months


def sms_sent_this_month() -> int:
    """SMS sent since the first of this month where the workspace is."""
    start, _end = months.bounds(months.current())
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.channel == "sms", Notification.status == "sent", Notification.sent_at >= start))


def sms_held() -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.held_by_credits, Notification.status == "scheduled"))


def held_until(notification: Notification) -> datetime | None:
    """When an SMS past this month's credits may go (the next month's start); None when it may go now."""
    plan = standing().plan
    if notification.channel != "sms" or plan.sms_per_month is None or plan.sms_beyond != "hold":
        return None
    if sms_sent_this_month() < plan.sms_per_month:
        return None
    return months.bounds(months.current())[1]


@tenant_job
def release_held_sms() -> int:
    """The plan's SMS credits changed: every held SMS is due now (one still past the credits is held again)."""
    held = list(db.session.scalars(select(Notification).where(Notification.held_by_credits,
                                                               Notification.status == "scheduled")))
    for notification in held:
        notification.due_at, notification.held_by_credits = utcnow(), False
        outbox.reindex(notification)
    return len(held)
