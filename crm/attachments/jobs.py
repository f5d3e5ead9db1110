"""The hourly sweep of stored files no attachment names: those of records deleted for good (a purged customer's
files go with its rows by cascade) and of uploads whose transaction failed after the file was stored."""
from datetime import timedelta

from sqlalchemy import select

from crm.attachments.models import Attachment
from crm.attachments.service import workspace_storage
from crm.extensions import db, utcnow
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job

# An upload stores its files before its transaction commits: a younger file may belong to a row not yet visible.
GRACE = timedelta(hours=1)


@tenant_job
def sweep_files(grace_seconds: float = GRACE.total_seconds()) -> int:
    """Delete the workspace's stored files that no attachment names and that are older than the grace time;
    returns how many."""
    store = workspace_storage()
    named = set(db.session.scalars(select(Attachment.storage_key)))
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    orphans = [key for key, stored_at in store.keys() if key not in named and stored_at < cutoff]
    for key in orphans:
        store.delete(key)
    return len(orphans)


@platform_job
def sweep_files_all() -> int:
    """Queue one sweep per active workspace."""
    return enqueue_for_active_tenants(sweep_files)
