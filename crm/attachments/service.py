"""Files kept with records: upload, list, fetch, rename, delete, and the workspace's storage use.

A file is reached only through its record: `get_file` loads the record with its own feature's getter (the
viewer's scope for that record kind, 404 outside it), and a file of a customer in the trash is not found. Stored
files are written before the transaction commits and removed after a delete commits (`remove_after_commit`);
whatever a failed transaction leaves behind, the hourly sweep (jobs.py) removes.
"""
import hashlib
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event, exists, func, or_, select

from crm import storage
from crm.attachments import files
from crm.attachments.kinds import KINDS, Kind
from crm.attachments.models import Attachment
from crm.audit.service import record as audit_record
from crm.billing.service import check_room
from crm.customers.models import Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.models import Member
from crm.timeline import service as timeline
from tenants.binding import current_tenant


@dataclass
class Upload:
    """One file of an upload as the request gave it: the browser's name and a readable, seekable stream."""

    name: str
    stream: object


def workspace_storage() -> storage.Storage:
    """The bound workspace's storage namespace."""
    return storage.storage_for(current_tenant().schema)


def live():
    """Files whose customer is not in the trash (a trashed customer's files are hidden until restored)."""
    return or_(Attachment.customer_id.is_(None),
               exists().where(Customer.id == Attachment.customer_id, Customer.deleted_at.is_(None)))


def files_of(kind: Kind, record) -> list[Attachment]:
    """The record's files, newest first (thumbnails not loaded)."""
    column = getattr(Attachment, f"{kind.key}_id")
    stmt = select(Attachment).where(Attachment.kind == kind.key, column == record.id, live())
    return list(db.session.scalars(stmt.order_by(Attachment.id.desc())))


def get_file(viewer: Member, kind: Kind, file_id: int, action: str = "view") -> tuple[Attachment, object]:
    """The file and its record, when the viewer may `action` the record; else NotFound."""
    attachment = db.session.scalar(select(Attachment).where(
        Attachment.id == file_id, Attachment.kind == kind.key, live()))
    if attachment is None:
        raise NotFound()
    return attachment, kind.load(viewer, attachment.record_id, action)


def add_files(viewer: Member, kind: Kind, record, uploads: list[Upload]) -> list[Attachment]:
    """Check every file first (one refusal keeps none), then store them, add their rows, and put each on the
    record's timeline and in the audit log."""
    config = current_app.config
    if not uploads:
        raise Invalid({"files": _("Choose one or more files.")})
    if len(uploads) > config["ATTACHMENT_MAX_FILES"]:
        raise Invalid({"files": _("Upload at most %(n)d files at once.", n=config["ATTACHMENT_MAX_FILES"])})
    checked = [_checked(upload, config) for upload in uploads]
    check_room("storage_bytes", storage_used, adding=sum(size for _upload, _name, size, _type in checked))
    store = workspace_storage()
    added = []
    for upload, name, size, content_type in checked:
        attachment = _stored(store, viewer, kind, record, upload.stream, name, size, content_type)
        added.append(attachment)
    db.session.flush()
    for attachment in added:
        _tell("file_added", "create", kind, record, attachment)
    return added


def _checked(upload: Upload, config) -> tuple[Upload, str, int, str]:
    name = files.clean_name(upload.name) or "file"
    stream = upload.stream
    size = stream.seek(0, 2)
    stream.seek(0)
    content_type = files.detect(stream.read(files.HEAD))
    stream.seek(0)
    files.check(name, size, content_type, config["ATTACHMENT_MAX_BYTES"])
    return upload, name, size, content_type


def _stored(store, viewer: Member, kind: Kind, record, stream, name: str, size: int, content_type: str) -> Attachment:
    digest = hashlib.file_digest(stream, "sha256").hexdigest()
    stream.seek(0)
    thumb = files.thumbnail(stream, content_type, current_app.config["ATTACHMENT_MAX_PIXELS"])
    key = storage.new_key()
    store.put(key, stream)
    attachment = Attachment(kind=kind.key, customer_id=kind.customer_of(record), name=name, size=size,
                            content_type=content_type, sha256=digest, storage_key=key, thumbnail=thumb,
                            has_thumbnail=thumb is not None, uploaded_by_id=viewer.id,
                            uploaded_by_name=viewer.name)
    setattr(attachment, f"{kind.key}_id", record.id)
    if kind.key != "deal" and getattr(record, "deal_id", None):  # a deal's follow-up: on the deal's timeline too
        attachment.deal_id = record.deal_id
    db.session.add(attachment)
    return attachment


