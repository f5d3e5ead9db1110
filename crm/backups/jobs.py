"""Backup jobs: the nightly backup of every workspace (cron, hourly: each workspace once a day, after BACKUP_HOUR in
its own time zone), "Back up now", and the admin's restores (as a new workspace, or over the workspace).

A restore runs as a platform job, never in the workspace's own transaction: it reserves a tenant id and builds a
schema, which the workspace's role may not. Its outcome is the job's result, {"ok": message} or {"error": message},
which the Data page's progress shows; the job's meta names the tenant, so another workspace never sees it."""
import re
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from rq.exceptions import NoSuchJobError
from rq.job import Job

from crm.backups import service
from crm.errors import Invalid
from crm.extensions import db, redis_connection
from crm.jobs import enqueue_for_active_tenants, platform_job, queue, tenant_job
from crm.members.models import Member
from crm.settings import workspace_zone
from tenants.backup import BackupRefused
from tenants.binding import current_tenant, tenant_bound
from tenants.resolver import tenant_by_id

QUEUE = "exports"  # long data work (exports, backups), served by the worker of scripts/run.py
JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@tenant_job
def nightly_backup() -> str | None:
    """Today's backup of the bound workspace, once its BACKUP_HOUR has passed and none was taken today (both in its
    own time zone); returns the new backup's key, or None."""
    tenant, zone = current_tenant(), workspace_zone()
    now = datetime.now(zone)
    if now.hour < current_app.config["BACKUP_HOUR"]:
        return None
    stored = service.backup_storage(tenant.schema).keys()
    if any(stored_at.astimezone(zone).date() == now.date() for _key, stored_at in stored):
        return None
    key, _manifest = service.take_backup(tenant)
    return key


@platform_job
def nightly_backups_all() -> int:
    """Queue one nightly backup per active workspace."""
    return enqueue_for_active_tenants(nightly_backup, queue_name=QUEUE)


@tenant_job
def backup_now(member_id: int) -> dict:
    """A backup the admin asked for, audited as theirs."""
    key, manifest = service.take_backup(current_tenant())
    service.audit("create", service.summary(manifest), db.session.get(Member, member_id))
    return {"ok": key}


@platform_job
def restore_backup(tenant_id: int, key: str, member_id: int, locale: str, new_slug: str | None = None) -> dict:
    """Restore the workspace's backup `key`: as a new workspace at `new_slug`, or over the workspace (None).
    Audited in the workspace; a refusal is the job's result, said in the admin's language."""
    tenant = tenant_by_id(tenant_id)
    with force_locale(locale):
        try:
            with service.fetched(tenant.schema, key) as path:
                if new_slug:
                    made = service.restore_as_new(path, new_slug, None)
                    db.session.commit()
                    done = _("Restored as a new workspace at /%(slug)s/.", slug=made.slug)
                else:
                    service.replace(path, tenant_id)
                    done = _("The workspace was replaced by the backup.")
        except BackupRefused as error:
            db.session.rollback()
            return {"error": service.refusal(error)}
        except Invalid as error:
            db.session.rollback()
            return {"error": " ".join(error.errors.values())}
        with tenant_bound(tenant):
            actor = db.session.get(Member, member_id)
            service.audit("restore", f"{key[:8]} → /{new_slug}/" if new_slug else f"{key[:8]} → {tenant.slug}", actor)
        return {"ok": done, "slug": new_slug}


def start(job, tenant_id: int, *args) -> str:
    """Queue a job of the Data page at once (the page polls it next), tagged with its tenant; returns its id."""
    return queue(QUEUE).enqueue(job, tenant_id, *args, meta={"tenant_id": tenant_id}, result_ttl=3600,
                                failure_ttl=3600).id


def job_of(tenant_id: int, job_id: str) -> Job | None:
    """A job of this tenant's Data page by its id, or None (never another tenant's)."""
    if not JOB_ID.fullmatch(job_id):
        return None
    try:
        job = Job.fetch(job_id, connection=redis_connection())
    except NoSuchJobError:
        return None
    return job if job.meta.get("tenant_id") == tenant_id else None
