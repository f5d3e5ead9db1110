"""Messages: the in-app bell and inbox, and the workspace's outbox with failures to retry."""
from flask import g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.access import require
from crm.notify import messages, service
from crm.notify.models import STATUSES
from crm.web import fragment_of, on_invalid, poll, render, saved, see_other, open_when_read_only
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("notify", __name__, "/messages")
registry.plug(
    bp, registry.SettingsTab("notify.templates", _l("Message templates"), order=80, permission=("settings", "view"),
                             current=("notify.templates",)),
    registry.SettingsTab("notify.outbox", _l("Outbox"), order=90, permission=("settings", "view"),
                         current=("notify.outbox",)))
bp.add_app_template_filter(messages.paragraphs, "paragraphs")


@bp.get("/bell")
@poll
@fragment_of("notify.inbox")
def bell():
    """The unread count in the top bar; htmx polls it so reminders show up without a reload."""
    return render("notify/_bell.html", unread=service.unread_count(g.member))


@bp.get("/")
def inbox():
    """The signed-in member's in-app messages; opening the page marks them read."""
    rows = service.inbox(g.member)
    unread = {row.id for row, _message in rows if row.read_at is None}
    service.mark_read(g.member)
    db.session.commit()
    return render("notify/inbox.html", rows=rows, unread=unread)


@bp.get("/outbox")
@require("settings", "view")
def outbox():
    """Every message of the workspace by status, with the last error of failed ones."""
    status = request.args.get("status", "failed")
    status = status if status in STATUSES else ""
    return render("notify/outbox.html", rows=service.outbox_rows(status or None), status=status,
                  counts=service.counts(), statuses=STATUSES)


@bp.post("/outbox/<id:notification_id>/retry")
@require("settings", "edit")
def retry(notification_id: int):
    """Send a failed message again."""
    if service.retry(notification_id) is None:
        raise NotFound()
    return saved(_("The message will be sent again."), "notify.outbox")


def _kind_labels() -> dict:
    return {"reminder": _("Follow-up reminder (to staff)"), "order_status": _("Order status (to customers)"),
            "ticket_reply": _("Ticket reply (to customers)"),
            "ticket_survey": _("Satisfaction link of a closed ticket (to customers)"),
            "campaign": _("Campaign (to customers)"), "quiet_customers": _("Customers without follow-up (to staff)"),
            "digest": _("Morning digest (to staff)"), "invitation": _("Invitation (to new members)"),
            "summary": _("Summary of key numbers (to staff)"), "import_done": _("Import done (to the importer)"),
            "export_ready": _("Export ready (to staff)"),
            "webhook_disabled": _("Webhook disabled after failures (to admins)"),
            "workspace_export_ready": _("Workspace export ready (to the admin who asked)")}


def _templates_page(errors: dict | None = None, typed: dict | None = None):
    return render("notify/templates.html", rows=service.templates(), kind_labels=_kind_labels(),
                  errors=errors or {}, typed=typed or {})


@bp.get("/templates")
@require("settings", "view")
def templates():
    """Each message kind's wording in English and Chinese, with its variables and a preview."""
    return _templates_page()


@bp.post("/templates/preview")
@require("settings", "view")
@open_when_read_only
def preview():
    """The template as a recipient would read it, with sample values (or why it cannot be used)."""
    try:
        message = service.preview(request.form.get("kind", ""), request.form.get("subject", ""),
                                  request.form.get("body", ""))
    except Invalid as error:
        return render("notify/_preview.html", message=None, error=" ".join(error.errors.values()))
    return render("notify/_preview.html", message=message, error=None)


@bp.post("/templates")
@require("settings", "edit")
def save_template():
    """Save the workspace's own wording of one kind in one language."""
    form = {name: request.form.get(name, "") for name in ("kind", "language", "subject", "body")}
    on_invalid(lambda error: _templates_page({(form["kind"], form["language"]): error.errors}, form))
    service.save_template(**form)
    return saved(_("Template saved."), "notify.templates")


@bp.post("/templates/reset")
@require("settings", "edit")
def reset_template():
    """Go back to the built-in wording."""
    service.reset_template(request.form.get("kind", ""), request.form.get("language", ""))
    return saved(_("Template reset to the default."), "notify.templates")


@bp.get("/preferences")
def preferences():
    """My notifications is a part of the profile page now; links to it (in sent messages too) lead there."""
    return see_other(url_for("profile.show"))
