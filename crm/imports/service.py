"""Customer imports for the pages: create one for an uploaded file, map its columns, check it (the dry run),
import it, follow its progress, cancel, read its result and error file, undo it; saved mappings."""
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from crm import validation
from crm.audit.service import record
from crm.customers.models import Customer, Tag
from crm.errors import Forbidden, Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields import definitions
from crm.fields.values import display
from crm.imports import applying, headers, jobs, linking
from crm.imports import mapping
from crm.imports.kinds import KINDS
from crm.imports.mapping import Field, clean_mapping, clean_options
from crm.imports.models import Import, ImportMapping, ImportRow
from crm.jobs import enqueue_after_commit
from crm.members.access import members_in_reach
from crm.members.models import Member
from crm.spreadsheets import csv_chunks
from tenants.binding import current_tenant

QUEUE = "imports"
UNDO_DAYS = 7
PREVIEW = 20
MAPPABLE = ("uploaded", "checked", "failed", "cancelled")


def fields_for_mapping(kind: str = "customers") -> list[Field]:
    """Every field a column can fill: key, label (the reader's language), labels in both (for guessing), kind."""
    return mapping.fields_for_mapping(kind)


def kinds_for(viewer: Member) -> list[str]:
    """What the viewer may import: customers, and follow-ups, deals, orders or contacts where it may add them."""
    return ["customers"] + [name for name, kind in KINDS.items() if viewer.can(kind.resource, kind.adds)]


def check_kind(viewer: Member, kind: str) -> None:
    """Invalid unless the viewer may import this kind of record."""
    _may_import(viewer)
    if kind not in kinds_for(viewer):
        raise Invalid({"kind": _("Choose one of the listed values.")})


def resource_of(imp: Import) -> str:
    """The permission resource of the records the import adds."""
    return KINDS[imp.kind].resource if imp.kind in KINDS else "customers"


def may_undo(viewer: Member, imp: Import) -> bool:
    """Whether the viewer's role may remove what the import added (customers: delete; contacts: customers edit)."""
    return viewer.can(resource_of(imp), KINDS[imp.kind].removes if imp.kind in KINDS else "delete")


def _may_import(viewer: Member) -> None:
    if not viewer.can("customers", "import"):
        raise Forbidden()


def get_import(viewer: Member, import_id: int) -> Import:
    """An import started by a member in the viewer's import scope (its own, its team's, everyone's); NotFound
    otherwise."""
    _may_import(viewer)
    imp = db.session.get(Import, import_id)
    if imp is None or imp.member_id not in _importers_in_reach(viewer):
        raise NotFound()
    return imp


def _importers_in_reach(viewer: Member):
    """Ids of the members whose imports the viewer sees."""
    if viewer.role.scope("customers", "import") == "all":
        return set(db.session.scalars(select(Member.id)))
    return {m.id for m in members_in_reach(viewer, "customers", "import")} | {viewer.id}


def imports_for(viewer: Member, limit: int = 100) -> list[tuple[Import, str]]:
    """(import, importer's name), newest first: those of the members in the viewer's import scope."""
    _may_import(viewer)
    stmt = select(Import, Member.name).join(Member, Member.id == Import.member_id)
    if viewer.role.scope("customers", "import") != "all":
        stmt = stmt.where(Import.member_id.in_(_importers_in_reach(viewer)))
    return [tuple(row) for row in db.session.execute(stmt.order_by(Import.id.desc()).limit(limit))]


def create_import(viewer: Member, file_name: str, file_path: str, file_info: dict, kind: str = "customers") -> Import:
    """A new import of an uploaded file holding `kind` records, waiting for its mapping."""
    check_kind(viewer, kind)
    imp = Import(member_id=viewer.id, kind=kind, file_name=validation.clipped(file_name, 250) or "import",
                 file_path=file_path, file_info=dict(file_info), mapping={}, options={}, status="uploaded", counts={})
    db.session.add(imp)
    db.session.flush()
    return imp


@dataclass
class Column:
    index: int
    header: str
    samples: list[str]  # the first few non-blank values


