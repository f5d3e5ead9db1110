"""Login identities (public schema): one per email, possibly in several tenants."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, utcnow


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"
    # Tenant requests load the signed-in account (Flask-Login) after the tenant is bound.
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT",)}}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(20), default="en")
    # Bumped on logout-everywhere and password change: every session carrying an older number ends.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class OutboundEmail(db.Model):
    """A platform email (password reset, invitation) waiting for or past delivery."""

    __tablename__ = "outbound_emails"
    # Tenant jobs queue platform emails (the pool's warnings); they never read them: reset links are in here.
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("INSERT", "SELECT (id)")}}

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str]
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | sent | failed | outbox
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
