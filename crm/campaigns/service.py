"""Campaign rules and queries: the audience (the customer list's own filters), validation, sending in batches
through the outbox, progress, cancel.

Decisions:
- One subject and body, written by the user in one language (`language`): every customer gets that text,
  and the outbox's "campaign" template (crm/notify/messages.py, the tenant may reword it) wraps it in that
  language with the unsubscribe line. `{{ customer }}` (the customer's name) may be used in both; it is the
  only placeholder, filled in by plain substitution (no template language: nothing to reach, no loops to run
  on the workers), and anything else between braces is refused when saving.
- The audience is stored as the customer list's query arguments and read back with CustomerQuery and
  list_customers, so it is exactly what the list shows for those filters, within the creator's customers/view
  scope (as it is when the batch runs).
- Expansion runs in batches of BATCH customers, one transaction each, by keyset over the customer id; the
  campaign keeps its cursor, so a restarted job goes on where the last committed batch ended, and the
  outbox's idempotency key (campaign + customer) makes any repeat add nothing."""
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from crm import listing, validation
from crm.campaigns.models import CHANNELS, EDITABLE_STATUSES, LANGUAGES, Campaign
from crm.customers import queries as customers
from crm.customers.models import STAGE_LABELS, Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields import definitions as fields
from crm.fields import filters
from crm.jobs import enqueue_after_commit, queue
from crm.members.access import scoped
from crm.members.models import Member
from crm.customers import unsubscribe
from crm.notify import outbox
from crm.notify.models import Notification
from tenants.binding import current_tenant

BATCH = 500  # customers per expansion transaction
STALLED_AFTER = timedelta(minutes=10)  # a sending campaign untouched this long has lost its job: start it again
PAGE_SIZE = 25
NEWEST = (listing.Key(Campaign.id, descending=True),)
MAX_BODY = {"email": 10000, "sms": 1000}
PLACEHOLDER = re.compile(r"\{\{\s*customer\s*\}\}")
TEMPLATE_SYNTAX = re.compile(r"\{[{%#].{0,30}")
# The customer list's filter arguments a campaign keeps (search, sort and paging are left out; custom field
# filters are the cf_* arguments).
AUDIENCE_KEYS = ("q", "tag", "tag_mode", "level", "stage", "owner")


# ---- the audience ------------------------------------------------------------------------------------------

def audience_args(args) -> dict[str, list[str]]:
    """The filter arguments of a request (the customer list's names), cleaned, as stored on a campaign."""
    query = customers.CustomerQuery.from_args(args)
    values = query.args(sort="", after="")
    kept = {}
    for key, value in values.items():
        if key in AUDIENCE_KEYS or (key.startswith("cf_") and len(kept) < 60):
            items = value if isinstance(value, list) else [value]
            kept[key[:80]] = [str(item)[:200] for item in items][:20]
    if "tag_mode" in kept and "tag" not in kept:
        del kept["tag_mode"]
    return kept


def audience_query(audience: dict, definitions=None) -> customers.CustomerQuery:
    """The customer list's query for a stored audience, in id order (the keyset the expansion walks)."""
    args = MultiDict([(key, value) for key, values in (audience or {}).items() for value in values])
    query = customers.CustomerQuery.from_args(args)
    query.custom = filters.filter_args(args, fields.fields() if definitions is None else definitions)
    query.sort = "oldest"
    return query


def count_audience(member: Member, audience: dict) -> int:
    """How many live customers the audience holds for `member` (the creator, or who is filling the form)."""
    return customers.count_customers(member, audience_query(audience))


def audience_member(viewer: Member, campaign: Campaign | None) -> Member:
    """Whose customers/view scope an audience is counted in: the campaign's creator, else the viewer."""
    return campaign.owner if campaign is not None else viewer


def audience_page(member: Member, audience: dict, after_id: int, size: int) -> tuple[list[Customer], bool]:
    """The next `size` customers of the audience after `after_id`, and whether more follow."""
    query = audience_query(audience)
    query.after = listing.cursor([after_id]) if after_id else ""  # the "oldest" order's one key is the id
    rows, next_cursor, _total = customers.list_customers(member, query, limit=size)
    return rows, bool(next_cursor)