def columns(imp: Import, samples: int = 3) -> list[Column]:
    """The file's columns as the mapping page lists them: header and a few sample values."""
    info = imp.file_info
    rows = info.get("sample") or []
    return [Column(index, header, [row[index] for row in rows if index < len(row) and row[index].strip()][:samples])
            for index, header in enumerate(info.get("headers") or [])]


def proposed(imp: Import, saved: ImportMapping | None = None) -> tuple[dict[int, str], dict]:
    """The fields and options the mapping page starts with: a chosen saved mapping's, else the import's own,
    else guessed from the headers."""
    header_names = imp.file_info.get("headers") or []
    if saved is not None:
        return mapping_for(saved, header_names), {**mapping.DEFAULT_OPTIONS, **saved.options}
    if imp.mapping:
        return {int(i): key for i, key in imp.mapping.items()}, {**mapping.DEFAULT_OPTIONS, **imp.options}
    offered = [(f.key, [f.label, *f.labels.values()]) for f in fields_for_mapping(imp.kind)]
    synonyms = KINDS[imp.kind].synonyms if imp.kind in KINDS else None
    return headers.guess(header_names, offered, synonyms), dict(mapping.DEFAULT_OPTIONS)


def set_mapping(viewer: Member, imp: Import, columns_to_fields: dict, options: dict) -> Import:
    """Columns to fields and the import's options, checked; a changed mapping needs a new check."""
    if imp.status not in MAPPABLE:
        raise Invalid({"mapping": _("This import is already running or done.")})
    columns = len(imp.file_info.get("headers") or []) or None
    cleaned = clean_mapping(columns_to_fields, columns, imp.kind)
    owners = {m.id for m in members_in_reach(viewer, resource_of(imp), "create")}
    imp.mapping, imp.options = cleaned, clean_options(options, cleaned, owners, imp.kind)
    imp.status, imp.counts, imp.cancel_requested = "uploaded", {}, False
    return imp


def start_check(imp: Import) -> None:
    """Queue the dry run, once this transaction commits."""
    if not imp.mapping or imp.status not in MAPPABLE:
        raise Invalid({"mapping": _("Choose a field for at least one column.")})
    file_kept(imp)
    imp.status, imp.cancel_requested = "checking", False
    enqueue_after_commit(jobs.check_import, current_tenant().id, imp.id, queue_name=QUEUE, job_timeout=3600)


def start_import(imp: Import) -> None:
    """Queue the import itself; only after a dry run of this mapping."""
    if imp.status != "checked":
        raise Invalid({"status": _("Check the file before importing it.")})
    file_kept(imp)
    imp.status = "importing"
    enqueue_after_commit(jobs.run_import, current_tenant().id, imp.id, queue_name=QUEUE, job_timeout=3600)


def file_kept(imp: Import) -> None:
    """An import left waiting past the undo window has lost its file to the spool sweep."""
    if not os.path.isfile(imp.file_path):
        raise Invalid({"file": _("The file is no longer kept: upload it again.")})


def cancel(imp: Import) -> None:
    """Stop a running check or import at its next batch (nothing is written to customers), or drop a waiting one."""
    if imp.status in ("checking", "importing"):
        imp.cancel_requested = True
    elif imp.status in ("uploaded", "checked"):
        imp.status, imp.finished_at = "cancelled", utcnow()


def progress(imp: Import) -> dict:
    """What the page shows while a run goes on: rows done (of how many when known), rows per second, errors."""
    seconds = ((imp.finished_at or utcnow()) - imp.started_at).total_seconds() if imp.started_at else 0
    return {"status": imp.status, "rows_done": imp.rows_done, "rows_total": imp.rows_total or _expected(imp),
            "rows_per_second": round(imp.rows_done / seconds) if seconds > 0 else 0,
            "errors": imp.errors_so_far, "cancelling": imp.cancel_requested, "counts": imp.counts}


def _expected(imp: Import) -> int | None:
    """The rows a run will go through, while it runs: the check's count for an import, the workbook's size for
    the check of an XLSX; a CSV's is not known before it is read."""
    checked = sum(imp.counts.get(key) or 0 for key in jobs.COUNTED.values())
    return checked or imp.file_info.get("total_rows")


@dataclass
class PreviewRow:
    line: int
    action: str
    customer_id: int | None
    values: dict  # field key -> the value as it will be saved, as people read it


