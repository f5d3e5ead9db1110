"""Campaigns (schema `tenant`): one message to an audience of customers, sent in batches through the outbox."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member

CHANNELS = ("email", "sms")
LANGUAGES = ("en", "zh")
# Who of each customer in the audience is written to: the customer's own address, its primary contact (else the
# customer), or each of its contacts (the customer itself when it has none).
RECIPIENTS = ("customers", "primary", "contacts")
STATUSES = ("draft", "scheduled", "sending", "done", "cancelled")
EDITABLE_STATUSES = ("draft", "scheduled")


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(10), default="email")
    recipients: Mapped[str] = mapped_column(String(10), default="customers", server_default="customers")
    language: Mapped[str] = mapped_column(String(12), default="en")  # the language it is written in
    subject: Mapped[str] = mapped_column(String(200), default="")  # email only
    body: Mapped[str] = mapped_column(Text)
    # The customer list's filter arguments ({"tag": ["3"], "level": ["A"], "cf_city": ["sh"], ...}): the
    # audience is exactly what the list shows for them, within the creator's customers/view scope.
    audience: Mapped[dict] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    send_at: Mapped[datetime | None]  # when sending starts (scheduled), or started (send now)
    owner_id: Mapped[int] = mapped_column(ForeignKey("tenant.members.id"))  # who created it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)  # also each batch: a heartbeat
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]  # every audience member was queued (or counted as not reachable)
    cancelled_at: Mapped[datetime | None]
    # Expansion progress: the last customer id handled (keyset), so a restarted job goes on from there.
    cursor: Mapped[int] = mapped_column(default=0)
    audience_total: Mapped[int | None]  # how many matched when sending started
    queued: Mapped[int] = mapped_column(default=0)  # messages put in the outbox
    opted_out: Mapped[int] = mapped_column(default=0)  # customers left out: unsubscribed from marketing
    no_address: Mapped[int] = mapped_column(default=0)  # customers left out: no email / phone for the channel

    owner: Mapped[Member] = relationship(lazy="joined")

    @property
    def source(self) -> str:
        """The outbox `source` of its messages (outbox.cancel(source) stops them)."""
        return f"campaign:{self.id}"