def describe_audience(audience: dict) -> list[str]:
    """The filters in words, for the campaign's page."""
    from crm.tags import service as tags

    query = audience_query(audience)
    parts = []
    if query.q:
        parts.append(_("Search: %(q)s", q=query.q))
    if query.tags:
        names = [tag.name for tag in tags.all_tags() if tag.id in query.tags]
        parts.append((_("Any of the tags: %(tags)s", tags=", ".join(names)) if query.tag_mode == "any"
                      else _("All of the tags: %(tags)s", tags=", ".join(names))))
    if query.level:
        parts.append(_("Level %(level)s", level=query.level))
    if query.stage:
        parts.append(str(STAGE_LABELS.get(query.stage, query.stage)))
    if query.owner == "me":
        parts.append(_("Owned by the campaign's creator"))
    elif query.owner == "none":
        parts.append(_("No owner"))
    elif query.owner:
        owner = db.session.get(Member, int(query.owner))
        parts.append(_("Owner: %(name)s", name=owner.name if owner else "?"))
    if query.custom:
        parts.append(_("%(n)d custom field filters", n=len(query.custom)))
    return parts


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
        _begin(campaign, now)
        enqueue_after_commit(jobs.expand, current_tenant().id, campaign.id, queue_name="notify")
    return campaign


def _begin(campaign: Campaign, now: datetime) -> None:
    if campaign.send_at is None or campaign.send_at > now:  # sent now, ahead of a time it had
        campaign.send_at = now
    campaign.status, campaign.started_at = "sending", now
    campaign.audience_total = count_audience(campaign.owner, campaign.audience)
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


# ---- sending -----------------------------------------------------------------------------------------------

def expand_batch(campaign_id: int, size: int | None = None) -> str:
    """Queue the next batch of a campaign's audience into the outbox (call with the tenant bound; the caller
    commits). Returns "more" (the next batch is queued after commit), "done", "early", "busy" or "skipped"."""
    from crm.campaigns import jobs

    size = size or BATCH
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id)
                                 .with_for_update(of=Campaign, skip_locked=True))
    if campaign is None:
        return "busy"  # another job holds it (or it was deleted)
    now = utcnow()
    if campaign.status == "scheduled":
        if campaign.send_at and campaign.send_at > now + timedelta(seconds=1):
            return "early"  # moved later since this job was queued; its own job comes at the new time
        _begin(campaign, now)
    if campaign.status != "sending":
        return "skipped"
    rows, more = audience_page(campaign.owner, campaign.audience, campaign.cursor, size)
    _queue_messages(campaign, rows, now)
    if rows:
        campaign.cursor = rows[-1].id
    campaign.updated_at = now
    if more:
        # At the front: the batch's own send jobs are queued behind it, and the next batch should not wait for
        # them (the outbox is the buffer). One job per campaign at a time, so other workers keep sending.
        enqueue_after_commit(jobs.expand, current_tenant().id, campaign.id, queue_name="notify", at_front=True)
        return "more"
    campaign.status, campaign.finished_at = "done", now
    return "done"


def _queue_messages(campaign: Campaign, rows: list[Customer], now: datetime) -> None:
    tenant_id = current_tenant().id
    for customer in rows:
        if customer.marketing_opt_out_at is not None:
            campaign.opted_out += 1
            continue
        recipient = customer.email if campaign.channel == "email" else customer.phone
        if not recipient:
            campaign.no_address += 1
            continue
        payload = {"subject": fill(campaign.subject, customer.name), "body": fill(campaign.body, customer.name),
                   "customer": customer.name,
                   "unsubscribe": unsubscribe.unsubscribe_url(tenant_id, customer.id, campaign.language)}
        added = outbox.schedule(channel=campaign.channel, kind="campaign", recipient=recipient,
                                key=f"campaign:{campaign.id}:customer:{customer.id}", due_at=now, payload=payload,
                                language=campaign.language, source=campaign.source, customer_id=customer.id,
                                campaign_id=campaign.id)
        if added is not None:
            campaign.queued += 1


def stalled(campaign: Campaign) -> bool:
    """A campaign whose expansion job is gone (Redis lost it, a worker died for good): due and untouched."""
    now = utcnow()
    if campaign.status == "sending":
        return campaign.updated_at < now - STALLED_AFTER
    if campaign.status == "scheduled":
        return campaign.send_at is not None and campaign.send_at < now - STALLED_AFTER
    return False


def resume_if_stalled(campaign: Campaign) -> bool:
    """Hand a stalled campaign's expansion to RQ again (safe: a second job finds the row locked or the
    cursor moved on). Returns whether it did."""
    from crm.campaigns import jobs

    if not stalled(campaign):
        return False
    try:
        queue("notify").enqueue(jobs.expand, current_tenant().id, campaign.id)
    except Exception:  # noqa: BLE001 - Redis away: the next look at the page tries again
        current_app.logger.warning("could not resume campaign %s", campaign.id, exc_info=True)
        return False
    return True


# ---- progress ----------------------------------------------------------------------------------------------

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
