"""API tokens and the answers kept for Idempotency-Key retries (schema `tenant`)."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, tenant_pk, utcnow
from crm.members.models import Member


class ApiToken(db.Model):
    """A member's personal token: the API acts as that member. Only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    member_id: Mapped[int] = mapped_column(ForeignKey("tenant.members.id"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # the secret's last characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(lazy="joined")

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class IdempotentRequest(db.Model):
    """The first answer to a POST with an Idempotency-Key, replayed when the same token retries it."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (
        UniqueConstraint("token_id", "key", name="uq_api_idempotent_requests_token_id"),
        Index("ix_api_idempotent_requests_created_at", "created_at"),
        {"schema": "tenant"},
    )

    id: Mapped[int] = tenant_pk()
    token_id: Mapped[int] = mapped_column(ForeignKey("tenant.api_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # method, path and body: a key reused for another request
    status: Mapped[int]
    body: Mapped[dict] = mapped_column(JSONB)
    location: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
