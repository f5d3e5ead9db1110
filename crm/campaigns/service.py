"""Campaign rules and queries: the campaigns a viewer may see, validation, create, change, start, cancel and
delete (the audience is in audience.py, the batches in sending.py, the counts in progress.py).

One subject and body, written by the user in one language (`language`): every customer gets that text, and the
outbox's "campaign" template (crm/notify/messages.py, the tenant may reword it) wraps it in that language with the
unsubscribe line. `{{ customer }}` (the customer's name) may be used in both; it is the only placeholder, filled
in by plain substitution (no template language: nothing to reach, no loops to run on the workers), and anything
else between braces is refused when saving."""
import re
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm import listing, validation
from crm.campaigns.audience import count_recipients
from crm.campaigns.models import CHANNELS, EDITABLE_STATUSES, LANGUAGES, RECIPIENTS, Campaign
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit
from crm.members.access import scoped
from crm.members.models import Member
from crm.notify import outbox
from crm.notify.models import Notification
from tenants.binding import current_tenant

PAGE_SIZE = 25
NEWEST = (listing.Key(Campaign.id, descending=True),)
MAX_BODY = {"email": 10000, "sms": 1000}
PLACEHOLDER = re.compile(r"\{\{\s*customer\s*\}\}")
TEMPLATE_SYNTAX = re.compile(r"\{[{%#].{0,30}")


# ---- reading campaigns -------------------------------------------------------------------------------------

def visible(viewer: Member, action: str = "view"):
    return scoped(select(Campaign), viewer, "campaigns", action, Campaign)


def list_campaigns(viewer: Member, after: str = "", limit: int = PAGE_SIZE) -> tuple[list[Campaign], str]:
    """A page of the campaigns the viewer may see, newest first, and the next page's cursor ('' on the last)."""
    return listing.page(visible(viewer), NEWEST, after, limit)


def get_campaign(viewer: Member, campaign_id: int, action: str = "view", lock: bool = False) -> Campaign:
    """A campaign the viewer's role reaches for `action`; anything else is not found."""
    stmt = visible(viewer, action).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update(of=Campaign)
    campaign = db.session.scalar(stmt)
    if campaign is None:
        raise NotFound()
    return campaign


# ---- writing -----------------------------------------------------------------------------------------------

def clean(data: dict) -> dict:
    """Validate the form's fields; every problem reported at once."""
    errors, cleaned = {}, {}
    cleaned["name"] = validation.collect(errors, validation.text, data.get("name"), "name", 120,
                                         required=_("Name is required.")) or ""
    channel = validation.collect(errors, validation.choice, data.get("channel"), "channel", CHANNELS) or "email"
    cleaned["channel"] = channel
    language = data.get("language")
    cleaned["language"] = language if language in LANGUAGES else "en"
    cleaned["recipients"] = validation.collect(errors, validation.choice, data.get("recipients"), "recipients",
                                               RECIPIENTS, default="customers") or "customers"
    subject = validation.collect(errors, validation.text, (data.get("subject") or "").replace("\n", " "), "subject",
                                 200, required=_("An email needs a subject.") if channel == "email" else False)
    cleaned["subject"] = (subject or "") if channel == "email" else ""
    body = (data.get("body") or "").replace("\r\n", "\n")
    cleaned["body"] = validation.collect(errors, validation.text, body, "body", MAX_BODY[channel],
                                         required=_("Write the message.")) or ""
    for field_name in ("subject", "body"):
        if field_name not in errors and cleaned[field_name]:
            problem = _template_problem(cleaned[field_name])
            if problem:
                errors[field_name] = problem
    cleaned["send_at"] = validation.collect(errors, validation.local_datetime, data.get("send_at"), "send_at")
    if errors:
        raise Invalid(errors)
    return cleaned


def _template_problem(text: str) -> str | None:
    """Why `text` cannot be used (something between braces other than {{ customer }}), else None."""
    found = TEMPLATE_SYNTAX.search(PLACEHOLDER.sub("", text))
    if found is None:
        return None
    return _("This text cannot be used: %(part)s. The only variable is {{ customer }}.", part=found[0])


def fill(text: str, customer_name: str) -> str:
    """The text with the customer's name for every {{ customer }}."""
    return PLACEHOLDER.sub(lambda _match: customer_name, text)


def create_campaign(viewer: Member, data: dict, audience: dict, send: bool = False) -> Campaign:
    """A new campaign owned by the viewer: a draft, or on its way (`send`: now, or at its send time)."""
    cleaned = clean(data)
    send_at = cleaned.pop("send_at")
    campaign = Campaign(owner_id=viewer.id, audience=audience, status="draft", cursor=0, queued=0, opted_out=0,
                        no_address=0, **cleaned)
    db.session.add(campaign)
    db.session.flush()
    campaign.owner = viewer
    campaign.send_at = send_at
    if send:
        start(campaign, send_at)
    return campaign


def update_campaign(campaign: Campaign, data: dict, audience: dict, send: bool = False) -> Campaign:
    """Change a draft or scheduled campaign; `send` puts it on its way, else it goes back to being a draft."""
    if campaign.status not in EDITABLE_STATUSES:
        raise Invalid({"status": _("This campaign has been sent; it can no longer be changed.")})
    cleaned = clean(data)
    send_at = cleaned.pop("send_at")
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    campaign.audience, campaign.send_at, campaign.status = audience, send_at, "draft"
    campaign.updated_at = utcnow()
    if send:
        start(campaign, send_at)
    return campaign


def start(campaign: Campaign, send_at: datetime | None = None) -> Campaign:
    """Send now (no time, or a time already past), or at `send_at`: the expansion job is queued after commit."""
    from crm.campaigns import jobs

    if campaign.status not in EDITABLE_STATUSES:
        raise Invalid({"status": _("This campaign has been sent already.")})
    now = utcnow()
    if send_at is not None and send_at > now + timedelta(seconds=30):
        campaign.status, campaign.send_at = "scheduled", send_at
        enqueue_after_commit(jobs.expand, current_tenant().id, campaign.id, queue_name="notify", at=send_at)
    else:
        begin_sending(campaign, now)
        enqueue_after_commit(jobs.expand, current_tenant().id, campaign.id, queue_name="notify")
    return campaign


def begin_sending(campaign: Campaign, now: datetime) -> None:
    """Mark the campaign as sending from `now`, with its audience counted as it stands (start, or its job)."""
    if campaign.send_at is None or campaign.send_at > now:  # sent now, ahead of a time it had
        campaign.send_at = now
    campaign.status, campaign.started_at = "sending", now
    campaign.audience_total = count_recipients(campaign.owner, campaign.audience, campaign.recipients)
    campaign.updated_at = now


def cancel(campaign: Campaign) -> int:
    """Stop a campaign (call with its row locked): no more batches, and its messages not yet sent are cancelled.
    Returns how many messages were cancelled."""
    if campaign.status in ("draft", "cancelled") or (campaign.status == "done" and not _open(campaign)):
        raise Invalid({"status": _("Only a scheduled campaign or one still sending can be cancelled.")})
    campaign.status, campaign.cancelled_at = "cancelled", utcnow()
    return outbox.cancel(campaign.source)


def delete_campaign(campaign: Campaign) -> None:
    """Delete a draft, or a campaign that is over (its messages stay in the outbox)."""
    if campaign.status in ("scheduled", "sending") or _open(campaign):
        raise Invalid({"status": _("Cancel the campaign before deleting it.")})
    db.session.delete(campaign)


def _open(campaign: Campaign) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.campaign_id == campaign.id, Notification.status.in_(("scheduled", "queued", "sending")))) or 0
