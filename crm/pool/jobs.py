"""Background work of the pool: the daily recycle run, per tenant, and the platform job that queues it."""
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job
from crm.pool.recycle import lock_tenant_run, run_rules


@tenant_job
def recycle() -> dict | None:
    """Apply the tenant's recycle rules; None while another run holds the tenant."""
    if not lock_tenant_run():
        return None
    run = run_rules()
    return {"recycled": len(run.recycled), "warned": len(run.warned), "emails": run.emails}


@platform_job
def recycle_all_tenants() -> int:
    """Queue one recycle job per active tenant (after this job's commit); returns how many."""
    return enqueue_for_active_tenants(recycle)
