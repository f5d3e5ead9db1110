"""Real files through the real seam: an uploaded CSV and XLSX are saved, sniffed, and read by the jobs through
crm.imports.jobs.rows_of and crm.imports.reading (no test reader in its place)."""
import io

import openpyxl
import pytest

from crm.extensions import db


@pytest.fixture(autouse=True)
def csv_rows():
    """The package's test reader is not used here: the engine reads the files itself."""


@pytest.fixture(autouse=True)
def spool(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "spool"))


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CSV = "姓名,手机,公司\r\n王芳,13800000021,甲公司\r\n,,\r\n李雷,bad phone,乙公司\r\n".encode("gb18030")
XLSX = _xlsx([["姓名", "手机", "公司"], ["王芳", 13800000021, "甲公司"], [None, None, None],
              ["李雷", "bad phone", "乙公司"]])


@pytest.mark.parametrize("content", [CSV, XLSX], ids=["gbk-csv", "xlsx"])
def test_a_real_file_is_checked_and_imported_through_the_reader(acme, in_tenant, run_worker, customers, content):
    from crm.imports import service, uploads
    from crm.imports.models import Import
    from crm.members.models import Member

    def upload():
        viewer = db.session.get(Member, acme.admin_member_id)
        path, info = uploads.save(io.BytesIO(content), max_bytes=1024 * 1024)
        imp = service.create_import(viewer, "客户.xlsx", path, info)
        service.set_mapping(viewer, imp, {"0": "name", "1": "phone", "2": "company"}, {"match_on": "phone"})
        service.start_check(imp)
        return imp.id

    import_id = in_tenant(acme, upload)
    run_worker()
    checked = in_tenant(acme, lambda: db.session.get(Import, import_id).counts)
    assert (checked["created"], checked["errors"]) == (1, 1)
    in_tenant(acme, lambda: service.start_import(db.session.get(Import, import_id)))
    run_worker()
    imp_errors = in_tenant(acme, lambda: service.errors(db.session.get(Import, import_id)))
    assert [line for line, _reason in imp_errors] == [4]  # the blank line 3 is skipped, not an error
    found = customers(acme)
    assert found["王芳"].phone == "+8613800000021" and found["王芳"].company == "甲公司"
    assert "李雷" not in found
