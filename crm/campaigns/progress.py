"""A campaign's progress: its own counters and its messages in the outbox by status, for the page's card."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from crm.campaigns.models import Campaign
from crm.extensions import db, utcnow
from crm.notify.models import Notification


@dataclass
class Progress:
    total: int  # audience size when sending started (or now, for a draft)
    queued: int  # messages put in the outbox
    waiting: int  # of those, not finished yet (a message held by quiet hours waits too)
    sent: int
    failed: int
    cancelled: int  # stopped by cancelling the campaign (or the customer was deleted meanwhile)
    opted_out: int  # left out when queueing, or refused at send time because they opted out meanwhile
    no_address: int  # left out: no email address / phone number for the campaign's channel
    reached: int  # customers the expansion has gone through so far
    held: int = 0  # waiting for a later time: quiet hours, or a retry after a failed attempt

    @property
    def handled(self) -> int:
        """Customers whose message is finished one way or another."""
        return self.sent + self.failed + self.cancelled + self.opted_out + self.no_address

    @property
    def of(self) -> int:
        return max(self.total, self.reached, self.handled, 1)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.handled / self.of))


def progress(campaign: Campaign, total: int | None = None) -> Progress:
    """The campaign's counts: its own counters, and its messages in the outbox by status. `total` is the
    audience size to show before sending starts."""
    result = progress_of([campaign], total)[campaign.id]
    if result.waiting:
        result.held = db.session.scalar(select(func.count(Notification.id)).where(
            Notification.campaign_id == campaign.id, Notification.status == "scheduled",
            Notification.due_at > utcnow() + timedelta(seconds=5))) or 0
    return result


def progress_of(campaigns: list[Campaign], total: int | None = None) -> dict[int, Progress]:
    """Progress of several campaigns, counted in one query."""
    rows = db.session.execute(
        select(Notification.campaign_id, Notification.status, Notification.last_error, func.count())
        .where(Notification.campaign_id.in_([c.id for c in campaigns]))
        .group_by(Notification.campaign_id, Notification.status, Notification.last_error)).all()
    by_campaign: dict[int, dict] = {}
    for campaign_id, status, error, count in rows:
        # Refused at send time because the customer opted out meanwhile: counted with the opted out.
        key = "opted_out" if status == "cancelled" and error == "opted out" else status
        counts = by_campaign.setdefault(campaign_id, {})
        counts[key] = counts.get(key, 0) + count
    result = {}
    for campaign in campaigns:
        by_status = by_campaign.get(campaign.id, {})
        queued = sum(by_status.values())
        result[campaign.id] = Progress(
            total=campaign.audience_total if campaign.audience_total is not None else (total or 0),
            queued=queued, waiting=sum(by_status.get(status, 0) for status in ("scheduled", "queued", "sending")),
            sent=by_status.get("sent", 0), failed=by_status.get("failed", 0),
            cancelled=by_status.get("cancelled", 0), opted_out=campaign.opted_out + by_status.get("opted_out", 0),
            no_address=campaign.no_address, reached=queued + campaign.opted_out + campaign.no_address)
    return result


def is_live(campaign: Campaign, counts: Progress) -> bool:
    """Whether the page should keep polling: sending, or messages still on their way."""
    return campaign.status == "sending" or (campaign.status in ("done", "cancelled") and counts.waiting > 0)


def recent_failures(campaign: Campaign, limit: int = 10) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.campaign_id == campaign.id, Notification.status == "failed")
        .order_by(Notification.id.desc()).limit(limit)))
