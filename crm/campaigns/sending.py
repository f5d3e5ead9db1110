"""Sending a campaign: its audience expanded into the outbox batch by batch, and a stalled expansion handed
to RQ again.

Expansion runs in batches of BATCH customers, one transaction each, by keyset over the customer id; the campaign
keeps its cursor, so a restarted job goes on where the last committed batch ended, and the outbox's idempotency
key (campaign + customer, or campaign + contact) makes any repeat add nothing. A campaign written to contacts
(`recipients`) sends to each customer's primary contact or to all of them, the customer itself when it has none;
a customer who opted out is skipped whole, a contact who did is skipped alone."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from crm.campaigns.audience import audience_page
from crm.campaigns.models import Campaign
from crm.campaigns.service import begin_sending, fill
from crm.contacts import service as contacts
from crm.contacts.models import Contact
from crm.customers import unsubscribe
from crm.customers.models import Customer
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit, queue
from crm.notify import outbox
from tenants.binding import current_tenant

BATCH = 500  # customers per expansion transaction
STALLED_AFTER = timedelta(minutes=10)  # a sending campaign untouched this long has lost its job: start it again


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
        begin_sending(campaign, now)
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
    people = contacts.campaign_contacts([customer.id for customer in rows], campaign.recipients)
    for customer in rows:
        persons = people.get(customer.id) or [customer]
        if customer.marketing_opt_out_at is not None:  # the customer said no: none of its people either
            campaign.opted_out += len(persons)
            continue
        for person in persons:
            _queue_one(campaign, customer, person, now)


def _queue_one(campaign: Campaign, customer: Customer, person: Customer | Contact, now: datetime) -> None:
    """One message to the customer itself or to one of its contacts (their own opt-out and unsubscribe link)."""
    contact = person if isinstance(person, Contact) else None
    if contact is not None and contact.marketing_opt_out_at is not None:
        campaign.opted_out += 1
        return
    phone = contact.mobile if contact is not None else customer.phone
    recipient = person.email if campaign.channel == "email" else phone
    if not recipient:
        campaign.no_address += 1
        return
    contact_id = contact.id if contact is not None else None
    payload = {"subject": fill(campaign.subject, person.name), "body": fill(campaign.body, person.name),
               "customer": person.name, "unsubscribe": unsubscribe.unsubscribe_url(
                   current_tenant().id, customer.id, campaign.language, contact_id=contact_id)}
    key = f"campaign:{campaign.id}:customer:{customer.id}"
    if contact is not None:
        payload["contact_id"] = contact.id  # the send job checks this person's opt-out too (crm/notify/rules.py)
        key = f"campaign:{campaign.id}:contact:{contact.id}"
    added = outbox.schedule(channel=campaign.channel, kind="campaign", recipient=recipient, key=key, due_at=now,
                            payload=payload, language=campaign.language, source=campaign.source,
                            customer_id=customer.id, campaign_id=campaign.id)
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
