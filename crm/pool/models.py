"""The customer pool (schema `tenant`): recycle rules, the pool's list index, and the owner-change clock."""
from datetime import datetime

from sqlalchemy import Index, Integer, String, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from crm.customers.models import Customer
from crm.extensions import db, tenant_pk, utcnow

KINDS = ("no_follow_up", "no_won_deal")


class RecycleRule(db.Model):
    """Owned customers matching this rule go back to the pool: no follow-up, or no won deal, for `days` days."""

    __tablename__ = "recycle_rules"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # one of KINDS
    days: Mapped[int]
    warn_days_before: Mapped[int] = mapped_column(default=3)  # 0: no warning
    levels: Mapped[list[str]] = mapped_column(ARRAY(String(1)), default=list)  # empty: every level
    tag_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)  # empty: any tags; else any of them
    notify_manager: Mapped[bool] = mapped_column(default=False)  # the owner's team manager gets the warning too
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The pool list: live customers without an owner, most recently pooled first.
_table = Customer.__table__
Index("ix_customers_pool", _table.c.pooled_at.desc().nulls_last(), _table.c.id.desc(),
      postgresql_where=_table.c.owner_id.is_(None) & _table.c.deleted_at.is_(None))


@event.listens_for(Customer.owner_id, "set", active_history=True)
def _owner_changed(customer, owner_id, previous, _initiator):
    """Whoever changes the owner (pool, customer form, bulk action), the pool's clock follows: a new owner
    starts afresh (owned_since, no warning pending), no owner means the customer entered the pool now."""
    if owner_id == previous:
        return
    now = utcnow()
    customer.owned_since = now if owner_id is not None else None
    customer.recycle_warned_at = None
    if owner_id is None:
        customer.pooled_at = now
    else:
        customer.pooled_at, customer.pool_reason = None, None
