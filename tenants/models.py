"""Platform tables in `public`: the tenants and which accounts belong to them."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db, utcnow


class Tenant(db.Model):
    __tablename__ = "tenants"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ()}}

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | suspended
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def schema(self) -> str:
        """The tenant's schema name; built from the id only, never from user input."""
        return schema_name(self.id)


def schema_name(tenant_id: int) -> str:
    return f"t_{int(tenant_id)}"


class Membership(db.Model):
    """An account's access to a tenant; the tenant's own `members` row holds role and profile."""

    __tablename__ = "memberships"
    # An invitation is accepted inside the tenant's transaction (crm/members/service.accept).
    __table_args__ = (UniqueConstraint("account_id", "tenant_id"),
                      {"schema": "public", "info": {"tenant_access": ("SELECT", "INSERT")}})

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("public.accounts.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(db.Model):
    """An invitation to join a tenant. Public, because the invitee has no membership to resolve it with."""

    __tablename__ = "invitations"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT", "INSERT", "UPDATE")}}  # members settings

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("public.tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120), default="")
    role_id: Mapped[int]  # roles.id in the tenant's schema
    team_id: Mapped[int | None]  # teams.id in the tenant's schema
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the emailed token
    invited_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at < utcnow() else "pending"


class SpareSchema(db.Model):
    """A tenant schema built ahead of time (tenants/spares.py) for a reserved tenant id, waiting for a sign-up."""

    __tablename__ = "spare_schemas"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ()}}

    tenant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    head: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
