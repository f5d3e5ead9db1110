"""What operators did to tenants (public): kept for the platform, never shown to a tenant."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, utcnow


class OperatorAction(db.Model):
    __tablename__ = "operator_actions"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ()}}

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("public.accounts.id", ondelete="SET NULL"))
    operator_email: Mapped[str] = mapped_column(String(254))  # kept when the account goes
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("public.tenants.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(40))  # suspend, restore, extend_trial, change_plan, grant_operator
    changes: Mapped[dict] = mapped_column(JSONB, default=dict)  # {field: [before, after]}
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
