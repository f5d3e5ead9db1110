"""Timeline events (schema `tenant`): one row per thing that happened with a customer or a deal."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow


class TimelineEvent(db.Model):
    __tablename__ = "timeline_events"
    __table_args__ = (
        # A timeline is newest first by the time things happened (an import adds older ones later), then by id.
        Index("ix_timeline_events_customer", "customer_id", "at", "id"),
        Index("ix_timeline_events_deal", "deal_id", "at", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None]  # deals.id; the deal's own delete removes its events
    kind: Mapped[str] = mapped_column(String(40))  # a key of crm.timeline.service.KINDS
    actor_id: Mapped[int | None]  # members.id; None for the system (recycle job, public links)
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)  # values for the kind's sentence, links
