"""Uploaded customer files: saved under a random name in the workspace's spool folder (IMPORT_DIR, outside the
web root), sniffed by crm/imports/reading.py, removed again when refused, and swept once the import is past its
undo window (the staged rows keep what undo, the error file and the customer's import card need). The user's file
name is kept only to show it."""
import os
import secrets
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.imports import reading
from crm.imports.models import Import
from crm.imports.service import MAPPABLE, UNDO_DAYS, file_kept
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job
from tenants.binding import current_tenant

CHUNK = 1024 * 1024
# What the mapping page offers when the reader was not sure of a CSV's encoding: codec name, label.
ENCODINGS = (("utf-8", "UTF-8"), ("gb18030", "GB18030 / GBK (简体中文)"), ("big5", "Big5 (繁體中文)"),
             ("utf-16", "UTF-16"), ("shift_jis", "Shift JIS (日本語)"), ("cp1252", "Windows-1252 (Western)"))


def spool_dir() -> Path:
    """This workspace's folder for uploads, made when first needed."""
    base = current_app.config.get("IMPORT_DIR") or os.path.join(current_app.instance_path, "imports")
    folder = Path(base) / current_tenant().schema
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(stream, max_bytes: int) -> tuple[str, dict]:
    """Write the uploaded `stream` to the spool folder and sniff it: (path, what the reader learnt as a dict).
    A refused file (empty, too big, not a table) is deleted and Invalid({"file": ...}) raised."""
    path = spool_dir() / secrets.token_hex(16)
    try:
        with open(path, "wb") as out:
            _copy(stream, out, max_bytes)
        return str(path), asdict(reading.sniff(path, max_bytes=max_bytes))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def too_big(max_bytes: int) -> str:
    """The reader's own message for a file over the cap, for a request refused before the file was read."""
    return _("The file is over %(limit)s MB; split it into smaller files.", limit=f"{max_bytes / 1024 / 1024:g}")


def _copy(stream, out, max_bytes: int) -> None:
    """Copy at most one byte past the cap: enough for sniff() to refuse an oversized file by its size."""
    left = max_bytes + 1
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            return
        out.write(chunk)
        left -= len(chunk)


def resniff(imp: Import, encoding: str | None, sheet: str | None, max_bytes: int) -> None:
    """Read the import's file again in the encoding or sheet the user chose; a changed file needs a new mapping."""
    if imp.status not in MAPPABLE:
        raise Invalid({"file": _("This import is already running or done.")})
    if encoding and encoding not in dict(ENCODINGS) and encoding != imp.file_info.get("encoding"):
        raise Invalid({"file": _("Choose one of the listed values.")})  # not any codec: rot13 or zlib read no text
    file_kept(imp)
    info = reading.sniff(imp.file_path, encoding=encoding or None, sheet=sheet, max_bytes=max_bytes)
    imp.file_info, imp.mapping, imp.status, imp.counts = asdict(info), {}, "uploaded", {}



@tenant_job
def sweep_spool(grace_seconds: float = 3600) -> int:
    """Delete the workspace's spooled files no longer needed: those of imports idle for the undo window (a
    waiting one then asks for the file again), and those no import names (an upload whose transaction failed)
    older than the grace time. Returns how many."""
    folder = spool_dir()
    idle_since = func.coalesce(Import.finished_at, Import.created_at)
    stale = select(Import.file_path).where(Import.status.not_in(("checking", "importing")),
                                           idle_since < utcnow() - timedelta(days=UNDO_DAYS))
    kept = select(Import.file_path).where(Import.file_path.not_in(stale))
    doomed = {Path(p).name for p in db.session.scalars(stale) if Path(p).parent == folder}
    named = {Path(p).name for p in db.session.scalars(kept) if Path(p).parent == folder}
    cutoff = time.time() - grace_seconds
    removed = 0
    for path in folder.iterdir():
        if path.name in doomed or (path.name not in named and path.stat().st_mtime < cutoff):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@platform_job
def sweep_spool_all() -> int:
    """Queue one spool sweep per active workspace."""
    return enqueue_for_active_tenants(sweep_spool)
