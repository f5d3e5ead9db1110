"""A tenant's people (schema `tenant`): members and their roles."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, insert, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db, tenant_pk, utcnow
from crm.members.permissions import DEFAULT_ROLES
from tenants.provisioning import seeds_new_tenants


class Role(db.Model):
    __tablename__ = "roles"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    permissions: Mapped[dict] = mapped_column(JSONB, default=dict)
    pool_limit: Mapped[int | None]  # most customers a member may own through the pool; None: no limit

    def scope(self, resource: str, action: str) -> str:
        """none | own | team | subteams | all for this resource and action."""
        return self.permissions.get(resource, {}).get(action, "none")


class Team(db.Model):
    """A team or department; teams nest, and a manager's reach can include the sub-teams."""

    __tablename__ = "teams"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    name: Mapped[str] = mapped_column(String(80), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.teams.id"))
    # use_alter: teams and members point at each other, so this key is added after both tables exist.
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.members.id", use_alter=True, name="fk_teams_manager_id_members"))


# person: someone who signs in (an account) and holds a seat; integration: what an admin's integration token acts
# as (crm/api/tokens.py), with a role of its own, no account to sign in with, no seat.
MEMBER_KINDS = ("person", "integration")


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = {"schema": "tenant"}

    id: Mapped[int] = tenant_pk()
    # public.accounts.id (no FK leaves the tenant schema); None for an integration, which has no account.
    account_id: Mapped[int | None] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="person", server_default=text("'person'"))
    role_id: Mapped[int] = mapped_column(ForeignKey("tenant.roles.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.teams.id"))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164, for reminders by SMS
    # Where the member's reminders and digests go besides in-app: email, sms, and the workspace's chat bots.
    notify_channels: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=lambda: ["email"])
    calendar_nonce: Mapped[str | None] = mapped_column(String(32))  # signs the calendar feed link; None: no feed
    # {list: saved view id}: the view each list opens with (crm/saved_views). A column, not a table (issue 19).
    default_views: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))

    role: Mapped[Role] = relationship(lazy="joined")

    def can(self, resource: str, action: str) -> bool:
        return self.role.scope(resource, action) != "none"

    @property
    def is_person(self) -> bool:
        return self.kind == "person"


class Setting(db.Model):
    """A tenant-wide setting (currency, time zone, phone region, ...)."""

    __tablename__ = "settings"
    __table_args__ = {"schema": "tenant"}

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict] = mapped_column(JSONB)


DEFAULT_SETTINGS = {
    "currency": "CNY",
    "timezone": "Asia/Shanghai",
    "phone_region": "CN",
    "language": "zh",
    "week_start": "monday",
}


@seeds_new_tenants
def seed_roles_and_settings(in_schema: dict) -> None:
    """A new workspace's default roles (crm/members/permissions.py) and settings."""
    db.session.execute(insert(Role), [dict(role) for role in DEFAULT_ROLES], execution_options=in_schema)
    db.session.execute(insert(Setting), [{"key": k, "value": v} for k, v in DEFAULT_SETTINGS.items()],
                       execution_options=in_schema)
