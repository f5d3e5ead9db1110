"""Workspace backups: taken into the storage backend (nightly, or "Back up now"), listed, downloaded, and restored as
a new workspace or over the workspace itself. The mechanics (snapshot, archive, checks, restore aside, swap) are
tenancy's: tenants/backup.py; this module adds the files, the storage, the members and the messages.

Backups of a workspace live in the storage namespace `backups/<schema>` under random keys (never guessable, never
among the attachments' keys, which the hourly sweep would take for orphans). The newest BACKUP_KEEP are kept."""
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from crm.accounts.models import Account
from crm.accounts.service import slug_message
from crm.audit.service import record
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.models import Member
from crm.storage import KEY, new_key, storage_for
from tenants import backup
from tenants.backup import BackupRefused
from tenants import roles
from tenants.models import Membership, Tenant, schema_name


def refusal(error: BackupRefused) -> str:
    """What an operator or an admin is told about an archive that cannot be restored."""
    messages = {
        "unreadable": _("This file is not a workspace backup."),
        "foreign": _("This backup was made by another installation (another secret key) and cannot be restored "
                     "here."),
        "altered": _("This backup has been altered or damaged since it was made; nothing was restored."),
        "format": _("This backup was made by another version of the app and cannot be read."),
        "newer": _("This backup was made by a newer version of the app; upgrade first."),
        "other_workspace": _("This backup belongs to another workspace."),
    }
    return messages[error.reason]


def backup_storage(schema: str):
    return storage_for(f"backups/{schema}")


def workspace_files(schema: str):
    return storage_for(schema)


def secret() -> str:
    return current_app.secret_key


@dataclass
class BackupInfo:
    key: str
    created_at: datetime
    bytes: int
    head: str
    tables: int
    files: int


# ------------------------------------------------------------------ taking backups

def write_to(tenant, out) -> dict:
    """A backup of `tenant` (a Tenant or TenantRef) written to the stream `out`; returns its manifest."""
    return backup.write_backup(tenant, workspace_files(schema_name(tenant.id)), out, secret())


def take_backup(tenant) -> tuple[str, dict]:
    """A backup of `tenant` into its backup storage, the oldest beyond BACKUP_KEEP removed; (key, manifest)."""
    schema, key = schema_name(tenant.id), new_key()
    with tempfile.TemporaryFile(prefix="crm-backup-") as spool:
        manifest = write_to(tenant, spool)
        spool.seek(0)
        backup_storage(schema).put(key, spool)
    prune(schema, current_app.config["BACKUP_KEEP"])
    return key, manifest


def prune(schema: str, keep: int) -> int:
    """Delete all but the newest `keep` backups of a workspace; returns how many went."""
    store = backup_storage(schema)
    stored = sorted(store.keys(), key=lambda entry: entry[1], reverse=True)
    for key, _stored_at in stored[keep:]:
        store.delete(key)
    return max(0, len(stored) - keep)


def list_backups(schema: str) -> list[BackupInfo]:
    """The workspace's backups, newest first, read from each archive's signed manifest (its first bytes)."""
    store, found = backup_storage(schema), []
    for key, stored_at in store.keys():
        with store.open(key) as stream:
            try:
                manifest = backup.read_manifest(stream, secret())
            except BackupRefused:
                continue  # not one this installation can restore: not offered
        found.append(BackupInfo(key, datetime.fromisoformat(manifest["created_at"]), manifest["bytes"],
                                manifest["head"], len(manifest["tables"]), len(manifest["files"])))
    return sorted(found, key=lambda b: b.created_at, reverse=True)


def open_backup(schema: str, key: str):
    """A stored backup's stream; NotFound unless it is one of the workspace's."""
    if not KEY.fullmatch(key) or key not in {k for k, _stored_at in backup_storage(schema).keys()}:
        raise NotFound()
    return backup_storage(schema).open(key)


def chunks(stream):
    with stream:
        while chunk := stream.read(backup.CHUNK):
            yield chunk


