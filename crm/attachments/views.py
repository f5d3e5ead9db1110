"""Files on records: each record kind gets the same routes, guarded by its own permission resource
(`/files/deal/<deal_id>` to upload, `/files/deal/file/<deal_file_id>` to download, ...), so a file is reached
only by whoever may view its record, and changed by whoever may edit it."""
import io

from flask import flash, g, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import format_decimal, ngettext

from crm import registry
from crm.attachments import files, service
from crm.attachments.kinds import KINDS, Kind
from crm.errors import NotFound
from crm.extensions import db
from crm.members.access import require
from crm.web import is_htmx, on_invalid, on_invalid_go_to, see_other, takes_file
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("attachments", __name__, "/files")
AUDIT_FIELDS = {"name": _l("Name"), "size": _l("Size"), "content_type": _l("Type")}
registry.plug(
    bp, registry.CustomerPanel("attachments/_customer_panel.html", order=65, permission=("customers", "view"),
                               load=lambda member, customer: service.card(member, "customer", customer)),
    registry.AuditEntity("attachment", _l("File"), fields=AUDIT_FIELDS))
# Served files are documents of their own: nothing in them runs, loads or is framed, whatever they contain.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; sandbox"


@bp.app_template_global()
def attachment_url(action: str, kind_key: str, file_id: int, **values) -> str:
    """The URL of a file route (download, thumbnail, rename, delete) of a file of a `kind_key` record."""
    return url_for(f"attachments.{kind_key}_{action}", **{KINDS[kind_key].file_param: file_id}, **values)


@bp.app_template_filter()
def file_size(size: int) -> str:
    """Bytes as people read them: 812 bytes, 4.2 KB, 25 MB (in the reader's number format)."""
    for unit, label in ((2**30, _("%(n)s GB")), (2**20, _("%(n)s MB")), (2**10, _("%(n)s KB"))):
        if size >= unit:
            return label % {"n": format_decimal(round(size / unit, 1))}
    return ngettext("%(num)d byte", "%(num)d bytes", size)


def _card(kind: Kind, record, errors: dict | None = None):
    return render_template("attachments/_card.html", **service.card(g.member, kind.key, record, errors))


def _changed(kind: Kind, record, message: str):
    """After a change: the card again for htmx, else the record's page with the message."""
    db.session.commit()
    if _swaps():
        return _card(kind, record)
    flash(message)
    endpoint, values = kind.page(record.id)
    return see_other(url_for(endpoint, **values))


def _swaps() -> bool:
    """Whether the card's own htmx form asked (a boosted form or link wants a page)."""
    return is_htmx() and not request.headers.get("HX-Boosted")


def _refuse_at(kind: Kind, record, **about) -> None:
    """A refusal: the card with the message at its field (htmx), else the record's page with it flashed."""
    if _swaps():
        on_invalid(lambda error: (_card(kind, record, {**error.errors, **about}), 422))
    else:
        endpoint, values = kind.page(record.id)
        on_invalid_go_to(endpoint, **values)


def _too_large(kind: Kind):
    """A request far over the cap goes back to the record's page, whose card says why."""
    def answer(slug, **values):
        endpoint, page_values = kind.page(values[kind.record_param])
        return see_other(url_for(endpoint, slug=slug, refused_file="size", **page_values))
    return answer


def _served(response):
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def add_routes(kind: Kind) -> None:
    """The upload, download (and preview), thumbnail, rename and delete routes of one record kind."""
    file_param = kind.file_param

    @takes_file("ATTACHMENT_UPLOAD_MAX_BYTES", too_large=_too_large(kind))
    @require(kind.resource, "edit")
    def upload(**values):
        """Add the chosen files to the record (all or none)."""
        record = kind.load(g.member, values[kind.record_param], "edit")
        _refuse_at(kind, record)
        chosen = [service.Upload(f.filename or "", f.stream) for f in request.files.getlist("files")
                  if f.filename or f.content_length]
        added = service.add_files(g.member, kind, record, chosen)
        return _changed(kind, record, ngettext("%(num)d file added.", "%(num)d files added.", len(added)))

    @require(kind.resource, "view")
    def download(**values):
        """The file as a download, or shown in the browser (`?preview=1`) when it is an image or a PDF."""
        attachment, _record = service.get_file(g.member, kind, values[file_param])
        inline = request.args.get("preview") == "1" and service.previewable(attachment)
        response = send_file(service.open_file(attachment), mimetype=files.served_type(attachment.content_type),
                             as_attachment=not inline, download_name=attachment.name, conditional=False,
                             etag=False)
        response.content_length = attachment.size
        return _served(response)

    @require(kind.resource, "view")
    def thumbnail(**values):
        """The image's thumbnail (a PNG Pillow made); 404 for files without one."""
        attachment, _record = service.get_file(g.member, kind, values[file_param])
        if not attachment.has_thumbnail:
            raise NotFound()
        return _served(send_file(io.BytesIO(attachment.thumbnail), mimetype="image/png"))

    @require(kind.resource, "edit")
    def rename(**values):
        """Give the file another name."""
        attachment, record = service.get_file(g.member, kind, values[file_param], "edit")
        _refuse_at(kind, record, file_id=attachment.id)
        service.rename(attachment, request.form.get("name", ""))
        return _changed(kind, record, _("File renamed."))

    @require(kind.resource, "edit")
    def delete(**values):
        """Delete the file."""
        attachment, record = service.get_file(g.member, kind, values[file_param], "edit")
        service.delete(kind, attachment, record)
        return _changed(kind, record, _("File deleted."))

    prefix = f"/{kind.key}"
    bp.add_url_rule(f"{prefix}/<id:{kind.record_param}>", f"{kind.key}_upload", upload, methods=["POST"])
    bp.add_url_rule(f"{prefix}/file/<id:{file_param}>", f"{kind.key}_download", download)
    bp.add_url_rule(f"{prefix}/file/<id:{file_param}>/thumbnail", f"{kind.key}_thumbnail", thumbnail)
    bp.add_url_rule(f"{prefix}/file/<id:{file_param}>/rename", f"{kind.key}_rename", rename, methods=["POST"])
    bp.add_url_rule(f"{prefix}/file/<id:{file_param}>/delete", f"{kind.key}_delete", delete, methods=["POST"])


for _kind in KINDS.values():
    add_routes(_kind)
