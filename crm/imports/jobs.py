"""The import's background work on the "imports" queue: the dry run (check) and the import itself, each one
streaming pass that stages the file's rows, then set-based SQL.

Progress is committed on the `imports` row after every batch (a few hundred small commits for a million rows):
the page reads it like any other column, from any process, and it outlives a worker that dies; Redis would add a
second place to keep in step. The rows a run stages are committed with it; customers are written only in the
final transaction, after the last look at the cancel flag, so a cancelled import writes nothing to customers."""
import logging

from flask_babel import force_locale
from flask_babel import gettext as _

from crm.audit.service import record
from crm.extensions import db, utcnow
from crm.fields import definitions
from crm.followups.reminders import locale_of
from crm.imports import applying, linking
from crm.imports.cleaning import RowCleaner
from crm.imports.kinds import KINDS
from crm.imports.linked import LinkedCleaner
from crm.imports.models import Import, ImportRow
from crm.imports.reading import FileInfo, open_rows
from crm.imports.staging import stage
from crm.jobs import tenant_job
from crm.members.models import Member
from crm.names import is_chinese
from crm.notify import outbox
from crm.web import absolute_url

log = logging.getLogger(__name__)
COUNTED = {"create": "created", "update": "updated", "unchanged": "unchanged", "error": "errors",
           "duplicate": "duplicates"}


def rows_of(imp: Import):
    """The seam between the engine and the file: (headers, iterator of rows as lists of str). The upload stored
    what the reader sniffed (FileInfo as a dict); the rows include blank ones, so line numbers stay the file's."""
    info = FileInfo(**imp.file_info)
    return info.headers, open_rows(imp.file_path, info)


@tenant_job
def check_import(import_id: int) -> str | None:
    """The dry run: every row cleaned, matched and counted; nothing written to customers."""
    return _run(import_id, "checking", write=False)


@tenant_job
def run_import(import_id: int) -> str | None:
    """The import: the rows staged and decided again (customers may have changed since the check), then applied."""
    return _run(import_id, "importing", write=True)


def _run(import_id: int, status: str, write: bool) -> str | None:
    imp = db.session.get(Import, import_id)
    if imp is None or imp.status != status:
        return None
    viewer = db.session.get(Member, imp.member_id)
    try:
        with force_locale(locale_of(viewer)):
            _work(imp, viewer, write)
    except Exception:
        log.exception("import %s failed", import_id)
        db.session.rollback()
        imp.status, imp.finished_at = "failed", utcnow()
        db.session.commit()
        raise
    return imp.status


def _work(imp: Import, viewer: Member, write: bool) -> None:
    imp.started_at, imp.rows_done, imp.errors_so_far, imp.rows_total = utcnow(), 0, 0, None
    db.session.commit()
    headers, rows = rows_of(imp)
    imp.file_info = {**imp.file_info, "headers": list(headers)}
    linked = imp.kind in KINDS
    cleaner = LinkedCleaner(viewer, imp.kind, imp.mapping, imp.options) if linked else \
        RowCleaner(viewer, imp.mapping, imp.options)
    if not stage(imp.id, cleaner, rows, lambda done, errors: _went_on(imp, done, errors)) or \
            (write and _cancel_asked(imp)):
        return _cancelled(imp)
    imp.rows_total = imp.rows_done
    found = linking.decide(imp.id, viewer, imp.kind, imp.options, imp.mapping) if linked else \
        applying.decide(imp.id, viewer, imp.options)
    counts = {COUNTED[action]: n for action, n in found.items()}
    counts["notes"] = sorted(cleaner.notes)
    counts["new_options"] = sum(len(labels) for labels in cleaner.new_options.values())
    imp.counts = counts
    if not write:
        imp.status = "checked"
        return
    if linked:
        linking.apply(imp.id, viewer, imp.kind)
    else:
        _add_options(cleaner.new_options)
        applying.apply(imp.id, viewer, imp.options, pool_reason=_("Imported (import #%(id)d)", id=imp.id))
    imp.status, imp.finished_at = "done", utcnow()
    record("create", "import", imp.id, summary=imp.file_name, actor=viewer,
           changes={key: [None, counts[key]] for key in COUNTED.values()})
    _tell(viewer, imp)


def _went_on(imp: Import, done: int, errors: int) -> bool:
    """Commit the progress of a batch; False when a cancel was asked for."""
    imp.rows_done, imp.errors_so_far = done, errors
    db.session.commit()
    return not imp.cancel_requested


def _cancel_asked(imp: Import) -> bool:
    db.session.refresh(imp, ["cancel_requested"])
    return imp.cancel_requested


def _cancelled(imp: Import) -> None:
    db.session.execute(ImportRow.__table__.delete().where(ImportRow.import_id == imp.id))
    imp.status, imp.finished_at = "cancelled", utcnow()


def _add_options(new_options: dict[str, dict[str, str]]) -> None:
    """Options of custom select fields the file named and the admin chose to create."""
    fields = {f"custom_{f.key}": f for f in definitions.fields("customer")}
    for key, labels in new_options.items():
        field = fields[key]
        field.options = list(field.options) + [
            {"key": option_key, "en": "" if is_chinese(label) else label, "zh": label if is_chinese(label) else "",
             "retired": False} for label, option_key in labels.items()]
        record("update", "field", field.id, summary=field.label(), changes={"options": [None, list(labels)]})


def _tell(viewer: Member, imp: Import) -> None:
    """The importer's inbox says the import is done, with its counts."""
    counts = imp.counts
    outbox.schedule(channel="inapp", kind="import_done", recipient=str(viewer.id), member_id=viewer.id,
                    key=f"import:{imp.id}:done", language=locale_of(viewer)[:2],
                    payload={"file": imp.file_name, "created": counts["created"], "updated": counts["updated"],
                             "errors": counts["errors"], "link": absolute_url(
                                 KINDS[imp.kind].list_endpoint if imp.kind in KINDS else "customers.index")})
