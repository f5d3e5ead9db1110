"""Back up a workspace, change it, restore the backup (as a new workspace, or over the workspace) and find every row
and every file as they were; a tampered or foreign archive is refused and changes nothing."""
import io
import json
import re
import tarfile

import pytest
from sqlalchemy import text

from tenants.backup import BackupRefused

# Encrypted for the schema they are in: a copy under another name holds them encrypted again for its own.
ENCRYPTED = ("id_number_enc", "id_number_idx", "bank_account_enc", "bank_account_idx", "custom_sensitive",
             "secret_enc")


def backup_to(app, tenant, path):
    from crm.backups import service
    from tenants.service import tenant_ref

    with app.app_context(), open(path, "wb") as out:
        return service.write_to(tenant_ref(tenant.id), out)


def change_and_delete(admin, acme, customer, make_customer):
    make_customer(acme, name="Added after the backup")
    assert admin.post(f"/{acme.slug}/customers/{customer}/delete").status_code in (200, 303)


def test_a_backup_restored_as_a_new_workspace_has_every_row_and_file(
        app, acme, admin, filled, make_customer, rows_of, files_of, tmp_path, client_as):
    from crm.backups import service
    from crm.extensions import db

    hook = admin.post(f"/{acme.slug}/settings/integrations/",
                      data={"url": "https://erp.example.com/hook", "events": ["order.paid"]})
    secret = re.search(r'id="new-secret">(whsec_[^<]+)<', hook.text).group(1)
    before_rows, before_files = rows_of(f"t_{acme.id}", ENCRYPTED), files_of(f"t_{acme.id}")
    manifest = backup_to(app, acme, tmp_path / "acme.tar")
    assert manifest["tenant"]["id"] == acme.id and len(before_files) == 2
    assert {t["name"]: t["rows"] for t in manifest["tables"]}["customers"] == 2
    change_and_delete(admin, acme, filled, make_customer)

    with app.app_context():
        tenant = service.restore_as_new(tmp_path / "acme.tar", f"{acme.slug}-copy")
        db.session.commit()
        new_id = tenant.id
    assert rows_of(f"t_{new_id}", ENCRYPTED) == before_rows
    assert files_of(f"t_{new_id}") == before_files
    assert rows_of(f"t_{acme.id}", ENCRYPTED) != before_rows  # the original keeps its changes

    copy = admin.get(f"/{acme.slug}-copy/customers/{filled}")  # same members: the admin is one
    assert copy.status_code == 200 and "张伟" in copy.text and "合同.pdf" in copy.text
    assert "7777" in copy.text  # the sensitive ID number reads, encrypted again for the copy's schema
    with app.app_context():  # and the webhook's signing secret, which the copy's deliveries sign with
        from crm.crypto import decrypt
        from crm.webhooks.service import secret_context

        token = db.session.execute(text(f"select secret_enc from t_{new_id}.webhook_subscriptions")).scalar_one()
        assert decrypt(token, secret_context(f"t_{new_id}")) == secret


def test_replace_brings_the_workspace_back_to_the_backup(
        app, acme, admin, filled, make_customer, rows_of, files_of, tmp_path):
    from crm.backups import service

    before_rows, before_files = rows_of(f"t_{acme.id}"), files_of(f"t_{acme.id}")
    backup_to(app, acme, tmp_path / "acme.tar")
    change_and_delete(admin, acme, filled, make_customer)
    assert rows_of(f"t_{acme.id}") != before_rows

    with app.app_context():
        restored = service.replace(tmp_path / "acme.tar", acme.id)
    assert rows_of(f"t_{acme.id}") == before_rows
    assert before_files.items() <= files_of(f"t_{acme.id}").items()
    with app.app_context():  # the schema built aside is gone with its role
        assert db_scalar("select count(*) from pg_namespace where nspname = :s", s=restored.schema) == 0
    page = admin.get(f"/{acme.slug}/customers/")
    assert "Added after the backup" not in page.text and "张伟" in page.text


def db_scalar(sql, **params):
    from crm.extensions import db

    return db.session.scalar(text(sql), params)


def rewritten(source, target, change):
    """A copy of an archive with `change(name, bytes) -> bytes` applied to each member."""
    with tarfile.open(source) as archive, tarfile.open(target, "w") as out:
        for member in archive:
            body = change(member.name, archive.extractfile(member).read())
            member.size = len(body)
            out.addfile(member, io.BytesIO(body))