def rename(attachment: Attachment, new_name: str) -> None:
    """Give the file another name (cleaned as an upload's is); audited."""
    name = files.clean_name(new_name)
    if not name:
        raise Invalid({"name": _("Enter a name.")})
    if name != attachment.name:
        audit_record("update", "attachment", attachment.id, summary=name,
                     changes={"name": [attachment.name, name]})
        attachment.name = name


def delete(kind: Kind, attachment: Attachment, record) -> None:
    """Delete the file: its row now, its stored bytes once the transaction commits."""
    _tell("file_removed", "delete", kind, record, attachment)
    remove_after_commit([attachment.storage_key])
    db.session.delete(attachment)
    db.session.flush()


def _tell(event_kind: str, action: str, kind: Kind, record, attachment: Attachment) -> None:
    """The record's timeline and the audit log."""
    endpoint, values = kind.page(record.id)
    timeline.log(event_kind, customer_id=attachment.customer_id, deal_id=attachment.deal_id,
                 link=(endpoint, values), name=attachment.name,
                 record=timeline.in_both_languages(lambda: kind.name(record)))
    audit_record(action, "attachment", attachment.id, summary=attachment.name,
                 changes={"name": [None, attachment.name] if action == "create" else [attachment.name, None],
                          "size": [None, attachment.size] if action == "create" else [attachment.size, None],
                          "content_type": [None, attachment.content_type] if action == "create"
                          else [attachment.content_type, None]})


def remove_after_commit(keys: list[str]) -> None:
    """Delete these stored files when the current transaction commits; a rollback keeps them."""
    store, pending = workspace_storage(), {"keys": keys}

    def remove(_session):
        for key in pending.pop("keys", ()):
            try:
                store.delete(key)
            except Exception:  # the row is gone; the hourly sweep removes what is left over
                current_app.logger.exception("stored file %s not removed", key)

    def forget(_session, *_args):
        pending.pop("keys", None)

    session = db.session()
    event.listen(session, "after_commit", remove, once=True)
    event.listen(session, "after_rollback", forget, once=True)


def storage_used() -> int:
    """Bytes the bound workspace's files take (plan limits will read it)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(Attachment.size), 0))))


def open_file(attachment: Attachment):
    return workspace_storage().open(attachment.storage_key)


def previewable(attachment: Attachment) -> bool:
    """Whether the browser may show it: a PDF, or an image Pillow read within the pixel cap."""
    return attachment.content_type == "application/pdf" or (
        attachment.content_type in files.IMAGES and attachment.has_thumbnail)


def card(viewer: Member, kind_key: str, record, errors: dict | None = None) -> dict:
    """What a record page's Files card shows: its files, whether the viewer may change them, the storage use."""
    kind = KINDS[kind_key]
    return {"attachments": _card(kind, record.id, files_of(kind, record), _may_edit(viewer, kind, record.id),
                                 errors)}


def comment_cards(viewer: Member, ticket, comments) -> dict[int, dict]:
    """The files under each comment of a ticket, by comment id: one query for all of them."""
    kind = KINDS["ticket_comment"]
    ids = [comment.id for comment in comments]
    found = {comment_id: [] for comment_id in ids}
    for attachment in db.session.scalars(select(Attachment).where(
            Attachment.kind == kind.key, Attachment.ticket_comment_id.in_(ids), live()).order_by(Attachment.id)):
        found[attachment.ticket_comment_id].append(attachment)
    may_edit = _may_edit(viewer, KINDS["ticket"], ticket.id)
    return {comment_id: _card(kind, comment_id, kept, may_edit) for comment_id, kept in found.items()}


def _may_edit(viewer: Member, kind: Kind, record_id: int) -> bool:
    try:
        kind.load(viewer, record_id, "edit")
        return True
    except NotFound:
        return False


def _card(kind: Kind, record_id: int, kept: list[Attachment], may_edit: bool, errors: dict | None = None) -> dict:
    return {"kind": kind.key, "record_id": record_id, "files": kept, "may_edit": may_edit,
            "previewable": {f.id for f in kept if previewable(f)}, "compact": kind.compact,
            "used": None if kind.compact else storage_used(), "errors": errors or {},
            "max_mb": current_app.config["ATTACHMENT_MAX_BYTES"] / 2**20}
