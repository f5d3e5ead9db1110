"""A backup of one tenant, and its restore into a new schema, without pg_dump.

A backup is a tar archive: `manifest.json` first (so a listing reads only the start of an archive), its HMAC in
`manifest.sig`, then each table's rows as `COPY ... TO STDOUT` text (gzip) and each stored file. Every table is
read in one REPEATABLE READ, READ ONLY transaction as the tenant's role, so the rows are one consistent snapshot;
its cost depends on that tenant only (pg_dump -n reads every sequence of the database: docs/benchmarks.md). The
manifest names the format, the tenant, the migration head the schema was at, each table's columns, rows and SHA-256,
the sequences' values, each file's key, size and SHA-256, and the installation that signed it.

The HMAC key is derived from the app's SECRET_KEY, and the manifest carries the key's fingerprint (a second HMAC,
never the key). So an archive from another installation (another SECRET_KEY: the definition of "foreign") is
told apart from an altered one, and both are refused before anything is built.

A restore never writes into a live schema first: it reserves a tenant id (as spare schemas do), builds `t_<id>`
with its own role at the archive's head (the provisioning DDL when that is the current head, else the tenant track's
migrations up to it), loads every table in one transaction (foreign keys dropped and added back, so the order of
the tables does not matter and the keys are checked once), sets the sequences past the restored ids, then migrates
it to the current head. The caller either makes it a new tenant, or swaps it into a live tenant with `swap_into`:
one transaction, as the live tenant's role, that empties the live tables and fills them from the restored schema.
(Renaming schemas would need CREATE on the database for the tenant's role, which tenant roles never get.) Anything
that fails drops the schema it was building; the live tenant is untouched until that last transaction commits.

Files are given as a storage of the tenant (crm/storage.py's interface: keys, open, put); tenants/ knows no more.
"""
import gzip
import hashlib
import hmac
import io
import json
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import text

from crm.extensions import db
from tenants import roles
from tenants.models import schema_name

FORMAT = 1
KIND = "crm-workspace-backup"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
CHUNK = 1024 * 1024

# The schema's own relations, found through pg_depend's index on what they depend on (their schema): a filter on
# pg_class.relnamespace would read all of pg_class, which holds every tenant's tables (about 200 rows a tenant).
_RELATIONS = """
with rel as (select c.oid, c.relname, c.relkind from pg_depend d join pg_class c on c.oid = d.objid
              where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_namespace'::regclass
                and d.refobjid = to_regnamespace(:s) and d.deptype = 'n')
"""
_TABLES = _RELATIONS + """
select rel.relname::text, array_agg(a.attname::text order by a.attnum)
  from rel join pg_attribute a on a.attrelid = rel.oid and a.attnum > 0 and not a.attisdropped
 where rel.relkind = 'r' and rel.relname <> 'alembic_version' and a.attgenerated = ''
 group by rel.relname order by rel.relname
"""
_SEQUENCES = _RELATIONS + "select relname::text from rel where relkind = 'S' order by 1"
# Each sequence with every column whose default draws from it (the schema's one `ids` sequence serves every table).
_SEQUENCE_COLUMNS = _RELATIONS + """
select rel.relname::text, t.relname::text, a.attname::text from rel
  join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = rel.oid
                  and d.classid = 'pg_attrdef'::regclass
  join pg_attrdef ad on ad.oid = d.objid
  join pg_class t on t.oid = ad.adrelid join pg_attribute a on a.attrelid = t.oid and a.attnum = ad.adnum
 where rel.relkind = 'S'
"""
_LOOSE_INDEXES = _RELATIONS + """
select quote_ident(i.relname), pg_get_indexdef(i.oid)
  from rel join pg_index x on x.indrelid = rel.oid join pg_class i on i.oid = x.indexrelid
 where rel.relkind = 'r' and rel.relname <> 'alembic_version'
   and not exists (select 1 from pg_constraint c where c.conrelid = rel.oid and c.conindid = x.indexrelid)
 order by 1
"""
_FOREIGN_KEYS = _RELATIONS + """
select c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid)
  from rel join pg_constraint c on c.conrelid = rel.oid and c.contype = 'f' order by c.conname
"""


def sequence_values(connection, schema: str) -> dict[str, int]:
    """What each sequence of `schema` has given out (0: nothing yet), in one query."""
    names = connection.execute(text(_SEQUENCES), {"s": schema}).scalars().all()
    if not names:
        return {}
    return dict(connection.execute(text(" union all ".join(
        f"select :n{i}, case when is_called then last_value else 0 end from {q(schema)}.{q(name)}"
        for i, name in enumerate(names))), {f"n{i}": name for i, name in enumerate(names)}).all())


