"""Export everything: one ZIP archive of the workspace for an admin, with a CSV and an XLSX per record kind, the
files kept with the records, and manifest.json (app version, migration head, counts, SHA-256 of every member).

Memory stays flat whatever the workspace's size: rows are read through server-side cursors and written by the
list exports' writers (crm/spreadsheets.py: formula-safe, CSV row by row, XLSX in openpyxl's write-only mode,
spooled to a temporary file), files are copied from storage in chunks, and the archive is built in a temporary
file, then put in the storage backend (namespace `exports/<schema>`, a random key). Only the member who asked may
fetch it, through a signed link that expires after WORKSPACE_EXPORT_DAYS; the hourly cleanup then deletes it."""
import hashlib
import json
import math
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from importlib.metadata import version

from flask import current_app
from sqlalchemy import Column as TableColumn
from sqlalchemy import MetaData, String, Table, func, select

from crm import public_links, spreadsheets
from crm.attachments.service import workspace_storage
from crm.audit.service import MASK, record
from crm.errors import NotFound
from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.storage import COPY_CHUNK, new_key, storage_for
from crm.workspace_export.models import WorkspaceExport
from crm.workspace_export.sheets import Sheet, file_path, sheets
from tenants.binding import current_tenant

PURPOSE = "workspace-export"
FORMAT = 1
VERSION_TABLE = Table("alembic_version", MetaData(schema="tenant"), TableColumn("version_num", String(32)))
Progress = Callable[[int, int], None]


def export_storage():
    """The bound workspace's archives: beside, never among, its attachments (the sweep would take them)."""
    return storage_for(f"exports/{current_tenant().schema}")


# ------------------------------------------------------------------ writing the archive

def write_archive(member: Member, out, progress: Progress) -> dict:
    """The workspace as the member may export it, as a ZIP written to `out`; returns the manifest."""
    chosen = sheets(member)
    counts, members = {}, {}
    files_total = _count(chosen[-1].source.stmt)
    steps, done = 2 * len(chosen) + files_total, 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for sheet in chosen:
            counts[sheet.kind], members[f"{sheet.kind}.csv"] = _csv(archive, sheet)
            done += 1
            progress(done, steps)
            members[f"{sheet.kind}.xlsx"] = _xlsx(archive, sheet)
            done += 1
            progress(done, steps)
        for path, digest in _files(archive, chosen[-1]):
            members[path] = digest
            done += 1
            progress(done, steps)
        manifest = _manifest(member, chosen, counts, members)
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def _rows(sheet: Sheet, counted: list[int]) -> Iterator[list]:
    yield sheet.source.headings()
    for row in sheet.source.rows():
        counted[0] += 1
        yield row


def _put(archive: zipfile.ZipFile, name: str, chunks: Iterable[bytes]) -> dict:
    """One member of the archive from its chunks; its size and SHA-256 for the manifest."""
    digest, size = hashlib.sha256(), 0
    with archive.open(name, "w", force_zip64=True) as member:
        for chunk in chunks:
            member.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _read(stream) -> Iterator[bytes]:
    while chunk := stream.read(COPY_CHUNK):
        yield chunk


def _csv(archive: zipfile.ZipFile, sheet: Sheet) -> tuple[int, dict]:
    counted = [0]
    entry = _put(archive, f"{sheet.kind}.csv", spreadsheets.csv_chunks(_rows(sheet, counted)))
    return counted[0], entry


def _xlsx(archive: zipfile.ZipFile, sheet: Sheet) -> dict:
    with tempfile.TemporaryFile(prefix="crm-export-") as book:
        spreadsheets.write_xlsx(_rows(sheet, [0]), str(sheet.title), book)
        book.seek(0)
        return _put(archive, f"{sheet.kind}.xlsx", _read(book))


def _files(archive: zipfile.ZipFile, sheet: Sheet) -> Iterator[tuple[str, dict]]:
    """Each file of the files sheet, copied from storage in chunks to its folder."""
    store = workspace_storage()
    for row in db.session.execute(sheet.source.stmt.execution_options(yield_per=500)):
        with store.open(row.storage_key) as stream:
            yield file_path(row), _put(archive, file_path(row), _read(stream))


