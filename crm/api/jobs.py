"""The hourly clean-up of the answers kept for Idempotency-Key retries (crm/api/core.py keeps them 24 hours): a
workspace whose integrations stopped sending keys still sheds them."""
from crm.api.core import remove_expired_answers
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job


@tenant_job
def remove_expired_idempotent() -> int:
    """Delete the workspace's kept answers past their 24 hours."""
    return remove_expired_answers()


@platform_job
def remove_expired_idempotent_all() -> int:
    """Queue one clean-up per active workspace (hourly, in cron)."""
    return enqueue_for_active_tenants(remove_expired_idempotent)
