"""Webhook subscriptions (Settings > Integrations): their rules, the secret shown once and rolled, the delivery
log, replay, and switching a failing subscription off (with an email to the admins) and on again."""
import urllib.parse
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import validation
from crm.audit.service import record
from crm.crypto import decrypt, encrypt, needs_rotation
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.followups.reminders import locale_of
from crm.members.models import Member
from crm.notify import outbox as notify_outbox
from crm.notify.transport import ChannelError, check_destination, private_hosts_allowed
from crm.web import absolute_url
from crm.webhooks import outbox, signing
from crm.webhooks.events import EVENTS
from crm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tenants.backup import rebinds_restored
from tenants.binding import current_tenant

LOG_SIZE = 50


@dataclass
class Created:
    subscription: WebhookSubscription
    secret: str  # shown this once


def secret_context(schema: str | None = None) -> str:
    """What binds a stored secret to its workspace (AES-GCM associated data)."""
    return f"{schema or current_tenant().schema}:webhook_subscriptions.secret"


@rebinds_restored
def rebind_secrets(old_schema: str, new_schema: str, in_schema: dict) -> None:
    """A restored copy's signing secrets encrypted again for its own schema (their context names it)."""
    rows = db.session.execute(select(WebhookSubscription.id, WebhookSubscription.secret_enc),
                              execution_options=in_schema).all()
    for subscription_id, token in rows:
        secret = decrypt(token, secret_context(old_schema))
        db.session.execute(update(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
                           .values(secret_enc=encrypt(secret, secret_context(new_schema))),
                           execution_options=in_schema)


def rotate_secrets() -> int:
    """Signing secrets stored under an older FIELD_KEYS key, encrypted again under the newest (`tenants
    rotate-keys`): the secret itself is the same, so receivers notice nothing. Returns how many."""
    done = 0
    for subscription in db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)):
        if needs_rotation(subscription.secret_enc):
            secret = decrypt(subscription.secret_enc, secret_context())
            subscription.secret_enc = encrypt(secret, secret_context())
            done += 1
    return done


def subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def get_subscription(subscription_id: int, lock: bool = False) -> WebhookSubscription:
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    found = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound()
    return found


def clean_url(value) -> str:
    """An https address (http only where the SSRF guard lets private hosts through: development and tests) that
    the guard accepts now; it checks again, after resolving the name, at every delivery."""
    url = validation.text(value, "url", 500, required=_("Enter the address that receives the events."))
    allowed = ("https", "http") if private_hosts_allowed() else ("https",)
    try:
        parts = urllib.parse.urlsplit(url)
        well_formed = parts.scheme in allowed and parts.hostname and (parts.port or 1)
    except ValueError:  # a broken [IPv6] host or a port out of range
        well_formed = False
    if not well_formed:
        raise Invalid({"url": _("Enter an address starting with https://.")})
    try:
        check_destination(url)
    except ChannelError:
        raise Invalid({"url": _("This address is inside a private network; events only go to public services.")})
    return url


def clean_events(values) -> list[str]:
    chosen = [name for name in EVENTS if name in set(values or ())]
    if not chosen:
        raise Invalid({"events": _("Choose at least one event.")})
    return chosen


def create_subscription(viewer: Member, url, events) -> Created:
    """A new enabled subscription with a new secret."""
    errors = {}
    url = validation.collect(errors, clean_url, url)
    events = validation.collect(errors, clean_events, events)
    if errors:
        raise Invalid(errors)
    secret = signing.new_secret()
    subscription = WebhookSubscription(url=url, events=events, secret_enc=encrypt(secret, secret_context()),
                                       enabled=True, failures=0, created_by=viewer.id)
    db.session.add(subscription)
    db.session.flush()
    record("create", "webhook", subscription.id, summary=url, changes={"events": [None, ", ".join(events)]})
    return Created(subscription, secret)


def update_subscription(subscription: WebhookSubscription, url, events) -> WebhookSubscription:
    errors = {}
    url = validation.collect(errors, clean_url, url)
    events = validation.collect(errors, clean_events, events)
    if errors:
        raise Invalid(errors)
    changes = {}
    if url != subscription.url:
        changes["url"] = [subscription.url, url]
    if events != subscription.events:
        changes["events"] = [", ".join(subscription.events), ", ".join(events)]
    subscription.url, subscription.events = url, events
    if changes:
        record("update", "webhook", subscription.id, summary=url, changes=changes)
    return subscription