@pytest.mark.parametrize("change", ["a row", "a file", "the manifest"])
def test_a_tampered_archive_is_refused_and_the_workspace_left_alone(
        app, acme, filled, rows_of, tmp_path, change):
    from crm.backups import service

    backup_to(app, acme, tmp_path / "acme.tar")
    before = rows_of(f"t_{acme.id}")

    def tamper(name, body):
        if change == "a row" and name == "tables/customers.copy.gz":
            import gzip
            return gzip.compress(gzip.decompress(body).replace("张伟".encode(), "张三".encode()))
        if change == "a file" and name.startswith("files/"):
            return body + b"!"
        if change == "the manifest" and name == "manifest.json":
            manifest = json.loads(body)
            manifest["tenant"]["name"] = "Someone else"
            return json.dumps(manifest).encode()
        return body

    rewritten(tmp_path / "acme.tar", tmp_path / "bad.tar", tamper)
    with app.app_context(), pytest.raises(BackupRefused) as refused:
        service.replace(tmp_path / "bad.tar", acme.id)
    assert refused.value.reason == "altered"
    with app.app_context():
        assert service.refusal(refused.value).startswith("This backup has been altered")
    assert rows_of(f"t_{acme.id}") == before
    with app.app_context():  # nothing built aside was left behind
        assert db_scalar("select count(*) from pg_namespace where nspname like 't\\_%' and nspname not in "
                         "(select 't_' || id from public.tenants)") == 0


def test_an_archive_from_another_installation_is_refused(app, acme, filled, tmp_path):
    from crm.backups import service

    backup_to(app, acme, tmp_path / "acme.tar")
    app.secret_key, kept = "another-installation-secret", app.secret_key
    try:
        with app.app_context(), pytest.raises(BackupRefused) as refused:
            service.restore_as_new(tmp_path / "acme.tar", f"{acme.slug}-other")
    finally:
        app.secret_key = kept
    assert refused.value.reason == "foreign"
    with app.app_context():
        assert "another installation" in service.refusal(refused.value)


def test_a_backup_of_another_workspace_cannot_replace_this_one(app, acme, globex, tmp_path):
    from crm.backups import service

    backup_to(app, globex, tmp_path / "globex.tar")
    with app.app_context(), pytest.raises(BackupRefused) as refused:
        service.replace(tmp_path / "globex.tar", acme.id)
    assert refused.value.reason == "other_workspace"


def test_a_backup_from_an_older_migration_head_is_restored_then_migrated(app, tmp_path):
    """A workspace one revision behind (built by the tenant track's migrations up to there), backed up, comes back
    at the current head with its rows."""
    from crm.backups import service
    from crm.extensions import db
    from tenants import roles
    from tenants.backup import write_backup
    from tenants.migrations import TENANT_TRACK, _scripts, schema_version, upgrade_schema
    from tenants.models import Tenant
    from tenants.provisioning import tenant_head

    older = _scripts(TENANT_TRACK).get_revision(tenant_head()).down_revision
    with app.app_context():
        tenant_id = db.session.scalar(text("select nextval(pg_get_serial_sequence('public.tenants', 'id'))"))
        schema = f"t_{tenant_id}"
        with db.engine.begin() as connection:
            roles.create_schema(connection, schema)
        upgrade_schema(db.engine, schema, older)
        with db.engine.begin() as connection:
            roles.switch_to(connection, schema)
            connection.exec_driver_sql(f"insert into {schema}.tags (name, color) values ('老客户', 'red')")
        tenant = Tenant(id=tenant_id, slug=f"old-{tenant_id}", name="Old 旧", status="active")
        db.session.add(tenant)
        db.session.commit()
        with open(tmp_path / "old.tar", "wb") as out:
            manifest = write_backup(tenant, service.workspace_files(schema), out, app.secret_key)
        assert manifest["head"] == older != tenant_head()

        restored = service.restore_as_new(tmp_path / "old.tar", f"old-{tenant_id}-copy")
        db.session.commit()
        with db.engine.begin() as connection:
            roles.switch_to(connection, restored.schema)
            assert schema_version(connection, restored.schema) == tenant_head()
            assert connection.exec_driver_sql(f"select name from {restored.schema}.tags").scalars().all() == ["老客户"]
