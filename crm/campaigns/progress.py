"""A campaign's progress: what became of each customer of its audience, from its own counters and its messages
in the outbox by status, for the page's card and the list."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from crm.campaigns.models import Campaign
from crm.extensions import db, utcnow
from crm.notify.models import Notification

OPEN = ("scheduled", "queued", "sending")  # a message on its way


@dataclass
class Progress:
    """Once sending has started, every customer of the audience is in exactly one of the counts, so
    audience = queued + sent + failed + opted_out + no_address + cancelled."""

    audience: int  # the customers the campaign is for
    queued: int  # not sent yet: waiting in the outbox, or not reached by the batches yet
    sent: int
    failed: int  # given up after every retry
    opted_out: int  # left out when queueing, or refused at send time because they opted out meanwhile
    no_address: int  # left out: no email address / phone number for the campaign's channel
    cancelled: int  # not sent because the campaign was cancelled (or the customer was deleted meanwhile)
    waiting: int  # messages in the outbox still on their way (part of queued)
    quiet_held: int = 0  # of those, held by the workspace's quiet hours ...
    held_until: datetime | None = None  # ... until then
    retrying: int = 0  # of those, waiting to be tried again after a failed attempt

    @property
    def handled(self) -> int:
        """Customers whose message is finished one way or another."""
        return self.audience - self.queued

    @property
    def of(self) -> int:
        return max(self.audience, 1)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.handled / self.of))


def progress(campaign: Campaign) -> Progress:
    """The campaign's counts, and which of its waiting messages wait for a later time (quiet hours, a retry)."""
    result = progress_of([campaign])[campaign.id]
    if result.waiting:
        later = db.session.execute(
            select(Notification.held_by_quiet_hours, func.count(), func.min(Notification.due_at))
            .where(Notification.campaign_id == campaign.id, Notification.status == "scheduled",
                   Notification.due_at > utcnow() + timedelta(seconds=5))
            .group_by(Notification.held_by_quiet_hours)).all()
        for held, count, due in later:
            if held:
                result.quiet_held, result.held_until = count, due
            else:
                result.retrying = count
    return result


def progress_of(campaigns: list[Campaign]) -> dict[int, Progress]:
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
    return {campaign.id: _counts(campaign, by_campaign.get(campaign.id, {})) for campaign in campaigns}


def _counts(campaign: Campaign, by_status: dict[str, int]) -> Progress:
    waiting = sum(by_status.get(status, 0) for status in OPEN)
    reached = sum(by_status.values()) + campaign.opted_out + campaign.no_address  # customers the batches went through
    # While sending, the customers the batches have not reached yet are still queued; a campaign cancelled before
    # they were reached never sends to them. A finished campaign's audience is whom its batches went through (the
    # customer list may have changed since sending started).
    unreached = max((campaign.audience_total or 0) - reached, 0) if campaign.status in ("sending", "cancelled") else 0
    cancelled = by_status.get("cancelled", 0) + (unreached if campaign.status == "cancelled" else 0)
    return Progress(audience=reached + unreached, queued=waiting + (unreached if campaign.status == "sending" else 0),
                    sent=by_status.get("sent", 0), failed=by_status.get("failed", 0),
                    opted_out=campaign.opted_out + by_status.get("opted_out", 0), no_address=campaign.no_address,
                    cancelled=cancelled, waiting=waiting)


def is_live(campaign: Campaign, counts: Progress) -> bool:
    """Whether the page should keep polling: sending, or messages still on their way."""
    return campaign.status == "sending" or (campaign.status in ("done", "cancelled") and counts.waiting > 0)


def recent_failures(campaign: Campaign, limit: int = 10) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.campaign_id == campaign.id, Notification.status == "failed")
        .order_by(Notification.id.desc()).limit(limit)))
