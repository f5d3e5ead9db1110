"""Pipelines, their stages, deals and the deals' stage history (schema `tenant`)."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, Numeric, String, Text, insert, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.models import Customer, grams_expression
from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member
from crm.names import both, in_language
from tenants.provisioning import seeds_new_tenants

KINDS = ("open", "won", "lost")
STATUSES = KINDS  # a deal's status is the kind of its stage
TITLE_GRAMS = grams_expression("lower(title)")

DEFAULT_PIPELINE = {"name_en": "Sales", "name_zh": "销售"}
DEFAULT_STAGES = (
    {"name_en": "Lead", "name_zh": "线索", "probability": 10, "kind": "open"},
    {"name_en": "Qualified", "name_zh": "已确认", "probability": 25, "kind": "open"},
    {"name_en": "Proposal", "name_zh": "方案", "probability": 50, "kind": "open"},
    {"name_en": "Negotiation", "name_zh": "谈判", "probability": 75, "kind": "open"},
    {"name_en": "Won", "name_zh": "赢单", "probability": 100, "kind": "won"},
    {"name_en": "Lost", "name_zh": "输单", "probability": 0, "kind": "lost"},
)


class Pipeline(db.Model):
    __tablename__ = "pipelines"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name_en: Mapped[str] = mapped_column(String(60), default="")  # either name may be empty, not both
    name_zh: Mapped[str] = mapped_column(String(60), default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def name(self) -> str:
        """The name in the reader's language, else the other one."""
        return in_language(self.name_en, self.name_zh)


class Stage(db.Model):
    __tablename__ = "stages"
    __table_args__ = (
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("tenant.pipelines.id"))
    name_en: Mapped[str] = mapped_column(String(60), default="")  # either name may be empty, not both
    name_zh: Mapped[str] = mapped_column(String(60), default="")
    position: Mapped[int] = mapped_column(default=0)
    probability: Mapped[int] = mapped_column(default=0)  # percent, 0-100
    kind: Mapped[str] = mapped_column(String(10), default="open")  # open | won | lost
    active: Mapped[bool] = mapped_column(default=True)  # False: retired, kept for history

    @property
    def name(self) -> str:
        """The name in the reader's language, else the other one."""
        return in_language(self.name_en, self.name_zh)

    @property
    def names(self) -> dict[str, str]:
        """Both names, for timeline events read later in either language."""
        return both(self.name_en, self.name_zh)


class Deal(db.Model):
    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
        # The board: one column is (pipeline, stage), newest first.
        Index("ix_deals_board", "pipeline_id", "stage_id", "status", "id"),
        Index("ix_deals_customer", "customer_id", "id"),
        Index("ix_deals_owner", "owner_id", "status"),
        # The global search's "title contains" (crm/search): as the customers' search grams, without it LIKE
        # '%q%' reads every deal (migration t0037, docs/benchmarks.md).
        Index("ix_deals_title_grams", "title_grams", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    title: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("tenant.customers.id", ondelete="CASCADE"))
    # A contact of the customer: the person at the customer the deal is with (crm/contacts). No foreign key: removing a contact clears it
    # (crm/contacts/service.py), and a key would make every purge read this table once per contact.
    contact_id: Mapped[int | None]
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("tenant.pipelines.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("tenant.stages.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3))
    expected_close: Mapped[date | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.members.id"))
    probability: Mapped[int] = mapped_column(default=0)
    probability_set: Mapped[bool] = mapped_column(default=False)  # True: typed by a person, not the stage's
    source: Mapped[str | None] = mapped_column(String(60))
    notes: Mapped[str | None]
    custom: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(10), default="open")  # the stage's kind
    lost_reason: Mapped[str | None] = mapped_column(String(250))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Unigrams and bigrams of the lower-cased title (crm/customers/models.grams_expression), GIN-indexed.
    title_grams: Mapped[list[str]] = mapped_column(ARRAY(Text), Computed(TITLE_GRAMS, persisted=True), deferred=True)

    customer: Mapped[Customer] = relationship()
    owner: Mapped[Member | None] = relationship()
    stage: Mapped[Stage] = relationship()
    pipeline: Mapped[Pipeline] = relationship()


class DealStageChange(db.Model):
    """One move of a deal between stages: the history behind funnel and stage-time reports."""

    __tablename__ = "deal_stage_changes"
    __table_args__ = (
        Index("ix_deal_stage_changes_deal", "deal_id", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    deal_id: Mapped[int] = mapped_column(ForeignKey("tenant.deals.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.stages.id"))  # None: the deal was created
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("tenant.stages.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]  # members.id


@seeds_new_tenants
def seed_default_pipeline(in_schema: dict) -> None:
    """A new workspace's Sales pipeline with its six stages."""
    pipeline_id = db.session.scalar(insert(Pipeline).values(**DEFAULT_PIPELINE).returning(Pipeline.id),
                                    execution_options=in_schema)
    db.session.execute(insert(Stage), [{**stage, "pipeline_id": pipeline_id, "position": position}
                                       for position, stage in enumerate(DEFAULT_STAGES)], execution_options=in_schema)
