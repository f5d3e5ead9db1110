"""An account's second factor (public schema): its TOTP secret and its recovery codes."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from crm.accounts.models import Account
from crm.extensions import db, utcnow


class TwoFactor(db.Model):
    """The account has two-step sign-in when it has this row."""

    __tablename__ = "two_factor"
    __table_args__ = {"schema": "public", "info": {"tenant_access": ("SELECT",)}}  # joined to the signed-in account

    account_id: Mapped[int] = mapped_column(ForeignKey("public.accounts.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(200))  # AES-GCM token (crm/crypto.py), bound to the account
    # The time step (unix time // 30) of the last code accepted: that code and older ones never work again.
    last_step: Mapped[int | None]
    enabled_at: Mapped[datetime] = mapped_column(default=utcnow)
    # `account.second_factor` comes in the same query as the signed-in account (a join), so a workspace request
    # knows whether the account has a second factor without asking the database again.
    account: Mapped[Account] = relationship(backref=backref("second_factor", lazy="joined", uselist=False))


class RecoveryCode(db.Model):
    """A one-time code for when the authenticator is lost, stored as a keyed hash (crm.crypto.blind_index)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("account_id", "code_hash"), {"schema": "public", "info": {"tenant_access": ()}})

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("public.accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
