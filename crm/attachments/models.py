"""Attachments (schema `tenant`): a file kept with a customer, deal, order, ticket, ticket comment or follow-up.

Exactly one record column is set besides `customer_id`, which every file of a customer's records also carries:
deleting a record for good (a purged customer cascades to its deals, orders and tickets) deletes its rows here,
and the hourly sweep (crm/attachments/jobs.py) removes stored files no row names any more.
"""
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from crm.extensions import db, tenant_pk, utcnow


class Attachment(db.Model):
    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_customer", "customer_id", "id"),
        Index("ix_attachments_deal", "deal_id"),
        Index("ix_attachments_order", "order_id"),
        Index("ix_attachments_ticket", "ticket_id"),
        Index("ix_attachments_activity", "activity_id"),
        Index("ix_attachments_ticket_comment", "ticket_comment_id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    kind: Mapped[str] = mapped_column(String(20))  # a key of crm.attachments.kinds.KINDS: whose file it is
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.deals.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.orders.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.tickets.id", ondelete="CASCADE"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.activities.id", ondelete="CASCADE"))
    ticket_comment_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.ticket_comments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))  # the uploader's file name, cleaned; shown and downloaded as
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(120))  # told from the content, never from the name
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(40))  # crm/storage.py: 128 random bits, never the name
    thumbnail: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))  # a small PNG made by Pillow, images only
    has_thumbnail: Mapped[bool] = mapped_column(default=False)  # so a list need not load the thumbnails
    uploaded_by_id: Mapped[int | None]  # members.id
    uploaded_by_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def record_id(self) -> int:
        return getattr(self, f"{self.kind}_id")
