"""Orders (schema `tenant`): orders, their lines and the history of their status."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Computed, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.models import Customer
from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member
from crm.products.models import Product

STATUSES = ("placed", "shipped", "received", "completed", "refund_requested", "refunded", "partially_refunded",
            "cancelled")
# The only moves the workflow allows. A refund may be asked for once the goods have left (shipped, received
# or completed); cancelling is only possible before shipping. A requested refund is made (refunded: the whole
# total; partially_refunded: less, the amount stored) or declined (back to received, from where the order can
# complete or a refund be asked for again). refunded, partially_refunded and cancelled are final.
MOVES = {
    "placed": ("shipped", "cancelled"),
    "shipped": ("received", "refund_requested"),
    "received": ("completed", "refund_requested"),
    "completed": ("refund_requested",),
    "refund_requested": ("refunded", "received"),
    "refunded": (),
    "partially_refunded": (),
    "cancelled": (),
}
# A refund is one move whatever its amount; the amount decides which of these the order becomes.
REFUNDS = ("refunded", "partially_refunded")
DECLINE = ("refund_requested", "received")  # the move that declines a requested refund
# Each tenant schema has its own id sequence, so the number is per tenant: SO-000001, SO-000002 ...
# (at least six digits, more once the ids need them). Computed by PostgreSQL: nothing to keep in step.
# An imported order keeps the number it had (imported_number; crm/imports refuses numbers of this form, which
# a later order's id would make again).
NUMBER_EXPRESSION = "coalesce(imported_number, 'SO-' || lpad(id::text, greatest(6, length(id::text)), '0'))"


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_owner", "owner_id", "id"),
        Index("ix_orders_customer", "customer_id", "id"),
        {"schema": "tenant"},
    )

    # Its own sequence, unlike the other tables' shared `ids`: people read the number made from it, which
    # counts 1, 2, 3 in each workspace.
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), Computed(NUMBER_EXPRESSION, persisted=True), unique=True)
    imported_number: Mapped[str | None] = mapped_column(String(20))  # the number an import brought, kept
    # Deleting a customer for good (from the trash) deletes their orders too, like their timeline.
    customer_id: Mapped[int] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"))
    # A contact of the customer: who ordered, told of the order's news (crm/contacts). No foreign key: removing a contact clears it
    # (crm/contacts/service.py), and a key would make every purge read this table once per contact.
    contact_id: Mapped[int | None]
    owner_id: Mapped[int] = mapped_column(ForeignKey("tenant.members.id"))  # the permission scope
    status: Mapped[str] = mapped_column(String(20), default="placed", index=True)
    currency: Mapped[str] = mapped_column(String(3))
    delivery_date: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    # Custom field values by key (Settings > Fields > Orders), validated by crm.fields.record_values.
    custom: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    # Computed by the service from the lines (Decimal, half-up to cents); never taken from the client.
    subtotal: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    discount_total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    refunded_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # set by the refund, at most the total
    # Paid online (crm/payments): the sum of its payments minus its refunds, kept by crm/payments/service.py.
    paid_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"), server_default=text("0"))
    # The public status link is HMAC(app secret, tenant.order.nonce): a new nonce makes a new link and
    # None revokes it. The nonce alone (a database leak) does not give the link.
    link_nonce: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)
    owner: Mapped[Member] = relationship(lazy="joined", innerjoin=True)
    lines: Mapped[list["OrderLine"]] = relationship(
        lazy="selectin", order_by="OrderLine.position", cascade="all, delete-orphan", back_populates="order")
    changes: Mapped[list["OrderStatusChange"]] = relationship(
        lazy="selectin", order_by="OrderStatusChange.id", cascade="all, delete-orphan")

    @property
    def next_moves(self) -> tuple[str, ...]:
        """The statuses this order may move to now."""
        return MOVES.get(self.status, ())


class OrderLine(db.Model):
    """A product or a free-text line; name and price are copied, so catalogue edits never change an order."""

    __tablename__ = "order_lines"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    order_id: Mapped[int] = mapped_column(ForeignKey("tenant.orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.products.id"))
    description: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0.00"))  # percent, 0-100
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship(lazy="joined")


class OrderStatusChange(db.Model):
    """One move of an order's status (the first row, from None to placed, is its creation)."""

    __tablename__ = "order_status_changes"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    order_id: Mapped[int] = mapped_column(ForeignKey("tenant.orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]  # members.id; kept as it was when the member is later removed
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str | None] = mapped_column(String(500))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # a refund's amount

    @property
    def declined(self) -> bool:
        """Whether this move declined a requested refund."""
        return (self.from_status, self.to_status) == DECLINE
