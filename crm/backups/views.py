"""Settings > Data (admins: settings.edit): the workspace's backups with their date, size and head; "Back up now";
download; restore as a new workspace; replace the workspace after typing its name. The work runs as jobs whose
progress the page polls."""
from flask import Response, g, request, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.backups import jobs, service
from crm.errors import NotFound
from crm.extensions import db
from crm.members.access import require
from crm.web import fragment_of, on_invalid, open_when_read_only, poll, render, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("backups", __name__, "/settings/data")
registry.plug(
    bp, registry.SettingsTab("backups.index", _l("Data"), order=95, permission=("settings", "edit"),
                             current=("backups.*",)),
    registry.AuditEntity("backup", _l("Backup")))


def _page(job_id: str | None = None, errors: dict | None = None, failed: str | None = None):
    return render("backups/index.html", backups=service.list_backups(g.tenant.schema),
                  job=jobs.job_of(g.tenant.id, job_id or ""), errors=errors or {}, failed=failed,
                  typed=request.form)


@bp.get("/")
@require("settings", "edit")
def index():
    """The workspace's backups, newest first, and the progress of the job the page was sent back with."""
    return _page(request.args.get("job"))


@bp.post("/backup")
@require("settings", "edit")
@open_when_read_only  # a backup takes data out, as an export does: a read-only workspace may still
def backup():
    """Take a backup now, as a job; the page shows its progress."""
    job_id = jobs.start(jobs.backup_now, g.tenant.id, g.member.id)
    return see_other(url_for("backups.index", job=job_id))


@bp.get("/jobs/<job_id>")
@require("settings", "edit")
@fragment_of("backups.index")
@poll
def progress(job_id: str):
    """A job's progress, then its outcome."""
    job = jobs.job_of(g.tenant.id, job_id)
    if job is None:
        raise NotFound()
    return render("backups/index.html", "job", job=job)


@bp.get("/<backup_key>")
@require("settings", "edit")
def download(backup_key: str):
    """One backup's archive, through the app only (its key is random, and this route asks for settings.edit)."""
    stream = service.open_backup(g.tenant.schema, backup_key)
    service.audit("export", f"{backup_key[:8]}")
    db.session.commit()
    name = f"{g.tenant.slug}-backup-{backup_key[:8]}.tar"
    return Response(stream_with_context(service.chunks(stream)), mimetype="application/x-tar",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/<backup_key>/restore")
@require("settings", "edit")
def restore(backup_key: str):
    """Restore a backup as a new workspace at the address typed, as a job."""
    on_invalid(lambda error: _page(errors=error.errors, failed=backup_key))
    slug = service.check_new_address(backup_key, request.form.get("slug", ""), g.tenant.schema)
    job_id = jobs.start(jobs.restore_backup, g.tenant.id, backup_key, g.member.id, str(get_locale()), slug)
    return see_other(url_for("backups.index", job=job_id))


@bp.post("/<backup_key>/replace")
@require("settings", "edit")
def replace(backup_key: str):
    """Replace the workspace with a backup, once its name is typed to confirm, as a job."""
    on_invalid(lambda error: _page(errors=error.errors, failed=backup_key))
    service.check_replace(backup_key, request.form.get("confirm", ""), g.tenant)
    job_id = jobs.start(jobs.restore_backup, g.tenant.id, backup_key, g.member.id, str(get_locale()))
    return see_other(url_for("backups.index", job=job_id))