def _manifest(member: Member, chosen: list[Sheet], counts: dict, members: dict) -> dict:
    tenant = current_tenant()
    return {"format": FORMAT, "app": {"name": "crm", "version": version("crm")},
            "migration_head": db.session.scalar(select(VERSION_TABLE.c.version_num)),
            "workspace": {"slug": tenant.slug, "name": tenant.name}, "created_at": utcnow().isoformat(),
            "requested_by": member.name, "revealed_fields": revealed(chosen),
            "counts": {**counts, "files": sum(1 for name in members if name.startswith("files/"))},
            "sheets": {sheet.kind: str(sheet.title) for sheet in chosen}, "members": members}


def revealed(chosen: list[Sheet]) -> list[str]:
    """The sensitive fields written in full for the records the member's `sensitive` scope reaches."""
    return [name for sheet in chosen for name in sheet.source.revealed]


# ------------------------------------------------------------------ keeping it, and telling the member

def store_archive(member: Member, spool, manifest: dict) -> WorkspaceExport:
    """Put the written archive in storage, with its row, its audit entry (one, naming any fields revealed) and the
    email with its link."""
    key, size = new_key(), spool.seek(0, 2)
    spool.seek(0)
    export_storage().put(key, spool)
    now, counts = utcnow(), manifest["counts"]
    rows = sum(n for kind, n in counts.items() if kind != "files")
    export = WorkspaceExport(storage_key=key, member_id=member.id, member_name=member.name, bytes=size, rows=rows,
                             files=counts["files"], revealed=bool(manifest["revealed_fields"]),
                             created_at=now, expires_at=now + timedelta(days=lifetime_days()))
    db.session.add(export)
    db.session.flush()
    fields = manifest["revealed_fields"]
    record("export", "workspace_export", export.id, summary=f"ZIP, {rows} rows, {counts['files']} files",
           changes={name: [MASK, MASK] for name in fields} or None, actor=member)
    return export


def token(export: WorkspaceExport) -> str:
    """The download link's token: tenant, member, export and its expiry (hours since 1970), signed."""
    expires = math.ceil(export.expires_at.timestamp() / 3600)
    return public_links.make_token(PURPOSE, current_tenant().id, export.member_id, export.id, expires)


def download_for(raw: str, member: Member) -> WorkspaceExport | None:
    """The export a link names, for the member it was made for in this workspace; None once it has expired;
    NotFound for anything else (a forged link, another member's or workspace's, one cleaned up)."""
    ids = public_links.read_token(PURPOSE, raw, 4)
    if ids is None:
        raise NotFound()
    tenant_id, member_id, export_id, expires = ids
    if (tenant_id, member_id) != (current_tenant().id, member.id):
        raise NotFound()
    if expires * 3600 < time.time():
        return None
    export = db.session.get(WorkspaceExport, export_id)
    if export is None or export.member_id != member.id:
        raise NotFound()
    return export


def open_archive(export: WorkspaceExport):
    return export_storage().open(export.storage_key)


def chunks(stream) -> Iterator[bytes]:
    with stream:
        yield from _read(stream)


def latest(member: Member, limit: int = 5) -> list[WorkspaceExport]:
    """The member's own exports whose links still work, newest first."""
    return list(db.session.scalars(select(WorkspaceExport).where(
        WorkspaceExport.member_id == member.id, WorkspaceExport.expires_at > utcnow())
        .order_by(WorkspaceExport.id.desc()).limit(limit)))


def remove_expired() -> int:
    """Delete the bound workspace's archives whose links have expired, stored file and row; returns how many."""
    store, gone = export_storage(), 0
    for export in db.session.scalars(select(WorkspaceExport).where(WorkspaceExport.expires_at <= utcnow())):
        store.delete(export.storage_key)
        db.session.delete(export)
        gone += 1
    return gone


def lifetime_days() -> float:
    return current_app.config["WORKSPACE_EXPORT_DAYS"]