def preview(imp: Import, limit: int = PREVIEW) -> list[PreviewRow]:
    """The first rows that will be created or updated, as they will be saved (a linked row with the name of the
    customer it goes to)."""
    rows = db.session.execute(select(ImportRow.line, ImportRow.action, ImportRow.customer_id, ImportRow.data)
                              .where(ImportRow.import_id == imp.id, ImportRow.action.in_(("create", "update")))
                              .order_by(ImportRow.line).limit(limit)).all()
    if imp.kind in KINDS:
        shown = _ShownLinked(imp.kind, {customer_id for _line, _action, customer_id, _data in rows})
    else:
        shown = _Shown()
    if imp.kind in KINDS:
        return [PreviewRow(line, action, customer_id, {"customer": shown.customer(customer_id), **shown.values(data)})
                for line, action, customer_id, data in rows]
    return [PreviewRow(line, action, customer_id, shown.values(data)) for line, action, customer_id, data in rows]


class _ShownLinked:
    """A follow-up's, deal's, order's or contact's staged values as people read them: the customer, members, stages
    and statuses by name, yes or no; internal keys left out."""

    HIDDEN = ("owner_id", "pipeline_id", "stage_id", "product_id", "unit", "description", "total", "closed_at",
              "phone", "email", "name", "company", "external_id")

    def __init__(self, kind: str, customer_ids: set[int]):
        from crm.deals.models import Stage
        from crm.followups.models import METHOD_LABELS
        from crm.orders.forms import STATUS_LABELS

        self.kind = kind
        self.customers = dict(db.session.execute(select(Customer.id, Customer.name)
                                                 .where(Customer.id.in_(customer_ids))).all())
        self.members = dict(db.session.execute(select(Member.id, Member.name)).all())
        self.stages = {stage.id: stage.name for stage in db.session.scalars(select(Stage))}
        self.labels = {"method": METHOD_LABELS, "status": STATUS_LABELS}

    def values(self, data: dict) -> dict:
        shown = {key: value for key, value in data.items() if key not in self.HIDDEN}
        for key, labels in self.labels.items():
            if key in shown:
                shown[key] = str(labels.get(shown[key], shown[key]))
        if "owner_id" in data:
            shown["owner"] = self.members.get(data["owner_id"], "")
        if "stage_id" in data:
            shown["stage"] = self.stages.get(data["stage_id"], "")
        if self.kind == "orders":
            shown.update(product=data["description"], amount=data["total"])
        if "primary" in data:
            shown["primary"] = _("Yes") if data["primary"] else _("No")
        return shown

    def customer(self, customer_id: int | None) -> str:
        return self.customers.get(customer_id, "")


class _Shown:
    """Stored values as people read them: members and tags by name, custom values by their field."""

    def __init__(self):
        self.members = dict(db.session.execute(select(Member.id, Member.name)).all())
        self.tags = dict(db.session.execute(select(Tag.id, Tag.name)).all())
        self.custom = {f.key: f for f in definitions.fields("customer")}

    def values(self, data: dict) -> dict:
        shown = {key: value for key, value in data.items() if not key.endswith(("_enc", "_idx"))
                 and key not in ("owner_id", "tag_ids", "new_tags", "custom", "custom_sensitive")}
        if "owner_id" in data:
            shown["owner"] = self.members.get(data["owner_id"], "")
        names = [self.tags.get(i, "") for i in data.get("tag_ids", [])] + data.get("new_tags", [])
        if names:
            shown["tags"] = ", ".join(names)
        for name in ("id_number", "bank_account"):
            if f"{name}_enc" in data:
                shown[name] = "••••"
        for key, value in (data.get("custom") or {}).items():
            field = self.custom.get(key)
            shown[f"custom_{key}"] = display(field, value) if field is not None else str(value)
        shown.update({f"custom_{key}": "••••" for key in data.get("custom_sensitive") or {}})
        return shown


def errors(imp: Import, limit: int = 100, action: str = "error") -> list[tuple[int, str]]:
    """(line, reason) of the rows that cannot be saved (or, with action="duplicate", the file's duplicates)."""
    return db.session.execute(select(ImportRow.line, ImportRow.reason).where(
        ImportRow.import_id == imp.id, ImportRow.action == action).order_by(ImportRow.line).limit(limit)).all()


