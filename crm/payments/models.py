"""Order payments (schema `tenant`): what the customer paid through the tenant's own Stripe account, what was
refunded, and each Stripe event received once."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow

KINDS = ("payment", "refund")


class Payment(db.Model):
    """A payment (a succeeded Stripe payment intent) or a refund of one, recorded once by its Stripe id.

    An order's paid amount (`orders.paid_amount`) is the sum of its payments minus the sum of its refunds."""

    __tablename__ = "order_payments"
    __table_args__ = (Index("ix_order_payments_order", "order_id", "id"), {"schema": "tenant"})

    id: Mapped[int] = tenant_pk()
    order_id: Mapped[int] = mapped_column(ForeignKey("tenant.orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # payment | refund
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # above zero, in `currency` (the order's)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(30))  # card, alipay, wechat_pay ...: a refund keeps its payment's
    # pi_... for a payment, re_... for a refund: the unique key that makes every recording happen once.
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent: Mapped[str] = mapped_column(String(255))  # a refund's: the payment it gives back
    checkout_session: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(500))  # a refund's, as the member gave it
    actor_name: Mapped[str] = mapped_column(String(120), default="")  # who refunded in the CRM; "" for Stripe
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeEvent(db.Model):
    """A webhook event from the tenant's Stripe account, stored once by its id, handled by a job."""

    __tablename__ = "stripe_events"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(255))  # data.object.id: the handler fetches it again
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)  # the last failure of its job, shown until it succeeds
