"""The import pages as a user goes through them: upload, mapping, check, import, result, error file, undo, cancel,
saved mappings, the list; who may open them. Files are read by the real reader (no test reader)."""
import io
import re

import pytest
from sqlalchemy import select

from crm.extensions import db
from tests.conftest import HX


@pytest.fixture(autouse=True)
def csv_rows():
    """The package's test reader is not used here: the engine reads the uploaded files itself."""


@pytest.fixture(autouse=True)
def spool(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "spool"))
    return tmp_path / "spool"


GBK = "姓名,手机号码,公司名称,客户等级\r\n王芳,13800000031,甲公司,A\r\n李雷,13800000032,乙公司,B\r\n韩梅,12345,丙公司,A\r\n"


def _upload(client, tenant, content: bytes, name="客户.csv"):
    return client.post(f"/{tenant.slug}/imports/new", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def _import_id(response) -> int:
    return int(re.search(r"/imports/(\d+)/mapping", response.headers["Location"]).group(1))


def _selected(page: str) -> dict[str, str]:
    """{column select name: the selected field key} of the mapping page."""
    found = {}
    for name, body in re.findall(r'<select name="(column-\d+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        found[name] = chosen.group(1) if chosen else ""
    return found


def _map_and_check(client, tenant, import_id, columns, run_worker, **options):
    data = {f"column-{i}": key for i, key in columns.items()} | {"match_on": "phone", "mode": "create_update"}
    response = client.post(f"/{tenant.slug}/imports/{import_id}/mapping", data=data | options)
    assert response.status_code == 303, response.text
    run_worker()
    return client.get(f"/{tenant.slug}/imports/{import_id}")


def _count(page: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}"><span class="stat-n">([\d,]+)<', page).group(1).replace(",", ""))


def _customer_names(in_tenant, tenant):
    from crm.customers.models import Customer
    return in_tenant(tenant, lambda: set(db.session.scalars(
        select(Customer.name).where(Customer.deleted_at.is_(None)))))


@pytest.mark.parametrize("content, message", [
    (b"", "The file is empty."),
    (b"\x00\x01\x02\x03" * 100, "This is not a CSV or XLSX file."),
    (b"name,phone\n" + b"x" * 3000, "The file is over"),
])
def test_a_refused_upload_says_why_at_the_field_and_keeps_nothing(app, acme, admin, spool, monkeypatch, in_tenant,
                                                                  content, message):
    from crm.imports.models import Import
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 2000)
    page = _upload(admin, acme, content)
    assert page.status_code == 422
    assert message in page.text and 'id="file-error"' in page.text
    assert not list(spool.rglob("*")) or not [p for p in spool.rglob("*") if p.is_file()]
    assert in_tenant(acme, lambda: db.session.scalar(select(Import.id))) is None


def test_a_request_far_over_the_cap_is_refused_at_the_field(app, acme, admin, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1000)
    refused = _upload(admin, acme, b"a,b\n" * 600_000)
    assert refused.status_code == 303
    page = admin.get(refused.headers["Location"])
    assert "The file is over 0.000953674 MB" in page.text and 'id="file-error"' in page.text


def test_gbk_csv_is_mapped_by_its_chinese_headers_checked_without_writing_then_imported(
        acme, admin, run_worker, in_tenant, spool):
    uploaded = _upload(admin, acme, GBK.encode("gbk"))
    assert uploaded.status_code == 303
    import_id = _import_id(uploaded)
    assert [p.name for p in spool.rglob("*") if p.is_file()][0] != "客户.csv"  # a random name on disk
    page = admin.get(f"/{acme.slug}/imports/{import_id}/mapping").text
    assert "王芳" in page and "13800000031" in page  # sample values, read as GB18030
    assert _selected(page) == {"column-0": "name", "column-1": "phone", "column-2": "company", "column-3": "level"}

    checked = _map_and_check(admin, acme, import_id, {0: "name", 1: "phone", 2: "company", 3: "level"}, run_worker)
    assert checked.status_code == 200
    assert (_count(checked.text, "created"), _count(checked.text, "errors")) == (2, 1)
    assert "Line 4" in checked.text and "王芳" in checked.text and "Import 2 customers" in checked.text
    assert _customer_names(in_tenant, acme) == set()  # the dry run wrote nothing

    assert admin.post(f"/{acme.slug}/imports/{import_id}/import").status_code == 303
    run_worker()
    done = admin.get(f"/{acme.slug}/imports/{import_id}").text
    assert "Done" in done and _count(done, "created") == 2
    listed = admin.get(f"/{acme.slug}/customers/").text
    assert "王芳" in listed and "李雷" in listed and "韩梅" not in listed

    errors = admin.get(f"/{acme.slug}/imports/{import_id}/errors.csv")
    assert errors.headers["Content-Disposition"].startswith("attachment")
    lines = errors.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "姓名,手机号码,公司名称,客户等级,Reason" and lines[1].startswith("韩梅,12345,丙公司,A,")

    history = admin.get(f"/{acme.slug}/imports/").text
    assert "客户.csv" in history and f"/imports/{import_id}" in history


def test_progress_is_polled_until_done(acme, admin, run_worker):
    import_id = _import_id(_upload(admin, acme, GBK.encode("utf-8")))
    admin.post(f"/{acme.slug}/imports/{import_id}/mapping", data={"column-0": "name", "column-1": "phone",
                                                                 "match_on": "phone", "mode": "create_update"})
    running = admin.get(f"/{acme.slug}/imports/{import_id}/progress", headers=HX).text
    assert 'hx-trigger="every 1s"' in running and "<progress" in running
    run_worker()
    finished = admin.get(f"/{acme.slug}/imports/{import_id}/progress", headers=HX).text
    assert "hx-trigger" not in finished and "Import 2 customers" in finished
    # opened as a page itself, the poll leads to the import's page
    assert admin.get(f"/{acme.slug}/imports/{import_id}/progress").status_code == 303


def test_a_mapping_error_is_shown_on_the_mapping_page(acme, admin):
    import_id = _import_id(_upload(admin, acme, GBK.encode("utf-8")))
    page = admin.post(f"/{acme.slug}/imports/{import_id}/mapping",
                      data={"column-0": "name", "column-1": "name", "match_on": "phone"})
    assert page.status_code == 422 and "Each field can be filled from one column only" in page.text
    page = admin.post(f"/{acme.slug}/imports/{import_id}/mapping", data={"column-0": "name", "match_on": "phone"})
    assert page.status_code == 422 and 'id="match_on-error"' in page.text


def test_a_saved_mapping_fits_the_next_file_with_its_columns_moved(acme, admin, run_worker):
    first = _import_id(_upload(admin, acme, "Tel,Who,Firm\n13800000041,A,X\n".encode()))
    admin.post(f"/{acme.slug}/imports/{first}/mapping", data={
        "column-0": "phone", "column-1": "name", "column-2": "title", "match_on": "phone",
        "save_as": "ERP export"})
    second = _import_id(_upload(admin, acme, "Who,Firm,Tel\nB,Y,13800000042\n".encode()))
    page = admin.get(f"/{acme.slug}/imports/{second}/mapping").text
    saved_id = int(re.search(r"saved=(\d+)", page).group(1))
    assert "ERP export" in page
    applied = admin.get(f"/{acme.slug}/imports/{second}/mapping?saved={saved_id}").text
    assert _selected(applied) == {"column-0": "name", "column-1": "title", "column-2": "phone"}
    deleted = admin.post(f"/{acme.slug}/imports/mappings/{saved_id}/delete", data={"import_id": second})
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith(f"/imports/{second}/mapping")
    assert "ERP export" not in admin.get(f"/{acme.slug}/imports/{second}/mapping").text


def test_undo_says_what_was_undone(acme, admin, run_worker, in_tenant):
    import_id = _import_id(_upload(admin, acme, GBK.encode("utf-8")))
    _map_and_check(admin, acme, import_id, {0: "name", 1: "phone"}, run_worker)
    admin.post(f"/{acme.slug}/imports/{import_id}/import")
    run_worker()
    assert "Undo this import" in admin.get(f"/{acme.slug}/imports/{import_id}").text
    admin.post(f"/{acme.slug}/imports/{import_id}/undo")
    page = admin.get(f"/{acme.slug}/imports/{import_id}").text
    assert "Undone" in page and "2 created customers moved to the trash" in page
    assert _customer_names(in_tenant, acme) == set()


def test_cancel_writes_nothing(acme, admin, run_worker, in_tenant):
    import_id = _import_id(_upload(admin, acme, GBK.encode("utf-8")))
    _map_and_check(admin, acme, import_id, {0: "name", 1: "phone"}, run_worker)
    admin.post(f"/{acme.slug}/imports/{import_id}/import")
    assert admin.post(f"/{acme.slug}/imports/{import_id}/cancel").status_code == 303  # before the worker runs
    run_worker()
    page = admin.get(f"/{acme.slug}/imports/{import_id}").text
    assert "Cancelled: nothing was written to your customers." in page
    assert _customer_names(in_tenant, acme) == set()


def test_a_member_without_the_import_permission_sees_no_button_and_is_refused(acme, add_member, client_as):
    account_id, _member = add_member(acme, "support_agent")
    agent = client_as(account_id)
    assert f"/{acme.slug}/imports/new" not in agent.get(f"/{acme.slug}/customers/").text
    assert agent.get(f"/{acme.slug}/imports/new").status_code == 403
    assert _upload(agent, acme, GBK.encode()).status_code == 403


def test_the_button_shows_for_a_member_who_imports(acme, admin):
    assert f'href="/{acme.slug}/imports/new"' in admin.get(f"/{acme.slug}/customers/").text


def test_another_members_or_workspaces_import_is_not_found(acme, globex, admin, add_member, client_as, run_worker):
    import_id = _import_id(_upload(admin, acme, GBK.encode()))
    account_id, _member = add_member(acme, "sales_rep")
    rep = client_as(account_id)
    assert rep.get(f"/{acme.slug}/imports/{import_id}").status_code == 404
    assert f"/imports/{import_id}" not in rep.get(f"/{acme.slug}/imports/").text
    outsider = client_as(globex.admin_account_id)
    assert outsider.get(f"/{globex.slug}/imports/{import_id}/mapping").status_code == 404
    assert outsider.get(f"/{acme.slug}/imports/{import_id}/mapping").status_code in (403, 404)
