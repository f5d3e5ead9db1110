"""Imports (schema `tenant`): one row per upload, its staged rows, and mappings saved for reuse."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, tenant_pk, utcnow

# What a file holds; all but customers link to customers (crm/imports/kinds.py).
KINDS = ("customers", "activities", "deals", "orders", "contacts")
STATUSES = ("uploaded", "checking", "checked", "importing", "done", "failed", "cancelled", "undone")
# What the set-based passes decide for each staged row (import_rows.action).
ACTIONS = ("create", "update", "unchanged", "error", "duplicate")


class Import(db.Model):
    __tablename__ = "imports"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    member_id: Mapped[int] = mapped_column(ForeignKey("tenant.members.id"))  # who imports (their scope applies)
    kind: Mapped[str] = mapped_column(String(20), default="customers")
    file_name: Mapped[str] = mapped_column(String(250))
    file_path: Mapped[str] = mapped_column(String(500))
    file_info: Mapped[dict] = mapped_column(JSONB, default=dict)  # what the reader sniffed: encoding, delimiter ...
    mapping: Mapped[dict] = mapped_column(JSONB, default=dict)  # {"<column index>": "<field key>"}
    options: Mapped[dict] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="uploaded")
    counts: Mapped[dict] = mapped_column(JSONB, default=dict)  # the check's or the import's result
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    errors_so_far: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportRow(db.Model):
    """A file's row as read (`cells`) and as it will be saved (`data`); written by COPY, decided by SQL."""

    __tablename__ = "import_rows"
    __table_args__ = (
        Index("ix_import_rows_customer", "customer_id", postgresql_where=text("customer_id IS NOT NULL")),
        {"schema": "tenant"},
    )

    import_id: Mapped[int] = mapped_column(ForeignKey("tenant.imports.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True)  # the file's line number (the header is line 1)
    cells: Mapped[list] = mapped_column(JSONB)
    data: Mapped[dict | None] = mapped_column(JSONB)
    match_key: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    # The customer matched or created: no foreign key, so a purged customer leaves the import's record intact.
    customer_id: Mapped[int | None]
    before: Mapped[dict | None] = mapped_column(JSONB)  # an updated customer as it was, for undo
    record_id: Mapped[int | None]  # the follow-up, deal or order a linked row created (no foreign key, as above)


class ImportMapping(db.Model):
    """A column mapping saved under a name, with its options, to reuse on the next file of the same shape."""

    __tablename__ = "import_mappings"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name: Mapped[str] = mapped_column(String(80), unique=True)
    mapping: Mapped[dict] = mapped_column(JSONB, default=dict)  # {"<header>": "<field key>"}
    options: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("tenant.members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
