"""Tickets and their comments (schema `tenant`)."""
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.models import Customer
from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member

KINDS = ("complaint", "inquiry", "repair", "other")
PRIORITIES = ("urgent", "high", "normal", "low")  # most urgent first: the queue sorts by this position
STATUSES = ("open", "pending", "resolved", "closed")
ACTIVE = ("open", "pending")  # still waiting for us: these can be overdue
MOVES = {"open": ("pending", "resolved"), "pending": ("open", "resolved"), "resolved": ("open", "closed"),
         "closed": ()}
DUE_AFTER = {"urgent": timedelta(hours=4), "high": timedelta(days=1), "normal": timedelta(days=3),
             "low": timedelta(days=7)}


class Ticket(db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        Index("ix_tickets_owner_queue", "owner_id", "status", "due_at"),
        {"schema": "tenant"},
    )

    # Its own sequence, unlike the other tables' shared `ids`: people read the number made from it, which
    # counts 1, 2, 3 in each workspace.
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"), index=True)
    # A contact of the customer: who asked, sent the replies (crm/contacts). No foreign key: removing a contact clears it
    # (crm/contacts/service.py), and a key would make every purge read this table once per contact.
    contact_id: Mapped[int | None]
    order_id: Mapped[int | None]  # orders.id; no foreign key, so a ticket never blocks an order's deletion
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="inquiry")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.members.id"))  # the assignee; None = unassigned
    due_at: Mapped[datetime]
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)  # the customer's, through the link (survey.py)
    satisfaction_comment: Mapped[str | None] = mapped_column(String(1000))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    owner: Mapped[Member | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    created_by: Mapped[Member | None] = relationship(foreign_keys=[created_by_id])
    customer: Mapped[Customer] = relationship()

    @property
    def number(self) -> str:
        """The ticket's number: its id, which each tenant's own sequence gives."""
        return f"TK-{self.id:06d}"

    @property
    def overdue(self) -> bool:
        return self.status in ACTIVE and self.due_at < utcnow()


class TicketComment(db.Model):
    __tablename__ = "ticket_comments"
    __table_args__ = (
        Index("ix_ticket_comments_ticket", "ticket_id", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tenant.tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int | None]  # members.id; the name is kept beside it
    author_name: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text)
    # False: a reply to the customer, sent with it through the outbox (crm/tickets/messages.py).
    internal: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship()
