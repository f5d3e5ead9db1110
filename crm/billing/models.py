"""Plans and each tenant's subscription state (public): what Stripe (or the operator) says, read by the limits."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, utcnow
from crm.names import in_language

FEATURES = ("campaigns", "api")  # what a plan may include besides its limits
STATUSES = ("trialing", "active", "past_due", "unpaid", "canceled")  # Stripe's names
LIMITS = ("seats", "customers", "storage_bytes", "sms_per_month")


class Plan(db.Model):
    """A plan the operator offers; a limit of None is unlimited. Edited as data (SQL or the console), never code."""

    __tablename__ = "plans"
    # Tenant transactions read their plan (the limits are checked inside them).
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT",)}}

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name_en: Mapped[str] = mapped_column(String(80))
    name_zh: Mapped[str] = mapped_column(String(80))
    stripe_price_monthly: Mapped[str | None] = mapped_column(String(100))
    stripe_price_yearly: Mapped[str | None] = mapped_column(String(100))
    stripe_price_metered: Mapped[str | None] = mapped_column(String(100))  # SMS past the credits, `metered` plans
    seats: Mapped[int | None]
    customers: Mapped[int | None]
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sms_per_month: Mapped[int | None]
    features: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)
    sms_beyond: Mapped[str] = mapped_column(String(10), default="hold")  # hold | metered (reported to Stripe, §2)
    trial_days: Mapped[int | None]  # a new sign-up tries the public plan that has them, without a card
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    public: Mapped[bool] = mapped_column(default=True, server_default=true())

    @property
    def name(self) -> str:
        """In the reader's language."""
        return in_language(self.name_en, self.name_zh)

    def limit(self, name: str) -> int | None:
        return getattr(self, name)

    def includes(self, feature: str) -> bool:
        return feature in self.features


class Subscription(db.Model):
    """A tenant's plan and state as stored: written by sign-up, the operator console and (next) Stripe's webhooks.
    What it means right now (a trial past its end, a grace period over) is read by `service.standing()`."""

    __tablename__ = "subscriptions"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT",)}}

    tenant_id: Mapped[int] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("public.plans.id"))
    status: Mapped[str] = mapped_column(String(12), default="trialing")
    trial_ends_at: Mapped[datetime | None]
    period_ends_at: Mapped[datetime | None]
    grace_ends_at: Mapped[datetime | None]  # past_due: writes stop after it
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    plan: Mapped[Plan] = relationship(lazy="joined", innerjoin=True)


class TenantUsage(db.Model):
    """The last count of a tenant's usage, for the operator console (counts only, never the data)."""

    __tablename__ = "tenant_usage"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ()}}

    tenant_id: Mapped[int] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"), primary_key=True)
    seats: Mapped[int] = mapped_column(default=0)
    customers: Mapped[int] = mapped_column(default=0)
    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sms_this_month: Mapped[int] = mapped_column(default=0)
    held_sms: Mapped[int] = mapped_column(default=0)
    last_activity_at: Mapped[datetime | None]
    counted_at: Mapped[datetime] = mapped_column(default=utcnow)


class BillingEvent(db.Model):
    """A webhook event from the platform's own Stripe account, stored once by its id, handled by a job that reads
    the subscription again from Stripe (crm/billing/stripe_sync.py)."""

    __tablename__ = "billing_events"
    __table_args__ = (Index("ix_billing_events_tenant_id", "tenant_id"),
                      {"schema": "public", "info": {"tenant_access": ()}})

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(255))  # data.object.id: the handler fetches it again
    tenant_id: Mapped[int | None]  # known once handled (the console's billing events)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Invoice(db.Model):
    """A workspace's Stripe invoice as last read from Stripe (invoice.* events and the nightly reconciliation)."""

    __tablename__ = "billing_invoices"
    __table_args__ = (Index("ix_billing_invoices_tenant_id", "tenant_id", "created_at"),
                      {"schema": "public", "info": {"tenant_access": ("SELECT",)}})

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"))
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # draft | open | paid | uncollectible | void
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    amount_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    hosted_invoice_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]


class SmsUsageReport(db.Model):
    """A batch of SMS past a metered plan's credits, reported to Stripe once: the batch is written before Stripe is
    told, so a retry sends the same `identifier` (Stripe counts an identifier once). `after` is how many SMS past
    the credits earlier batches of the month covered; it is unique, so two runs at once cannot both count the same
    messages."""

    __tablename__ = "sms_usage_reports"
    __table_args__ = (UniqueConstraint("tenant_id", "month", "after", name="uq_sms_usage_reports_batch"),
                      {"schema": "public", "info": {"tenant_access": ("SELECT",)}})

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"))
    month: Mapped[date]  # its first day, in the workspace's time zone
    after: Mapped[int]
    quantity: Mapped[int]
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
