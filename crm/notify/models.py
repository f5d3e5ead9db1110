"""The outbox: one `notifications` row per message (schema `tenant`), a small due index in `public` so the
sweeper never scans every tenant schema, message templates per tenant, and the development outbox."""
from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow

BOT_CHANNELS = ("wecom", "dingtalk", "feishu", "webhook")  # group chat bots and the signed webhook
CHANNELS = ("email", "sms", "inapp", *BOT_CHANNELS)
STATUSES = ("scheduled", "queued", "sending", "sent", "failed", "cancelled")
OPEN_STATUSES = ("scheduled", "queued", "sending")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_notifications_source", "source", postgresql_where=text("status IN ('scheduled', 'queued')")),
        Index("ix_notifications_inbox", "member_id", "id", postgresql_where=text("channel = 'inapp'")),
        Index("ix_notifications_status", "status", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))  # reminder, order_status, campaign, quiet_customers, digest ...
    recipient: Mapped[str] = mapped_column(String(500))  # email, E.164 phone, bot URL key, or member id
    member_id: Mapped[int | None]  # the staff member it is for (reminders, digests, in-app)
    customer_id: Mapped[int | None]  # the customer it is for (order status, campaigns)
    campaign_id: Mapped[int | None] = mapped_column(index=True)
    language: Mapped[str] = mapped_column(String(12), default="en")
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)  # the template's variables
    source: Mapped[str | None] = mapped_column(String(60))  # what caused it, e.g. "activity:12"
    idempotency_key: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    # Put off by the workspace's quiet hours (due_at is their end): saving the quiet hours moves it again.
    held_by_quiet_hours: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An SMS past the plan's monthly credits (crm/billing), due again at the next month or when the limit rises.
    held_by_credits: Mapped[bool] = mapped_column(default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]  # when a worker took it for sending (a stale claim is a dead worker)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]  # in-app only


class NotificationDue(db.Model):
    """(tenant, notification, due time) for every message not yet sent, failed or cancelled."""

    __tablename__ = "notification_due"
    # Written with the tenant's notifications, in the tenant's transaction (crm/notify/outbox.py).
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT", "INSERT", "UPDATE", "DELETE")}}

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    enqueued_at: Mapped[datetime | None]  # when a send job was last handed to RQ


class DevMessage(db.Model):
    """In development every email, SMS and bot message lands here instead of leaving the machine."""

    __tablename__ = "dev_messages"
    # Written by the send job, in the tenant's transaction; read by the dev outbox page, outside it.
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("INSERT", "SELECT (id)")}}

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
