"""Operator actions on tenants: look up, list, suspend and restore; and a tenant's own: its name."""
from sqlalchemy import func, select, update

from crm.extensions import db
from tenants.models import Membership, Tenant
from tenants.resolver import TenantRef, forget_tenant
from tenants.roles import as_login_role


def tenant_ref(tenant_id: int) -> TenantRef:
    """A TenantRef for a job or command, looked up by id (public schema)."""
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    return TenantRef(tenant.id, tenant.slug, tenant.name, tenant.status)


def ref_of(tenant: Tenant) -> TenantRef:
    return TenantRef(tenant.id, tenant.slug, tenant.name, tenant.status)


def list_tenants() -> list[tuple[Tenant, int]]:
    """Every tenant with its member count, oldest first."""
    stmt = (select(Tenant, func.count(Membership.id)).outerjoin(Membership, Membership.tenant_id == Tenant.id)
            .group_by(Tenant.id).order_by(Tenant.id))
    return list(db.session.execute(stmt).tuples())


def set_status(tenant: Tenant, status: str) -> None:
    """Suspend or restore a tenant; this process forgets it at once, others within a second of the commit."""
    tenant.status = status
    forget_tenant(tenant.slug)


def slug_taken(slug: str) -> bool:
    return db.session.scalar(select(func.count()).where(Tenant.slug == slug)) > 0


def rename_tenant(tenant: TenantRef, name: str) -> None:
    """Give the bound tenant a new name, in its own transaction. Tenant roles may not touch `public.tenants` (one
    could rename another), so this one statement, keyed by the bound tenant's id, runs as the app's login role.
    This process forgets the cached name at once; others show the new one within a second of the commit."""
    with as_login_role():
        db.session.execute(update(Tenant).where(Tenant.id == tenant.id).values(name=name))
    forget_tenant(tenant.slug)
