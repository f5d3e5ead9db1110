"""Outgoing webhooks: subscriptions, one delivery row per event and subscription (the webhooks' outbox), the
delivery log (one row per attempt), and the due index in `public` the sweeper reads."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, tenant_pk, utcnow

OPEN_STATUSES = ("scheduled", "sending")
# paused: its subscription was disabled before it went out; re-enabling sends it.
STATUSES = ("scheduled", "sending", "delivered", "failed", "paused")


class WebhookSubscription(db.Model):
    """An address that receives the chosen events, signed with its own secret."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    secret_enc: Mapped[str] = mapped_column(Text)  # AES-GCM (crm/crypto.py): needed in clear to sign
    enabled: Mapped[bool] = mapped_column(default=True)
    failures: Mapped[int] = mapped_column(default=0)  # failed attempts in a row, since the last success
    # Set when it was switched off after WEBHOOK_DISABLE_AFTER failures in a row (the page says so).
    disabled_after_failures: Mapped[int | None]
    created_by: Mapped[int | None]  # member id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one subscription: written in the transaction of the change, sent by the job."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription_id", "subscription_id", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    subscription_id: Mapped[int] = mapped_column(ForeignKey("tenant.webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))  # the payload's id, the same for every subscription
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]  # a worker took it for sending (a stale claim is a dead worker)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    subscription: Mapped[WebhookSubscription] = relationship()


class WebhookAttempt(db.Model):
    """The delivery log: what the receiver answered to one attempt."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_subscription_id", "subscription_id", "id"), {"schema": "tenant"})

    id: Mapped[int] = tenant_pk()
    delivery_id: Mapped[int] = mapped_column(ForeignKey("tenant.webhook_deliveries.id", ondelete="CASCADE"),
                                             index=True)
    subscription_id: Mapped[int]
    attempt: Mapped[int]
    status_code: Mapped[int | None]  # None: no answer (refused, timed out, unreachable)
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[int]
    response_excerpt: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    delivery: Mapped[WebhookDelivery] = relationship()

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookDue(db.Model):
    """(tenant, delivery, due time) for every delivery not yet delivered or given up."""

    __tablename__ = "webhook_due"
    # Written with the tenant's deliveries, in the tenant's transaction (crm/webhooks/outbox.py).
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT", "INSERT", "UPDATE", "DELETE")}}

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    enqueued_at: Mapped[datetime | None]
