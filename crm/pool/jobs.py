"""Background work of the pool: the daily recycle run, per tenant, and the platform job that queues it."""
from sqlalchemy import select

from crm.extensions import db
from crm.jobs import enqueue_after_commit, platform_job
from crm.pool import service
from tenants.binding import tenant_bound
from tenants.models import Tenant
from tenants.service import tenant_ref


@platform_job
def recycle(tenant_id: int) -> dict | None:
    """Apply one tenant's recycle rules; None for a suspended tenant or while another run holds the tenant."""
    tenant = tenant_ref(tenant_id)
    if not tenant.active:
        return None
    with tenant_bound(tenant):
        if not service.lock_tenant_run():
            return None
        run = service.run_rules()
        return {"recycled": len(run.recycled), "warned": len(run.warned), "emails": run.emails}


@platform_job
def recycle_all_tenants() -> int:
    """Queue one recycle job per active tenant (after this job's commit); returns how many."""
    tenant_ids = db.session.scalars(select(Tenant.id).where(Tenant.status == "active").order_by(Tenant.id)).all()
    for tenant_id in tenant_ids:
        enqueue_after_commit(recycle, tenant_id)
    return len(tenant_ids)
