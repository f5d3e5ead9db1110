"""Login identities (public schema): one per email, possibly in several tenants."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from crm.accounts.devices import device_label
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # May open the operator console (/platform), given by `flask platform grant-operator EMAIL`.
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=false())

    # The secret token of the sign-in this request came with (never stored: the table keeps its hash). Set by
    # crm/accounts/sessions.py; Flask-Login keeps what get_id() answers in the cookie.
    session_token = None

    def get_id(self) -> str | None:
        return self.session_token


class AccountSession(db.Model):
    """One sign-in of an account in one browser, live until it is ended or times out."""

    __tablename__ = "account_sessions"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT",)}}  # the user loader

    # SHA-256 of the cookie's random token: a copy of this table opens no session.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("public.accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ip: Mapped[str] = mapped_column(String(45))  # the longest IPv6 text form
    user_agent: Mapped[str] = mapped_column(String(300))

    @property
    def device(self) -> str:
        return device_label(self.user_agent)


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
