"""Exports of the customer, deal, order, ticket and follow-up lists, and of the contacts of the customers the
customer list shows (`exports.<kind>`, the list's query string plus `format` csv|xlsx and `fields` visible|all),
and the download of an export a job wrote (`exports.file`)."""
from flask import Response, current_app, flash, g, request, send_file, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from crm import spreadsheets
from crm.exports import service
from crm.exports.sources import RESOURCES, build
from crm.extensions import db
from crm.members.access import require
from crm.web import saved, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("exports", __name__, "/exports")
LIST_PAGES = {"customers": "customers.index", "deals": "deals.list", "orders": "orders.index",
              "tickets": "tickets.index", "followups": "followups.index", "contacts": "customers.index"}


def _export(kind: str):
    @require(RESOURCES[kind], "export")
    def export():
        """The list under its filters as CSV or XLSX, streamed; a long one is written by a job instead."""
        fmt = request.args.get("format") if request.args.get("format") in spreadsheets.FORMATS else "csv"
        all_fields = request.args.get("fields") == "all"
        source = build(kind, g.member, request.args, all_fields)
        rows = service.count(source)
        if rows > current_app.config["EXPORT_STREAM_ROWS"]:
            service.start_job(g.member, kind, fmt, all_fields, request.args)
            back = {k: request.args.getlist(k) for k in request.args if k not in service.HOW}
            return saved(service.started_message(), LIST_PAGES[kind], **back)
        service.audit(source, fmt, rows, request.args, g.member)
        locale = str(get_locale())  # before the commit expires the signed-in account it is read from
        db.session.commit()
        return Response(stream_with_context(service.streamed(g.tenant, locale, source, fmt)),
                        content_type=spreadsheets.TYPES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{service.filename(kind, fmt)}"'})

    export.__name__ = kind
    return export


for _kind in service.KINDS:
    bp.add_url_rule(f"/{_kind}", _kind, _export(_kind), methods=["GET"])


@bp.get("/file")
def file():
    """A file an export job wrote, for the member it was written for, while its link lasts."""
    found = service.file_for(request.args.get("t", ""), g.tenant.id, g.member)
    if found is None:  # back to the messages the link came from, saying why
        flash(_("This download link has expired or is not yours."), "error")
        return see_other(url_for("notify.inbox"))
    path, name = found
    return send_file(path, mimetype=spreadsheets.TYPES[path.suffix[1:]], as_attachment=True, download_name=name)
