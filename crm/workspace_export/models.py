"""Workspace exports (schema `tenant`): one row per archive an admin had written ("Export everything"), so the
Data page lists the member's own exports and the cleanup knows what to delete and when."""
from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow


class WorkspaceExport(db.Model):
    __tablename__ = "workspace_exports"
    __table_args__ = {"schema": "tenant"}  # a few rows (archives expire): read whole, no index (issue 19)

    id: Mapped[int] = tenant_pk()
    storage_key: Mapped[str] = mapped_column(String(40))  # crm/storage.py (128 random bits), namespace exports/<schema>
    member_id: Mapped[int]  # members.id: only this member may download it (what they may reveal is in it)
    member_name: Mapped[str] = mapped_column(String(120), default="")
    bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int]
    files: Mapped[int]
    revealed: Mapped[bool] = mapped_column(default=False)  # sensitive values in full for at least some records
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
