"""Settings > Data's "Export everything" (admins: settings.edit): start the job, poll its progress, and download an
archive through its signed link (the emailed one, or the page's list of the member's own exports)."""
from flask import Response, g, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.backups import jobs as data_jobs
from crm.errors import NotFound
from crm.members.access import require
from crm.web import fragment_of, open_when_read_only, poll, render, see_other
from crm.workspace_export import jobs, service
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("workspace_export", __name__, "/settings/data/export")


def _export_job(job_id: str):
    """An export job of this workspace by its id, or None (a backup's job is not one)."""
    job = data_jobs.job_of(g.tenant.id, job_id)
    return job if job is not None and job.func_name.endswith("export_everything") else None


def _section(member) -> dict:
    """The section's data: the job the page was sent back with, the member's exports and their links."""
    return {"job": _export_job(request.args.get("export_job", "")),
            "exports": [(export, service.token(export)) for export in service.latest(member)],
            "days": service.lifetime_days()}


registry.plug(
    bp, registry.PageSection("backups.index", "workspace_export/_section.html", order=10,
                             permission=("settings", "edit"), load=_section),
    registry.AuditEntity("workspace_export", _l("Workspace export")))


@bp.post("/")
@require("settings", "edit")
@open_when_read_only  # taking the data out changes none of it: a read-only workspace may still
def start():
    """Write the whole workspace as one archive, as a job; the Data page shows its progress."""
    job_id = data_jobs.start(jobs.export_everything, g.tenant.id, g.member.id)
    return see_other(url_for("backups.index", export_job=job_id))


@bp.get("/jobs/<export_job_id>")
@require("settings", "edit")
@fragment_of("backups.index")
@poll
def progress(export_job_id: str):
    """The export's progress, then its outcome."""
    job = _export_job(export_job_id)
    if job is None:
        raise NotFound()
    return render("workspace_export/_section.html", "job", section={"job": job})


@bp.get("/download")
@require("settings", "edit")
def download():
    """An archive, for the member it was written for, while its link lasts; an expired link says so. Without a
    link's token, the Data page, which lists the member's exports."""
    if not request.args.get("t"):
        return see_other(url_for("backups.index"))
    export = service.download_for(request.args["t"], g.member)
    if export is None:
        return render("workspace_export/expired.html", days=service.lifetime_days()), 410
    name = f"{g.tenant.slug}-export-{export.created_at:%Y%m%d-%H%M}.zip"
    return Response(stream_with_context(service.chunks(service.open_archive(export))), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Content-Length": str(export.bytes)})
