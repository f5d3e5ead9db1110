"""The import pages (Customers → Import): upload a file, map its columns, check it (the dry run), import it and
follow its progress, its result, error file and undo; the list of imports. Also the import's parts on shared
pages: the customer page's "Imported by" card and the audit log's import entries."""
import tempfile
from datetime import timedelta

from flask import current_app, g, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry, validation
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.imports import mapping, service, uploads
from crm.imports.kinds import KINDS
from crm.imports.kinds import MATCH_ON as LINKED_MATCH_ON
from crm.members.access import members_in_reach, require
from crm.web import fragment_of, on_invalid, on_invalid_go_to, poll, render, saved, see_other, takes_file
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("imports", __name__, "/imports")
AUDIT_FIELDS = {"created": _l("Created"), "updated": _l("Updated"), "unchanged": _l("Unchanged"),
                "errors": _l("Errors"), "duplicates": _l("Duplicates"), "trashed": _l("Moved to the trash"),
                "restored": _l("Restored"), "skipped": _l("Skipped (changed since)"), "removed": _l("Removed")}
registry.plug(
    bp, registry.CustomerPanel("imports/_customer_panel.html", order=21,
                               load=lambda member, customer: {"imported": service.imported_into(customer.id)}),
    registry.AuditEntity("import", _l("Import"), fields=AUDIT_FIELDS),
    # A follow-up, deal, order or contact an import added says so in its history: "Import: #12".
    *(registry.AuditEntity(entity, fields={"import": _l("Import")}, values={"import": lambda value: f"#{value}"})
      for entity in ("activity", "deal", "order", "contact")))
KIND_LABELS = {"customers": _l("Customers"), **{name: kind.label for name, kind in KINDS.items()}}
STATUS_LABELS = {"uploaded": _l("Waiting for its mapping"), "checking": _l("Checking"), "checked": _l("Checked"),
                 "importing": _l("Importing"), "done": _l("Done"), "failed": _l("Failed"),
                 "cancelled": _l("Cancelled"), "undone": _l("Undone")}
OPTION_LABELS = {"match_on": _l("Match existing customers on"), "mode": _l("Mode"),
                 "duplicates": _l("Rows repeated in the file"), "unknown_values": _l("Values not in a field's list"),
                 "owner_missing": _l("Owner not found")}
OPTION_CHOICES = (
    ("match_on", (("phone", _l("Phone")), ("email", _l("Email")), ("name_company", _l("Name and company")),
                  ("id_number", _l("ID number")), ("external_id", _l("External ID")))),
    ("mode", (("create", _l("Create new customers only")), ("update", _l("Update existing customers only")),
              ("create_update", _l("Create and update")))),
    ("duplicates", (("merge", _l("Merge them into the first")), ("skip", _l("Skip all but the first")))),
    ("unknown_values", (("error", _l("Report them as errors")), ("create", _l("Add them to the list")))),
    ("owner_missing", (("error", _l("Report it as an error")), ("default", _l("Use the default owner")))))


@bp.get("/")
@require("customers", "import")
def index():
    """The imports the viewer may see, newest first, each linking to its page (a running one to its progress)."""
    return render("imports/index.html", rows=service.imports_for(g.member), statuses=STATUS_LABELS, kinds=KIND_LABELS)


@bp.get("/new")
@require("customers", "import")
def new():
    """The upload form; `refused=size` when the last upload was refused as too large before it was read."""
    return _upload_page(uploads.too_big(_max_bytes()) if request.args.get("refused") == "size" else None)


def _upload_page(error: str | None = None, kind_error: str | None = None, kind: str = "customers"):
    return render("imports/new.html", error=error, kind_error=kind_error, max_mb=_max_bytes() / 1024 / 1024,
                  kinds=[(name, KIND_LABELS[name]) for name in service.kinds_for(g.member)], kind=kind)


@bp.post("/new")
@takes_file("IMPORT_MAX_BYTES", too_large=lambda slug: see_other(url_for("imports.new", slug=slug, refused="size")))
@require("customers", "import")
def upload():
    """Save the chosen file in the spool folder, sniff it, and go on to its mapping; a refusal is shown at the field
    and nothing is kept."""
    kind = request.form.get("kind") or "customers"
    on_invalid(lambda error: _upload_page(error.errors.get("file"), error.errors.get("kind"), kind))
    service.check_kind(g.member, kind)
    chosen = request.files.get("file")
    if chosen is None or not chosen.filename:
        raise Invalid({"file": _("Choose a CSV or XLSX file.")})
    path, info = uploads.save(chosen.stream, _max_bytes())
    imp = service.create_import(g.member, chosen.filename, path, info, kind)
    db.session.commit()
    return see_other(url_for("imports.mapping_page", import_id=imp.id))


def _max_bytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"]


@bp.get("/<id:import_id>/mapping")
@require("customers", "import")
def mapping_page(import_id: int):
    """One row per column with a field to fill, pre-filled by a saved mapping (`saved`) or guessed; the options."""
    imp = service.get_import(g.member, import_id)
    if imp.status not in service.MAPPABLE:
        return see_other(url_for("imports.show", import_id=imp.id))
    chosen = validation.record_id(request.args.get("saved"))
    fields, options = service.proposed(imp, service.get_saved_mapping(g.member, chosen) if chosen else None)
    return _mapping(imp, fields, options)


