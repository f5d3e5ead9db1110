"""The audit log (schema `tenant`): who did what to which record, when and from where."""
from datetime import datetime

from sqlalchemy import Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id", "id"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    actor_id: Mapped[int | None]  # members.id; kept when the member is later removed
    actor_name: Mapped[str] = mapped_column(String(120))
    ip: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(30))  # create, update, delete, restore, reveal, login ...
    entity: Mapped[str] = mapped_column(String(30))  # customer, tag, member, role, team, invitation, field ...
    entity_id: Mapped[int | None]
    summary: Mapped[str] = mapped_column(String(250), default="")
    changes: Mapped[dict] = mapped_column(JSONB, default=dict)  # {field: [before, after]}, sensitive values masked
