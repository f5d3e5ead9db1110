"""Spooled files are swept once an import is past its undo window; a waiting import then asks for the file again."""
import io
import os
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from crm.extensions import db, utcnow

CSV = "姓名,手机号码\r\n王芳,13800000031\r\n".encode()


@pytest.fixture(autouse=True)
def csv_rows():
    """The engine reads the uploaded files itself here."""


@pytest.fixture(autouse=True)
def spool(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "spool"))
    return tmp_path / "spool"


def _upload(client, tenant) -> int:
    response = client.post(f"/{tenant.slug}/imports/new", data={"file": (io.BytesIO(CSV), "客户.csv")},
                           content_type="multipart/form-data")
    return int(re.search(r"/imports/(\d+)/mapping", response.headers["Location"]).group(1))


def _age(in_tenant, tenant, import_id: int, days: int) -> None:
    from crm.imports.models import Import
    in_tenant(tenant, lambda: db.session.execute(
        update(Import).where(Import.id == import_id).values(created_at=utcnow() - timedelta(days=days))))


def test_the_sweep_keeps_fresh_files_and_removes_idle_and_orphaned_ones(app, acme, admin, in_tenant, spool):
    from crm.imports.uploads import sweep_spool

    idle, fresh = _upload(admin, acme), _upload(admin, acme)
    _age(in_tenant, acme, idle, days=8)
    folder = spool / f"t_{acme.id}"
    orphan_old, orphan_new = folder / "old-orphan", folder / "new-orphan"
    orphan_old.write_bytes(b"x")
    orphan_new.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(orphan_old, (two_hours_ago, two_hours_ago))
    assert len(list(folder.iterdir())) == 4

    with app.app_context():
        assert sweep_spool(acme.id) == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(["new-orphan", _spooled_name(in_tenant, acme, fresh)])

    # The idle import asks for its file again instead of failing in the background; the fresh one still checks.
    page = admin.post(f"/{acme.slug}/imports/{idle}/mapping", data={"column-0": "name", "column-1": "phone"})
    assert page.status_code == 422
    assert "The file is no longer kept: upload it again." in page.text
    assert admin.post(f"/{acme.slug}/imports/{fresh}/mapping",
                      data={"column-0": "name", "column-1": "phone"}).status_code == 303


def _spooled_name(in_tenant, tenant, import_id: int) -> str:
    from crm.imports.models import Import
    return in_tenant(tenant, lambda: os.path.basename(db.session.get(Import, import_id).file_path))
