"""List exports: count and audit, then stream the rows as CSV or XLSX; a long list is written by a job into a
file of the workspace's export folder, which its member fetches through a signed link for EXPORT_LINK_HOURS.

The link names (tenant, member, list, format, expiry, serial): it works only for that member signed in to that
workspace, until it expires; the file is deleted by the hourly cleanup once it has."""
import io
import math
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from crm import public_links, spreadsheets
from crm.audit.service import MASK, record
from crm.exports.sources import RESOURCES, TITLES, Source, build
from crm.extensions import db, utcnow
from crm.followups.reminders import locale_of
from crm.jobs import enqueue_after_commit, platform_job, tenant_job
from crm.members.models import Member
from crm.notify import outbox
from crm.web import absolute_url
from tenants.binding import current_tenant, tenant_bound

KINDS = tuple(TITLES)
PURPOSE = "export-file"
# Arguments that say how to export, not which rows: kept out of the audit entry's filter summary.
HOW = ("format", "fields", "col", "after")


def count(source: Source) -> int:
    return db.session.scalar(select(func.count()).select_from(source.stmt.order_by(None).subquery()))


def audit(source: Source, fmt: str, rows: int, args: MultiDict, member: Member) -> None:
    """One entry per export: the list, format, rows and filters; a second, a reveal, when sensitive values are
    written in full."""
    filters = urlencode([(k, v) for k, v in args.items(multi=True) if k not in HOW and v])
    record("export", source.kind, summary=f"{fmt.upper()}, {rows} rows" + (f", {filters}" if filters else ""),
           actor=member)
    if source.revealed:
        record("reveal", "customer", summary=f"export of {rows} customers",
               changes={name: [MASK, MASK] for name in source.revealed}, actor=member)


def filename(kind: str, fmt: str) -> str:
    return f"{kind}-{utcnow().strftime('%Y%m%d-%H%M')}.{fmt}"


def chunks(source: Source, fmt: str) -> Iterator[bytes]:
    """The export's bytes: CSV row by row; XLSX written whole (write-only, so the rows never sit in memory)."""
    rows = _with_headings(source)
    if fmt == "csv":
        yield from spreadsheets.csv_chunks(rows)
        return
    out = io.BytesIO()
    spreadsheets.write_xlsx(rows, str(TITLES[source.kind]), out)
    yield out.getvalue()


def streamed(tenant, locale: str, source: Source, fmt: str) -> Iterator[bytes]:
    """chunks() for a streamed response: the rows are read after the view has returned and the request has let
    go of its tenant and its signed-in account, so the tenant is bound again and the reader's language kept."""
    with tenant_bound(tenant), force_locale(locale):
        yield from chunks(source, fmt)


def _with_headings(source: Source):
    yield source.headings()
    yield from source.rows()


def query_string(args: MultiDict) -> str:
    return urlencode(list(args.items(multi=True)))


def start_job(member: Member, kind: str, fmt: str, all_fields: bool, args: MultiDict) -> None:
    """Write the export in the background (the exports queue); the member gets a message with the link."""
    enqueue_after_commit(write_export, current_tenant().id, member.id, kind, fmt, all_fields, query_string(args),
                         queue_name="exports", job_timeout=3600)


@tenant_job
def write_export(member_id: int, kind: str, fmt: str, all_fields: bool, query: str) -> None:
    member = db.session.get(Member, member_id)
    if member is None or not member.active or not member.can(RESOURCES[kind], "export"):
        return
    args = MultiDict(parse_qsl(query, keep_blank_values=False))
    locale = locale_of(member)
    with force_locale(locale):
        source = build(kind, member, args, all_fields)
        rows = count(source)
        # Record ids in a link stay below 2**31: the expiry is counted in hours since 1970.
        expires = math.ceil((time.time() + current_app.config["EXPORT_LINK_HOURS"] * 3600) / 3600)
        ids = (current_tenant().id, member.id, KINDS.index(kind) + 1, spreadsheets.FORMATS.index(fmt) + 1, expires,
               secrets.randbelow(2 ** 31 - 1) + 1)
        path = file_path(ids)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".part"), "wb") as out:
            for chunk in chunks(source, fmt):
                out.write(chunk)
        path.with_suffix(".part").rename(path)
        audit(source, fmt, rows, args, member)
        token = public_links.make_token(PURPOSE, *ids)
        link = absolute_url("exports.file", slug=current_tenant().slug, t=token)
        outbox.schedule(channel="inapp", kind="export_ready", recipient=str(member.id), member_id=member.id,
                        key=f"export:{ids[-1]}", language=locale[:2],
                        payload={"list": str(TITLES[kind]), "rows": rows, "link": link,
                                 "hours": int(current_app.config["EXPORT_LINK_HOURS"]),
                                 "format": fmt.upper()})


def export_dir() -> Path:
    return Path(current_app.config["EXPORT_DIR"] or Path(current_app.instance_path) / "exports")


def file_path(ids: tuple[int, ...]) -> Path:
    """tenant/member-list-format-expiry-serial.format: the token's ids name the file, so nothing is stored."""
    tenant_id, *rest = ids
    return export_dir() / str(tenant_id) / ("-".join(map(str, rest)) + "." + spreadsheets.FORMATS[ids[3] - 1])


def file_for(token: str, tenant_id: int, member: Member) -> tuple[Path, str] | None:
    """The file a link names and its download name, for the member it was made for, in its workspace, before it
    expires and while the member may still export that list; else None."""
    ids = public_links.read_token(PURPOSE, token, 6)
    if ids is None:
        return None
    tenant, member_id, kind_no, format_no, expires, _serial = ids
    if (tenant, member_id) != (tenant_id, member.id) or expires * 3600 < time.time():
        return None
    if kind_no > len(KINDS) or format_no > len(spreadsheets.FORMATS):
        return None
    kind, fmt = KINDS[kind_no - 1], spreadsheets.FORMATS[format_no - 1]
    path = file_path(ids)
    if not member.can(RESOURCES[kind], "export") or not path.is_file():
        return None
    return path, filename(kind, fmt)


@platform_job
def remove_expired() -> int:
    """Delete every export file whose link has expired (and parts of writes that died); returns how many."""
    removed, now = 0, time.time()
    for path in export_dir().glob("*/*"):
        parts = path.stem.split("-")
        expired = len(parts) == 5 and parts[3].isdigit() and int(parts[3]) * 3600 < now
        stale = path.suffix == ".part" and path.stat().st_mtime < now - timedelta(hours=6).total_seconds()
        if expired or stale:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def started_message() -> str:
    return _("The export is being prepared. You will find its link under Messages when it is ready.")