def roll_secret(subscription: WebhookSubscription) -> str:
    """A new secret, from now on; the old one stops signing at once. Returned to be shown this once."""
    secret = signing.new_secret()
    subscription.secret_enc = encrypt(secret, secret_context())
    record("update", "webhook", subscription.id, summary=subscription.url, changes={"secret": ["…", "…"]})
    return secret


def delete_subscription(subscription: WebhookSubscription) -> None:
    """Delete it with its deliveries and their log; what was waiting is not sent."""
    ids = list(db.session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status.in_(("scheduled", "sending")))))
    if ids:
        outbox.forget(ids)
    record("delete", "webhook", subscription.id, summary=subscription.url)
    db.session.delete(subscription)


def disable(subscription: WebhookSubscription) -> None:
    """Switched off by an admin: no new events; waiting deliveries pause when their turn comes."""
    subscription.enabled = False
    record("update", "webhook", subscription.id, summary=subscription.url, changes={"enabled": [True, False]})


def enable(subscription: WebhookSubscription) -> int:
    """On again, with a clean failure count; what it held, and retries waiting for their backoff, go out now (the
    receiver was presumably fixed). Returns how many."""
    subscription.enabled, subscription.failures, subscription.disabled_after_failures = True, 0, None
    record("update", "webhook", subscription.id, summary=subscription.url, changes={"enabled": [False, True]})
    paused = list(db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status.in_(("paused", "scheduled")))))
    for delivery in paused:
        delivery.status, delivery.due_at = "scheduled", utcnow()
        outbox.reindex(delivery)
    return len(paused)


def attempts(subscription: WebhookSubscription, limit: int = LOG_SIZE) -> list[WebhookAttempt]:
    """The delivery log, newest first."""
    return list(db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.subscription_id == subscription.id)
                                   .order_by(WebhookAttempt.id.desc()).limit(limit)))


def waiting(subscription: WebhookSubscription) -> dict[str, int]:
    """How many deliveries wait, are paused or failed for good."""
    rows = db.session.execute(select(WebhookDelivery.status, db.func.count()).where(
        WebhookDelivery.subscription_id == subscription.id,
        WebhookDelivery.status.in_(("scheduled", "sending", "paused", "failed"))).group_by(WebhookDelivery.status))
    return dict(rows.all())


def replay(subscription: WebhookSubscription, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again now (same event id, so a receiver that has it can tell)."""
    delivery = db.session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id).with_for_update())
    if delivery is None:
        raise NotFound()
    if not subscription.enabled:
        raise Invalid({"replay": _("Enable the subscription first.")})
    if delivery.status in ("scheduled", "sending"):
        raise Invalid({"replay": _("This event is already on its way.")})
    delivery.status, delivery.due_at, delivery.claimed_at = "scheduled", utcnow(), None
    outbox.reindex(delivery)
    return delivery


def count_failure(subscription_id: int) -> None:
    """One more failed attempt in a row; at WEBHOOK_DISABLE_AFTER the subscription is switched off and the
    admins are emailed. The counter is raised under the row's lock, so two workers switch it off once."""
    limit = current_app.config["WEBHOOK_DISABLE_AFTER"]
    failures, enabled = db.session.execute(
        update(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
        .values(failures=WebhookSubscription.failures + 1)
        .returning(WebhookSubscription.failures, WebhookSubscription.enabled)).one()
    if enabled and failures >= limit:
        subscription = db.session.get(WebhookSubscription, subscription_id)
        db.session.refresh(subscription)
        subscription.enabled, subscription.disabled_after_failures = False, failures
        record("update", "webhook", subscription.id, summary=subscription.url, changes={"enabled": [True, False]})
        _tell_admins(subscription, failures)


def admins() -> list[Member]:
    """The active people whose role may change the workspace's settings (an integration reads no email)."""
    members = db.session.scalars(select(Member).where(Member.active, Member.kind == "person").order_by(Member.id))
    return [m for m in members if m.role.scope("settings", "edit") != "none"]


def _tell_admins(subscription: WebhookSubscription, failures: int) -> None:
    link = absolute_url("webhooks.show", slug=current_tenant().slug, subscription_id=subscription.id)
    for member in admins():
        notify_outbox.schedule(channel="email", kind="webhook_disabled", recipient=member.email, member_id=member.id,
                               key=f"webhook:{subscription.id}:disabled:{utcnow().isoformat()}:{member.id}",
                               language=locale_of(member)[:2],
                               payload={"url": subscription.url, "failures": failures, "link": link})
