"""How much of its plan a workspace uses: seats, customers, file storage, SMS this month; and the counts the
operator console reads (kept in public.tenant_usage by an hourly job: counts only, never the data)."""
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from crm.attachments.service import storage_used
from crm.audit.models import AuditEntry
from crm.billing.models import TenantUsage
from crm.billing.sms import sms_held, sms_sent_this_month
from crm.customers.writes import live_customers
from crm.extensions import db, utcnow
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job
from crm.members.service import seats_taken
from tenants.binding import current_tenant


def usage() -> dict[str, int]:
    """Each limit's use in the bound workspace, by the plan's limit names."""
    return {"seats": seats_taken(), "customers": live_customers(), "storage_bytes": storage_used(),
            "sms_per_month": sms_sent_this_month()}


def last_activity():
    return db.session.scalar(select(func.max(AuditEntry.at)))


@tenant_job
def count_usage() -> None:
    """Keep the bound workspace's counts for the operator console."""
    counts = usage()
    values = {"seats": counts["seats"], "customers": counts["customers"], "storage_bytes": counts["storage_bytes"],
              "sms_this_month": counts["sms_per_month"], "held_sms": sms_held(), "last_activity_at": last_activity(),
              "counted_at": utcnow()}
    # public.tenant_usage is the platform's: written on a connection of its own, outside the tenant's role.
    with db.engine.begin() as connection:
        connection.execute(insert(TenantUsage).values(tenant_id=current_tenant().id, **values)
                           .on_conflict_do_update(index_elements=["tenant_id"], set_=values))


@platform_job
def count_usage_all() -> int:
    """Count every active workspace's usage (hourly, crm/cron.py)."""
    return enqueue_for_active_tenants(count_usage)
