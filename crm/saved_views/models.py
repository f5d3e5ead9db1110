"""Saved views of the lists (customers, deals, orders, tickets); each member's default view per list is kept on the
member (`members.default_views`)."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member


class SavedView(db.Model):
    """A list's filters, sort and columns under a name: the list's own query-string arguments, as it writes them.

    `names` keeps what the tags and custom fields the arguments name were called when saved ({"tag:5": "VIP",
    "cf_region": "Region"}), so that a view naming one deleted since can say which filter it lost."""

    __tablename__ = "saved_views"
    __table_args__ = {"schema": "tenant"}  # a few dozen rows: no index beyond the key (issue 19)

    id: Mapped[int] = tenant_pk()
    list: Mapped[str] = mapped_column(String(20))  # the list's registry name: customers, deals, orders, tickets
    name: Mapped[str] = mapped_column(String(60))
    owner_id: Mapped[int] = mapped_column(ForeignKey("tenant.members.id", ondelete="CASCADE"))
    shared: Mapped[bool] = mapped_column(default=False)  # seen by the whole workspace, else by its owner only
    query: Mapped[dict] = mapped_column(JSONB, default=dict)  # {argument: [values]}
    names: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[Member] = relationship()