class BackupRefused(Exception):
    """An archive that may not be restored; crm/backups/service.py `refusal()` says each `reason` to people."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"crm workspace backup", hashlib.sha256).digest()


def installation(secret: str) -> str:
    """The fingerprint of this installation's backup key: tells a foreign archive from an altered one."""
    return hmac.new(_key(secret), b"installation", hashlib.sha256).hexdigest()[:16]


def _sign(manifest: bytes, secret: str) -> bytes:
    return hmac.new(_key(secret), manifest, hashlib.sha256).hexdigest().encode()


def q(name: str) -> str:
    return roles.quoted(name)


# ------------------------------------------------------------------ backup

def write_backup(tenant, files, out: BinaryIO, secret: str) -> dict:
    """Write a backup of `tenant` (id, slug, name) and its stored `files` to `out`; returns the manifest."""
    with tempfile.TemporaryDirectory(prefix="crm-backup-") as folder:
        spool = Path(folder)
        manifest = {"format": FORMAT, "kind": KIND, "installation": installation(secret),
                    "tenant": {"id": tenant.id, "slug": tenant.slug, "name": tenant.name},
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        manifest.update(_snapshot(schema_name(tenant.id), spool))
        manifest["files"] = _spool_files(files, spool)
        manifest["bytes"] = sum(t["bytes"] for t in manifest["tables"]) + sum(f["size"] for f in manifest["files"])
        body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            _add_bytes(archive, MANIFEST, body)
            _add_bytes(archive, SIGNATURE, _sign(body, secret))
            for table in manifest["tables"]:
                archive.add(spool / table["member"], arcname=table["member"], recursive=False, filter=_plain)
            for entry in manifest["files"]:
                archive.add(spool / "files" / entry["key"], arcname=f"files/{entry['key']}", filter=_plain)
    return manifest


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    return info


def _add_bytes(archive: tarfile.TarFile, name: str, body: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(body), 0o600
    archive.addfile(info, io.BytesIO(body))


def _snapshot(schema: str, spool: Path) -> dict:
    """Every table of `schema` in one consistent read, spooled as gzip'd COPY text; the head and sequences."""
    (spool / "tables").mkdir()
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            roles.switch_to(connection, schema)
            head = connection.exec_driver_sql(f"select version_num from {q(schema)}.alembic_version").scalar()
            tables = connection.execute(text(_TABLES), {"s": schema}).all()
            sequences = sequence_values(connection, schema)
            cursor = connection.connection.driver_connection.cursor()
            entries = [_copy_out(cursor, schema, name, columns, spool) for name, columns in tables]
    return {"head": head, "tables": entries, "sequences": sequences}


def _copy_out(cursor, schema: str, table: str, columns: list[str], spool: Path) -> dict:
    member, digest, size = f"tables/{table}.copy.gz", hashlib.sha256(), 0
    with gzip.open(spool / member, "wb", compresslevel=1) as out:
        with cursor.copy(f"COPY {q(schema)}.{q(table)} ({', '.join(map(q, columns))}) TO STDOUT") as copy:
            for chunk in copy:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    return {"name": table, "columns": columns, "rows": cursor.rowcount, "bytes": size,
            "sha256": digest.hexdigest(), "member": member}


def _spool_files(files, spool: Path) -> list[dict]:
    folder = spool / "files"
    folder.mkdir()
    entries = []
    for key, _stored_at in sorted(files.keys()):
        digest, size = hashlib.sha256(), 0
        with files.open(key) as stream, open(folder / key, "wb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        entries.append({"key": key, "size": size, "sha256": digest.hexdigest()})
    return entries


# ------------------------------------------------------------------ reading an archive

def read_manifest(stream: BinaryIO, secret: str) -> dict:
    """The signed manifest at the start of an archive stream; refused when unreadable, foreign or altered."""
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            body = signature = None
            for member in archive:
                if member.name == MANIFEST and body is None:
                    body = archive.extractfile(member).read()
                elif member.name == SIGNATURE and body is not None:
                    signature = archive.extractfile(member).read()
                    break
                else:
                    break
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupRefused("unreadable", str(error))
    if body is None or signature is None:
        raise BackupRefused("unreadable", "no signed manifest at the start")
    try:
        manifest = json.loads(body)
    except ValueError as error:
        raise BackupRefused("altered", str(error))
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise BackupRefused("unreadable", "not a workspace backup")
    if manifest.get("installation") != installation(secret):
        raise BackupRefused("foreign")
    if not hmac.compare_digest(signature, _sign(body, secret)):
        raise BackupRefused("altered", "the manifest's signature does not match")
    if manifest.get("format") != FORMAT:
        raise BackupRefused("format", str(manifest.get("format")))
    return manifest


def verify_archive(path: Path, secret: str) -> dict:
    """Check the manifest's signature and every table's and file's checksum; returns the manifest."""
    with open(path, "rb") as stream:
        manifest = read_manifest(stream, secret)
    expected = {t["member"]: (t["sha256"], True) for t in manifest["tables"]}
    expected.update({f"files/{f['key']}": (f["sha256"], False) for f in manifest["files"]})
    seen = set()
    try:
        with tarfile.open(path, mode="r|") as archive:
            for member in archive:
                if member.name in (MANIFEST, SIGNATURE):
                    continue
                if member.name not in expected or member.name in seen or not member.isfile():
                    raise BackupRefused("altered", f"{member.name} is not in the manifest")
                checksum, packed = expected[member.name]
                stream = archive.extractfile(member)
                if _sha256(gzip.GzipFile(fileobj=stream) if packed else stream) != checksum:
                    raise BackupRefused("altered", f"{member.name}: checksum mismatch")
                seen.add(member.name)
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as error:
        raise BackupRefused("altered", str(error))
    if missing := set(expected) - seen:
        raise BackupRefused("altered", f"missing: {', '.join(sorted(missing))}")
    return manifest


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def archive_files(path: Path, manifest: dict) -> Iterator[tuple[str, BinaryIO]]:
    """Each stored file of a verified archive: (key, stream)."""
    keys = {f"files/{f['key']}": f["key"] for f in manifest["files"]}
    with tarfile.open(path, mode="r:") as archive:  # not a stream: its members seek (boto3 asks them to)
        for member in archive:
            if member.name in keys:
                yield keys[member.name], archive.extractfile(member)


# ------------------------------------------------------------------ restore

# Values encrypted with the schema's name in their context (AES-GCM associated data: sensitive fields, channel
# secrets) cannot be read in a restored copy under another name until they are encrypted again for it. The features
# that store them register a function here, as seeders are registered (tenants/provisioning.py).
_rebinders: dict[str, Callable[[str, str, dict], None]] = {}


def rebinds_restored(func: Callable[[str, str, dict], None]) -> Callable[[str, str, dict], None]:
    """Register `func(old_schema, new_schema, in_schema)`, run when a backup of `old_schema` is restored as the new
    schema `new_schema`; `in_schema` are the execution options that put its statements there."""
    _rebinders[f"{func.__module__}.{func.__qualname__}"] = func
    return func


def rebind_restored(old_schema: str, new_schema: str, in_schema: dict) -> None:
    for name in sorted(_rebinders):
        _rebinders[name](old_schema, new_schema, in_schema)


@dataclass
class Restored:
    tenant_id: int  # reserved from public.tenants' sequence: the new tenant's id, or the staging schema's
    schema: str
    manifest: dict
    migrated_from: str | None  # the archive's head when it was older than the current one


def restore_aside(path: Path, secret: str) -> Restored:
    """Verify the archive, then build a new schema with its rows at the current head; the caller commits it as a
    new tenant or swaps it into a live one (`swap_into`), and drops it (`discard`) on failure."""
    from tenants.migrations import _scripts, TENANT_TRACK, upgrade_schema
    from tenants.provisioning import tenant_head

    manifest = verify_archive(path, secret)
    head = manifest["head"]
    try:
        _scripts(TENANT_TRACK).get_revision(head)
    except Exception:
        raise BackupRefused("newer", str(head))
    tenant_id = db.session.scalar(text("select nextval(pg_get_serial_sequence('public.tenants', 'id'))"))
    db.session.commit()
    schema = schema_name(tenant_id)
    try:
        _build_at(schema, head, tenant_head())
        _load(path, manifest, schema)
        if head != tenant_head():
            upgrade_schema(db.engine, schema)
    except BaseException:
        discard(schema)
        raise
    return Restored(tenant_id, schema, manifest, head if head != tenant_head() else None)


def _build_at(schema: str, head: str, current: str) -> None:
    """The empty tables of `schema` at `head`, owned by the schema's own role: the provisioning DDL at the current
    head (no seeds: the rows come from the archive), else the tenant track's migrations up to `head`."""
    from tenants.migrations import upgrade_schema
    from tenants.provisioning import build_tables

    with db.engine.begin() as connection:
        roles.create_schema(connection, schema)
    if head == current:
        build_tables(schema)
        db.session.commit()
    else:
        upgrade_schema(db.engine, schema, head)


@contextmanager
def _emptied_for_loading(connection, schema: str, tables) -> Iterator[None]:
    """Empty `tables` of `schema` for a bulk load, inside the current transaction: its foreign keys and the indexes
    no constraint needs are dropped first and made again after the load, as pg_restore does (a GIN index on the
    search grams maintained row by row made a 100,000-customer COPY take minutes), so the keys are checked once."""
    keys = connection.execute(text(_FOREIGN_KEYS), {"s": schema}).all()
    indexes = connection.execute(text(_LOOSE_INDEXES), {"s": schema}).all()
    connection.exec_driver_sql(";\n".join(
        [f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _definition in keys]
        + [f"DROP INDEX {q(schema)}.{name}" for name, _definition in indexes]
        + ["TRUNCATE " + ", ".join(f"{q(schema)}.{q(t)}" for t in tables)]))
    yield
    connection.exec_driver_sql(";\n".join(
        [definition for _name, definition in indexes]
        + [f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}" for table, name, definition in keys]))


def _load(path: Path, manifest: dict, schema: str) -> None:
    """Every table's rows in one transaction as the schema's role."""
    with db.engine.begin() as connection:
        roles.switch_to(connection, schema)
        built = {name: columns for name, columns in connection.execute(text(_TABLES), {"s": schema}).all()}
        tables = {t["member"]: t for t in manifest["tables"]}
        with _emptied_for_loading(connection, schema, built):
            cursor = connection.connection.driver_connection.cursor()
            with tarfile.open(path, mode="r|") as archive:
                for member in archive:
                    if member.name in tables:
                        _copy_in(cursor, schema, tables[member.name], built, archive.extractfile(member))
        _set_sequences(connection, schema, manifest["sequences"])


def _copy_in(cursor, schema: str, table: dict, built: dict, stream: BinaryIO) -> None:
    name, columns = table["name"], table["columns"]
    if name not in built or not set(columns) <= set(built[name]):
        raise BackupRefused("altered", f"table {name} does not match its head")
    digest, unpacked = hashlib.sha256(), gzip.GzipFile(fileobj=stream)
    with cursor.copy(f"COPY {q(schema)}.{q(name)} ({', '.join(map(q, columns))}) FROM STDIN") as copy:
        while chunk := unpacked.read(CHUNK):
            digest.update(chunk)
            copy.write(chunk)
    if digest.hexdigest() != table["sha256"] or cursor.rowcount != table["rows"]:
        raise BackupRefused("altered", f"table {name} changed while it was restored")


def _set_sequences(connection, schema: str, recorded: dict) -> None:
    """Each sequence past the largest value its columns hold, and never below what it had given out."""
    columns: dict[str, list[tuple[str, str]]] = {}
    for sequence, table, column in connection.execute(text(_SEQUENCE_COLUMNS), {"s": schema}).all():
        columns.setdefault(sequence, []).append((table, column))
    for sequence in connection.execute(text(_SEQUENCES), {"s": schema}).scalars():
        largest = recorded.get(sequence) or 0
        if sequence in columns:
            largest = max(largest, connection.exec_driver_sql(" union all ".join(
                f"select coalesce(max({q(column)}), 0) from {q(schema)}.{q(table)}"
                for table, column in columns[sequence]) + " order by 1 desc limit 1").scalar())
        if largest > 0:
            connection.execute(text("select setval(:seq, :value)"), {"seq": f"{q(schema)}.{q(sequence)}",
                                                                        "value": largest})


def swap_into(restored: Restored, live: str) -> None:
    """Replace the rows of the live schema `live` with the restored schema's, in one transaction as the live
    tenant's role (the restored schema's role first lets it read them); the restored schema is dropped after."""
    source = restored.schema
    with db.engine.begin() as connection:
        live_role = q(roles.tenant_role(connection, live))
        roles.switch_to(connection, source)
        connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {q(source)} TO {live_role};\n"
                                   f"GRANT SELECT ON ALL TABLES IN SCHEMA {q(source)} TO {live_role};\n"
                                   f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA {q(source)} TO {live_role}")
        connection.exec_driver_sql(f"SET LOCAL ROLE {live_role}")
        tables = dict(connection.execute(text(_TABLES), {"s": live}).all())
        restored_tables = dict(connection.execute(text(_TABLES), {"s": source}).all())
        if set(tables) != set(restored_tables):
            raise BackupRefused("altered", "the restored tables differ from the workspace's")
        with _emptied_for_loading(connection, live, tables):
            for table, columns in tables.items():
                listed = ", ".join(map(q, columns))
                connection.exec_driver_sql(f"INSERT INTO {q(live)}.{q(table)} ({listed}) OVERRIDING SYSTEM VALUE "
                                           f"SELECT {listed} FROM {q(source)}.{q(table)}")
        _set_sequences(connection, live, sequence_values(connection, source))
    discard(source)


def discard(schema: str) -> None:
    """Drop a schema a restore was building, with its role."""
    db.session.rollback()
    with db.engine.begin() as connection:
        roles.drop_schema(connection, schema)
