"""Sales targets (schema `tenant`): one row per member or team and month, and the index their actuals need."""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow
from crm.followups.models import Activity

MONEY = ("won_amount", "order_revenue")
COUNTS = ("new_customers", "follow_ups")
MEASURES = MONEY + COUNTS


class SalesTarget(db.Model):
    """A month's targets of one member or one team. A month without a row of its own uses the latest earlier
    row (read so, never copied by a job); a row whose measures are all empty means "no targets" from then on."""

    __tablename__ = "sales_targets"
    __table_args__ = (
        CheckConstraint("(member_id IS NULL) <> (team_id IS NULL)", name="one_subject"),
        Index("ix_sales_targets_member", "member_id", "month", unique=True,
              postgresql_where=text("member_id IS NOT NULL")),
        Index("ix_sales_targets_team", "team_id", "month", unique=True, postgresql_where=text("team_id IS NOT NULL")),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    month: Mapped[date]  # the first day of the month, in the workspace's calendar
    member_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.members.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.teams.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))  # the workspace's when set: amounts are never converted
    won_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    order_revenue: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    new_customers: Mapped[int | None]
    follow_ups: Mapped[int | None]
    updated_by: Mapped[int | None]  # members.id
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Follow-ups done per owner and month (the actuals): the open-plans index covers only what is not done.
_activities = Activity.__table__
Index("ix_activities_owner_done", _activities.c.owner_id, _activities.c.done_at,
      postgresql_where=_activities.c.done_at.isnot(None))
