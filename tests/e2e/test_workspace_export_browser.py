"""An admin on a phone exports everything from Settings > Data: the job shows it is under way, a worker runs it, the
poll brings the outcome, the page then lists the archive, and its Download saves a ZIP with the customers (a Chinese
name, a file) and the manifest; a sales rep has no way to Settings and is not allowed on the page or its routes.
Run: pytest tests/e2e -q -p no:randomly"""
import csv
import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD
from tests.e2e.htmx import page_ready

pytestmark = pytest.mark.e2e
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_an_admin_on_a_phone_exports_everything_and_downloads_the_zip(
        app, new_page, make_tenant, login, shot, make_customer, client_as, run_worker, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "FILE_DIR", str(tmp_path))  # the attachment and the archive
    tenant = make_tenant("上海青禾贸易")
    chinese = make_customer(tenant, name="张伟")
    for name in ("Anna Berg", "Carlos Diaz"):
        make_customer(tenant, name=name)
    sent = client_as(tenant.admin_account_id).post(
        f"/{tenant.slug}/files/customer/{chinese}", data={"files": [(io.BytesIO(PDF), "合同.pdf")]},
        content_type="multipart/form-data", headers={"HX-Request": "true"})
    assert sent.status_code == 200, sent.text

    page = new_page(375, 740)
    login(page, tenant)
    page.locator("nav.mainnav").get_by_role("link", name="Settings").click()
    page.locator("nav.subnav").get_by_role("link", name="Data").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/settings/data/$"))
    section = page.locator("#workspace-export")
    expect(section.get_by_role("heading", name="Export everything")).to_be_visible()
    expect(section.locator("table.exports")).to_have_count(0)  # nothing exported yet
    assert page.evaluate(NO_OVERFLOW), "the Data page is wider than a 375 px phone"
    shot(page, "workspace-export-01-data-375px")

    section.get_by_role("button", name="Export everything").click()
    expect(page).to_have_url(re.compile(r"/settings/data/\?export_job="))
    job = page.locator("#export-job")
    expect(job).to_contain_text("Working…")  # queued: no worker has taken it yet
    expect(job).to_contain_text("You can leave this page: the work goes on.")
    expect(job).to_have_attribute("hx-trigger", "every 1s")
    assert page.evaluate(NO_OVERFLOW), "the export's progress is wider than a 375 px phone"
    shot(page, "workspace-export-02-queued-375px")

    run_worker()
    expect(job).to_contain_text("The export is ready", timeout=8000)  # the poll brings the outcome
    expect(job).not_to_have_attribute("hx-trigger", "every 1s")
    shot(page, "workspace-export-03-ready-375px")

    job.get_by_role("link", name="Show the list").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/settings/data/$"))
    page_ready(page)
    rows = section.locator("table.exports tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("3 rows, 1 file")
    assert page.evaluate(NO_OVERFLOW), "the list of exports is wider than a 375 px phone"
    shot(page, "workspace-export-04-list-375px")

    with page.expect_download() as download:
        rows.get_by_role("link", name="Download").click()
    assert re.fullmatch(rf"{tenant.slug}-export-\d{{8}}-\d{{4}}\.zip", download.value.suggested_filename)
    archive = zipfile.ZipFile(download.value.path())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["customers"] == 3 and manifest["counts"]["files"] == 1
    assert manifest["workspace"]["name"] == "上海青禾贸易"
    customers = list(csv.DictReader(io.StringIO(archive.read("customers.csv").decode("utf-8-sig"))))
    assert sorted(row["Name"] for row in customers) == ["Anna Berg", "Carlos Diaz", "张伟"]
    contract = next(name for name in archive.namelist() if name.endswith("合同.pdf"))
    assert contract.startswith(f"files/customers/{chinese}/") and archive.read(contract) == PDF
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/settings/data/$"))  # the page stays as it was
    expect(rows).to_have_count(1)


def test_a_sales_rep_has_no_way_to_settings_and_is_not_allowed_on_the_data_page(
        new_page, make_tenant, add_member, in_tenant, shot):
    from crm.extensions import db
    from crm.members.models import Member

    tenant = make_tenant("杭州云帆科技")
    _account, rep_member = add_member(tenant, "sales_rep", "Rui Rep")
    rep_email = in_tenant(tenant, lambda: db.session.get(Member, rep_member).email)

    page = new_page(375, 740)
    page.goto("/login")
    page.get_by_label("Email").fill(rep_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/$"))
    page_ready(page)
    expect(page.locator("nav.mainnav a", has_text="Settings")).to_have_count(0)  # under More neither

    response = page.goto(f"/{tenant.slug}/settings/data/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("Your role does not allow this.")).to_be_visible()
    expect(page.get_by_role("button", name="Export everything")).to_have_count(0)
    shot(page, "workspace-export-05-rep-not-allowed-375px")
    for url in (f"/{tenant.slug}/settings/data/export/download?t=anything",
                f"/{tenant.slug}/settings/data/export/jobs/anything"):
        assert page.request.get(url).status == 403, url
    token = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]
    started = page.request.post(f"/{tenant.slug}/settings/data/export/", headers={"X-CSRFToken": token},
                                max_redirects=0)
    assert started.status == 403
