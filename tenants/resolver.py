"""Where the tenant comes in: `/<slug>/...` URLs, resolved once per request from a small cache."""
import time
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, g, session
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db, login_manager
from tenants.models import Tenant, schema_name


@dataclass(frozen=True)
class TenantRef:
    """What a request needs to know of its tenant; safe to cache and share between requests."""

    id: int
    slug: str
    name: str
    status: str

    @property
    def schema(self) -> str:
        return schema_name(self.id)

    @property
    def active(self) -> bool:
        return self.status == "active"


_cache: dict[str, tuple[float, TenantRef | None]] = {}


def find_tenant(slug: str) -> TenantRef | None:
    """The tenant with this slug, from a per-process cache that expires after a few seconds."""
    now = time.monotonic()
    hit = _cache.get(slug)
    if hit and hit[0] > now:
        return hit[1]
    # A connection of its own, so the request's session transaction starts after the tenant is bound.
    with db.engine.connect() as connection:
        row = connection.execute(
            select(Tenant.id, Tenant.slug, Tenant.name, Tenant.status).where(Tenant.slug == slug)).first()
    tenant = TenantRef(*row) if row else None
    _cache[slug] = (now + current_app.config["TENANT_CACHE_SECONDS"], tenant)
    return tenant


def forget_tenant(slug: str) -> None:
    """Drop a tenant from this process's cache (after a suspension or a rename)."""
    _cache.pop(slug, None)


def pull_tenant(endpoint, values) -> None:
    """Bind the tenant named in the URL; 404 unless the signed-in account is an active member."""
    from crm.members.models import Member

    if values is None or "slug" not in values:
        return
    tenant = find_tenant(values.pop("slug"))
    if tenant is None:
        abort(404)
    g.tenant = tenant
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    member = db.session.scalar(select(Member).where(Member.account_id == current_user.id, Member.active))
    if member is None:
        abort(404)
    if not tenant.active:
        abort(403, description="suspended")
    g.member = member
    record_sign_in(tenant, member)


def record_sign_in(tenant: TenantRef, member) -> None:
    """The first request of a session in a tenant is its sign-in there, written to that tenant's audit log."""
    from crm.audit.service import record

    entered = session.get("entered_tenants", [])
    if tenant.id in entered:
        return
    record("login", "member", member.id, summary=member.name)
    db.session.commit()
    session["entered_tenants"] = [*entered, tenant.id]


def add_tenant(endpoint, values) -> None:
    """Fill in the current tenant's slug, so url_for() never has to name it."""
    if "slug" not in values and "tenant" in g and current_app.url_map.is_endpoint_expecting(endpoint, "slug"):
        values["slug"] = g.tenant.slug


def tenant_blueprint(name: str, import_name: str, path: str = "") -> Blueprint:
    """A blueprint whose routes all live under `/<slug>/path`."""
    bp = Blueprint(name, import_name, url_prefix=f"/<slug>{path}")
    bp.url_value_preprocessor(pull_tenant)
    bp.url_defaults(add_tenant)
    return bp