def error_file(imp: Import, batch: int = 1000) -> Iterator[bytes]:
    """The failing rows as they were in the file plus a reason column: CSV with a BOM, formulas kept as text."""
    stmt = select(ImportRow.cells, ImportRow.reason).where(ImportRow.import_id == imp.id, ImportRow.action == "error")
    rows = db.session.execute(stmt.order_by(ImportRow.line).execution_options(yield_per=batch))
    heading = list(imp.file_info.get("headers") or []) + [_("Reason")]
    return csv_chunks(itertools.chain([heading], ([str(cell) for cell in cells] + [reason or ""]
                                                 for cells, reason in rows)), batch)


def undo(viewer: Member, imp: Import) -> dict[str, int]:
    """Within 7 days: created customers to the trash (restorable there), updated ones back as they were; a
    customer changed since the import is left as it is and counted. One audit entry."""
    if imp.status != "done" or imp.finished_at is None or utcnow() - imp.finished_at > timedelta(days=UNDO_DAYS):
        raise Invalid({"status": _("An import can be undone within %(days)d days of finishing.", days=UNDO_DAYS)})
    if not may_undo(viewer, imp):
        raise Forbidden()
    if imp.kind in KINDS:
        result = linking.undo(imp.id, imp.kind, imp.finished_at)
    else:
        result = applying.undo(imp.id, imp.finished_at)
    imp.status, imp.counts = "undone", {**imp.counts, "undo": result}
    record("delete", "import", imp.id, summary=imp.file_name, actor=viewer,
           changes={k: [None, v] for k, v in result.items()})
    return result


def imported_into(customer_id: int) -> list[tuple[Import, str, str]]:
    """(import, importer's name, what it did) for each finished import that created or updated the customer."""
    rows = db.session.execute(select(Import, Member.name, ImportRow.action)
                              .join(ImportRow, ImportRow.import_id == Import.id)
                              .join(Member, Member.id == Import.member_id)
                              .where(ImportRow.customer_id == customer_id, ImportRow.action.in_(("create", "update")),
                                     Import.kind == "customers", Import.status.in_(("done", "undone")))
                              .order_by(Import.id.desc()).limit(10)).all()
    return [tuple(row) for row in rows]


# Saved mappings: kept by header, so a file with its columns in another order still fits

def saved_mappings(kind: str = "customers") -> list[ImportMapping]:
    """The mappings saved from imports of this kind."""
    found = db.session.scalars(select(ImportMapping).order_by(func.lower(ImportMapping.name)))
    return [saved for saved in found if saved.options.get("kind", "customers") == kind]


def save_mapping(viewer: Member, imp: Import, name: str) -> ImportMapping:
    """The import's mapping (by header) and options under a name; the same name is replaced."""
    _may_import(viewer)
    name = validation.text(name, "name", 80, required=True)
    headers = imp.file_info.get("headers") or []
    by_header = {headers[int(i)]: key for i, key in imp.mapping.items() if int(i) < len(headers)}
    saved = db.session.scalar(select(ImportMapping).where(ImportMapping.name == name)) or ImportMapping(name=name)
    saved.mapping, saved.options, saved.created_by = by_header, {**imp.options, "kind": imp.kind}, viewer.id
    db.session.add(saved)
    db.session.flush()
    return saved


def get_saved_mapping(viewer: Member, mapping_id: int) -> ImportMapping:
    _may_import(viewer)
    saved = db.session.get(ImportMapping, mapping_id)
    if saved is None:
        raise NotFound()
    return saved


def mapping_for(saved: ImportMapping, headers: list[str]) -> dict[int, str]:
    """A saved mapping applied to a file's headers: {column index: field key} for the headers it knows."""
    return {index: saved.mapping[header] for index, header in enumerate(headers) if header in saved.mapping}


def delete_mapping(viewer: Member, mapping_id: int) -> None:
    _may_import(viewer)
    if db.session.execute(delete(ImportMapping).where(ImportMapping.id == mapping_id)).rowcount == 0:
        raise NotFound()
