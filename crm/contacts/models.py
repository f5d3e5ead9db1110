"""Contacts (schema `tenant`): the people of a customer, each reachable on their own."""
from datetime import datetime

from sqlalchemy import Computed, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm.customers.models import grams_expression
from crm.extensions import db, tenant_pk, utcnow

# As customers' (crm/customers/models.py): phones without "+" and China's +86, so "138..." finds "+86138...".
SEARCH_EXPRESSION = (
    "lower(coalesce(name, '') || ' ' || regexp_replace(coalesce(mobile, ''), '^[+](86)?', '') || ' ' "
    "|| regexp_replace(coalesce(phone, ''), '^[+](86)?', '') || ' ' || coalesce(email, '') || ' ' "
    "|| coalesce(wechat, ''))"
)


class Contact(db.Model):
    """A person at a customer: who is called, who ordered, who asked. Visible and editable exactly as far as their
    customer is (crm/contacts/service.py); deleted with the customer when it is deleted for good."""

    __tablename__ = "contacts"
    __table_args__ = (
        # The customer page's contacts, primary first (crm/contacts/service.py `of_customer`); cascade on purge.
        Index("ix_contacts_customer", "customer_id"),
        # Global search (crm/search/service.py `_contacts`): any substring, Chinese too, as customers' grams.
        Index("ix_contacts_search_grams", "search_grams", postgresql_using="gin",
              postgresql_with={"fastupdate": "off"}),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    customer_id: Mapped[int] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(80))
    mobile: Mapped[str | None] = mapped_column(String(20))  # E.164
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164: an office line
    email: Mapped[str | None] = mapped_column(String(254))
    wechat: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None]
    # The one the customer's messages go to when nobody else is chosen (one per customer: the service keeps it).
    is_primary: Mapped[bool] = mapped_column(default=False)
    marketing_opt_out_at: Mapped[datetime | None]  # no campaign reaches this person any more
    search_text: Mapped[str] = mapped_column(Computed(SEARCH_EXPRESSION, persisted=True), deferred=True)
    search_grams: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed(grams_expression(SEARCH_EXPRESSION), persisted=True), deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