def _mapping(imp, fields: dict[int, str], options: dict, errors: dict | None = None):
    return render("imports/mapping.html", imp=imp, info=imp.file_info, columns=service.columns(imp),
                  fields=service.fields_for_mapping(imp.kind), chosen=fields, options=options, errors=errors or {},
                  owners=members_in_reach(g.member, service.resource_of(imp), "create"),
                  saved_mappings=service.saved_mappings(imp.kind), encodings=uploads.ENCODINGS,
                  option_labels=OPTION_LABELS, option_choices=_option_choices(imp.kind), linked=imp.kind in KINDS,
                  kind_label=KIND_LABELS[imp.kind])


def _option_choices(kind: str):
    """A linked file only adds records, matched to customers by a key its rows carry: fewer options."""
    if kind not in KINDS:
        return OPTION_CHOICES
    choices = dict(OPTION_CHOICES)
    return (("match_on", tuple(c for c in choices["match_on"] if c[0] in LINKED_MATCH_ON)),
            ("owner_missing", choices["owner_missing"]))


@bp.post("/<id:import_id>/file")
@require("customers", "import")
def reread(import_id: int):
    """Read the file again in the encoding or sheet the user chose."""
    imp = service.get_import(g.member, import_id)
    on_invalid(lambda error: _mapping(imp, *service.proposed(imp), errors=error.errors))
    uploads.resniff(imp, request.form.get("encoding"), request.form.get("sheet"), _max_bytes())
    return saved(_("The file was read again."), "imports.mapping_page", import_id=imp.id)


@bp.post("/<id:import_id>/mapping")
@require("customers", "import")
def map_columns(import_id: int):
    """Keep the mapping and options (and save them under a name when asked), then start the dry run."""
    imp = service.get_import(g.member, import_id)
    form = request.form
    fields = {key.removeprefix("column-"): value for key, value in form.items() if key.startswith("column-")}
    on_invalid(lambda error: _mapping(imp, {int(i): key for i, key in fields.items() if i.isdecimal()},
                                      {**mapping.DEFAULT_OPTIONS, **form.to_dict()}, errors=error.errors))
    service.set_mapping(g.member, imp, fields, form.to_dict())
    if form.get("save_as", "").strip():
        service.save_mapping(g.member, imp, form["save_as"])
    service.start_check(imp)
    db.session.commit()
    return see_other(url_for("imports.show", import_id=imp.id))


@bp.post("/mappings/<id:mapping_id>/delete")
@require("customers", "import")
def delete_mapping(mapping_id: int):
    """Delete a saved mapping, then back to the mapping page it was deleted from (`import_id`), else the list."""
    service.delete_mapping(g.member, mapping_id)
    import_id = validation.record_id(request.form.get("import_id"))
    if import_id is None:
        return saved(_("Saved mapping deleted."), "imports.index")
    return saved(_("Saved mapping deleted."), "imports.mapping_page", import_id=import_id)


@bp.get("/<id:import_id>")
@require("customers", "import")
def show(import_id: int):
    """The check's or the import's progress while it runs, then its result."""
    imp = service.get_import(g.member, import_id)
    if imp.status == "uploaded":
        return see_other(url_for("imports.mapping_page", import_id=imp.id))
    return _status_page(imp)


@bp.get("/<id:import_id>/progress")
@require("customers", "import")
@poll
@fragment_of("imports.show")
def progress(import_id: int):
    """The page's status part, polled every second while a run goes on; once finished it stops asking."""
    return _status_page(service.get_import(g.member, import_id))


def _status_page(imp):
    running = imp.status in ("checking", "importing")
    preview = [] if running else service.preview(imp)
    labels = {"customer": _("Customer"), **{f.key: f.label for f in service.fields_for_mapping(imp.kind)}}
    shown = [key for key in labels if any(key in row.values for row in preview)]
    return render("imports/show.html", "status", imp=imp, running=running, progress=service.progress(imp),
                  preview=preview, preview_columns=[(key, labels[key]) for key in shown],
                  errors=[] if running else service.errors(imp, limit=20), statuses=STATUS_LABELS,
                  kind_label=KIND_LABELS[imp.kind], linked=imp.kind in KINDS,
                  list_endpoint=KINDS[imp.kind].list_endpoint if imp.kind in KINDS else "customers.index",
                  can_undo=imp.status == "done" and service.may_undo(g.member, imp)
                  and utcnow() - imp.finished_at < timedelta(days=service.UNDO_DAYS))


@bp.post("/<id:import_id>/import")
@require("customers", "import")
def start(import_id: int):
    imp = service.get_import(g.member, import_id)
    on_invalid_go_to("imports.show", import_id=imp.id)
    service.start_import(imp)
    db.session.commit()
    return see_other(url_for("imports.show", import_id=imp.id))


@bp.post("/<id:import_id>/cancel")
@require("customers", "import")
def cancel(import_id: int):
    imp = service.get_import(g.member, import_id)
    service.cancel(imp)
    return saved(_("Cancelled: nothing is written to your customers."), "imports.show", import_id=imp.id)


@bp.post("/<id:import_id>/undo")
@require("customers", "import")
def undo(import_id: int):
    """Undo a finished import; the page then says what was undone and what was left because changed since."""
    imp = service.get_import(g.member, import_id)
    on_invalid_go_to("imports.show", import_id=imp.id)
    service.undo(g.member, imp)
    return saved(_("The import was undone."), "imports.show", import_id=imp.id)


@bp.get("/<id:import_id>/errors.csv")
@require("customers", "import")
def error_file(import_id: int):
    """The rows that could not be saved, as they were in the file, with a reason column."""
    imp = service.get_import(g.member, import_id)
    # Written out while the tenant is bound (a streamed body would be read after the request lets it go);
    # kept in memory up to a few MB, on disk beyond.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    out.writelines(service.error_file(imp))
    out.seek(0)
    return send_file(out, mimetype="text/csv", as_attachment=True, download_name=f"import-{imp.id}-errors.csv")