def check_new_address(key: str, slug: str, schema: str) -> str:
    """The address typed for a restored copy, checked before the job starts (the job checks it again)."""
    open_backup(schema, key).close()
    slug = slug.strip().lower()
    with roles.as_login_role():  # the workspace's role may not read public.tenants
        problem = slug_message(slug)
    if problem:
        raise Invalid({"slug": problem})
    return slug


def check_replace(key: str, typed: str, tenant) -> None:
    """Replacing needs the workspace's name typed exactly."""
    open_backup(tenant.schema, key).close()
    if typed.strip() != tenant.name:
        raise Invalid({"confirm": _("Type the workspace's name, %(name)s, to confirm.", name=tenant.name)})


@contextmanager
def fetched(schema: str, key: str):
    """A stored backup of the workspace as a local file (restores read it twice: check, then load)."""
    store = backup_storage(schema)
    if not KEY.fullmatch(key) or key not in {k for k, _stored_at in store.keys()}:
        raise Invalid({"backup": _("This backup is no longer there.")})
    with tempfile.NamedTemporaryFile(prefix="crm-restore-") as local:
        with store.open(key) as stream:
            while chunk := stream.read(backup.CHUNK):
                local.write(chunk)
        local.flush()
        yield Path(local.name)


# ------------------------------------------------------------------ restoring

def restore_as_new(path: Path, slug: str, name: str | None = None) -> Tenant:
    """The archive as a new workspace at `slug`, with the same members (those whose accounts still exist), in the
    current transaction once the schema is built; the caller commits. The original is not touched."""
    if problem := slug_message(slug):
        raise Invalid({"slug": problem})
    restored = backup.restore_aside(path, secret())
    try:
        _put_files(path, restored.manifest, restored.schema)
        tenant = Tenant(id=restored.tenant_id, slug=slug, name=name or restored.manifest["tenant"]["name"],
                        status="active")
        db.session.add(tenant)
        db.session.flush()
        with roles.acting_as(restored.schema) as in_schema:
            account_ids = set(db.session.scalars(  # integrations have no account
                select(Member.account_id).where(Member.active, Member.account_id.is_not(None)),
                execution_options=in_schema))
            backup.rebind_restored(schema_name(restored.manifest["tenant"]["id"]), restored.schema, in_schema)
        _add_memberships(tenant, account_ids)
    except BaseException:
        backup.discard(restored.schema)
        raise
    return tenant


def replace(path: Path, tenant_id: int | None = None) -> backup.Restored:
    """Replace the data and files of workspace `tenant_id` (default: the one the archive was taken of) with the
    archive's, which must be one of its own backups: built aside first, then swapped in by one transaction; a
    failure before that leaves the workspace as it was."""
    manifest = backup.verify_archive(path, secret())
    if tenant_id is None:
        tenant_id = manifest["tenant"]["id"]
    if manifest["tenant"]["id"] != tenant_id or db.session.get(Tenant, tenant_id) is None:
        raise BackupRefused("other_workspace")
    restored = backup.restore_aside(path, secret())
    live = schema_name(tenant_id)
    try:
        # Keys are random and a key's content never changes, so putting them back beside today's files changes
        # nothing the workspace sees; files only today's rows named become orphans for the hourly sweep.
        _put_files(path, restored.manifest, live)
    except BaseException:
        backup.discard(restored.schema)
        raise
    backup.swap_into(restored, live)
    return restored


def _put_files(path: Path, manifest: dict, schema: str) -> None:
    store = workspace_files(schema)
    for key, stream in backup.archive_files(path, manifest):
        store.put(key, stream)


def _add_memberships(tenant: Tenant, account_ids: set[int]) -> None:
    """Memberships for the restored workspace's active members whose accounts still exist."""
    existing = db.session.scalars(select(Account.id).where(Account.id.in_(account_ids))).all()
    db.session.add_all(Membership(account_id=account_id, tenant_id=tenant.id) for account_id in existing)


def audit(action: str, summary: str, actor=None) -> None:
    """An entry in the bound workspace's audit log (entity `backup`)."""
    record(action, "backup", summary=summary, actor=actor)


def summary(manifest: dict) -> str:
    rows = sum(table["rows"] for table in manifest["tables"])
    return f"{manifest['created_at']}: {rows} rows, {len(manifest['files'])} files, {manifest['head']}"
