"""The export job ("Export everything" on Settings > Data) and the hourly cleanup of expired archives.

The job runs on the `exports` queue like a backup; its progress (steps done of steps) is in the job's meta, which
the Data page polls; the job's meta names the tenant, so another workspace never sees it (crm/backups/jobs.py)."""
import tempfile

from flask_babel import force_locale
from rq import get_current_job

from crm.web import absolute_url
from crm.extensions import db
from crm.followups.reminders import locale_of
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job
from crm.members.models import Member
from crm.notify import outbox
from crm.workspace_export import service
from tenants.binding import current_tenant


@tenant_job
def export_everything(member_id: int) -> dict:
    """Write the archive for the member (still an active admin), keep it, and email them its link."""
    member = db.session.get(Member, member_id)
    if member is None or not member.active or not member.can("settings", "edit"):
        return {"error": "forbidden"}
    db.session.commit()  # the reads below are one snapshot, in a transaction of their own
    db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    locale = locale_of(member)
    with force_locale(locale), tempfile.TemporaryFile(prefix="crm-workspace-export-") as spool:
        manifest = service.write_archive(member, spool, _report)
        export = service.store_archive(member, spool, manifest)
    link = absolute_url("workspace_export.download", slug=current_tenant().slug, t=service.token(export))
    outbox.schedule(channel="email", kind="workspace_export_ready", recipient=member.email, member_id=member.id,
                    key=f"workspace-export:{export.id}", language=locale[:2],
                    payload={"workspace": current_tenant().name, "rows": export.rows, "files": export.files,
                             "days": f"{service.lifetime_days():g}", "link": link})
    return {"ok": export.id}


def _report(done: int, total: int) -> None:
    job = get_current_job()
    if job is not None:
        job.meta.update(done=done, total=total)
        job.save_meta()


@tenant_job
def remove_expired() -> int:
    """Delete the workspace's expired archives."""
    return service.remove_expired()


@platform_job
def remove_expired_all() -> int:
    """Queue one cleanup per active workspace (hourly, in cron)."""
    return enqueue_for_active_tenants(remove_expired, queue_name="exports")
