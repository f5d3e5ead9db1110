"""Backups kept in an S3-compatible store (moto's server, local): taken, listed from their manifests, and restored
with their files."""
from tests.attachments.test_s3 import on_s3, s3_server  # noqa: F401 (fixtures)


def test_a_backup_in_s3_restores_with_every_file(app, acme, on_s3, filled, files_of):  # noqa: F811
    from crm.backups import service
    from crm.extensions import db
    from tenants.service import tenant_ref

    before = files_of(f"t_{acme.id}")
    assert len(before) == 2
    with app.app_context():
        key, _manifest = service.take_backup(tenant_ref(acme.id))
        listed = service.list_backups(f"t_{acme.id}")
        assert [b.key for b in listed] == [key] and listed[0].files == 2
        with service.fetched(f"t_{acme.id}", key) as path:
            copy = service.restore_as_new(path, f"{acme.slug}-s3")
        db.session.commit()
        copy_schema = copy.schema
    assert files_of(copy_schema) == before
