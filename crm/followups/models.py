"""Activities (schema `tenant`): follow-up plans and logged interactions with a customer or a deal."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow

METHOD_LABELS = {"call": _l("Call"), "email": _l("Email"), "visit": _l("Visit"), "sms": _l("SMS"),
                 "wechat": _l("WeChat"), "meeting": _l("Meeting"), "other": _l("Other")}
METHODS = tuple(METHOD_LABELS)
DEFAULT_REMINDER = 15  # minutes before a plan's due time: the form's choice unless changed, and an import's


class Activity(db.Model):
    """A follow-up: planned (due_at set, done_at empty until done) or logged (done when written)."""

    __tablename__ = "activities"
    __table_args__ = (
        # My day and the reminder sweep: an owner's open plans by due time.
        Index("ix_activities_open_due", "owner_id", "due_at", postgresql_where=text("done_at IS NULL")),
        Index("ix_activities_customer", "customer_id", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"))
    # A contact of the customer: who is called or met (crm/contacts). No foreign key: removing a contact clears it
    # (crm/contacts/service.py), and a key would make every purge read this table once per contact.
    contact_id: Mapped[int | None]
    deal_id: Mapped[int | None] = mapped_column(index=True)  # deals.id; a deal's delete clears it (no foreign key)
    owner_id: Mapped[int] = mapped_column(ForeignKey("tenant.members.id"))  # who does it
    method: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")  # what to do, or what was done
    due_at: Mapped[datetime | None]  # planned time; None for a logged interaction
    remind_minutes: Mapped[int | None]  # reminder this long before due_at; None: no reminder (DEFAULT_REMINDER)
    done_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None]  # members.id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def planned(self) -> bool:
        return self.due_at is not None
