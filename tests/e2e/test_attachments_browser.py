"""An admin uploads a Chinese-named PDF and a photo to a customer (choosing both at once; htmx posts them with a
progress bar), previews the photo, downloads the PDF; a rep of another team gets 404 on both files' URLs.
Run: pytest tests/e2e -q -p no:randomly"""
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.attachments.conftest import PDF
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_upload_preview_download_and_another_teams_rep_gets_404(app, new_page, make_tenant, login, shot, add_member,
                                                                 make_customer, in_tenant, tmp_path, monkeypatch):
    from crm.extensions import db
    from crm.members.models import Member, Team

    monkeypatch.setitem(app.config, "FILE_DIR", str(tmp_path))
    tenant = make_tenant("杭州云帆科技")
    customer_id = make_customer(tenant, name="王芳")
    rep_account, rep_member = add_member(tenant, "sales_rep", "Wes West")

    def west_team():
        team = Team(name="West")
        db.session.add(team)
        db.session.flush()
        member = db.session.get(Member, rep_member)
        member.team_id = team.id
        return member.email
    rep_email = in_tenant(tenant, west_team)

    page = new_page()
    login(page, tenant)
    page.goto(f"/{tenant.slug}/customers/{customer_id}")
    card = page.locator(".files-card")
    expect(card).to_contain_text("No files yet.")
    with page.expect_response(re.compile(rf"/files/customer/{customer_id}$")) as posted:
        card.locator("input[type=file]").set_input_files(files=[
            {"name": "报价单（2026）.pdf", "mimeType": "application/pdf", "buffer": PDF},
            {"name": "门店照片.jpg", "mimeType": "image/jpeg", "buffer": _photo()}])
    assert posted.value.status == 200
    expect(card.locator(".file-name")).to_have_text(["门店照片.jpg", "报价单（2026）.pdf"])
    expect(card).to_contain_text("image/jpeg")
    expect(card).to_contain_text("application/pdf")
    expect(card).to_contain_text("Ada Admin")
    page.reload()  # the timeline is drawn with the page; the upload swapped only the card
    expect(page.locator("#timeline")).to_contain_text("File 报价单（2026）.pdf added to the customer")

    thumbnail = card.locator("img.file-thumb")
    expect(thumbnail).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    shot(page, "attachments-01-card")
    with page.expect_popup() as popup:
        thumbnail.click()
    preview = popup.value
    preview.wait_for_load_state()
    image_url = preview.url
    assert preview.evaluate("document.contentType") == "image/jpeg"
    assert preview.evaluate("document.images.length === 1 && document.images[0].naturalWidth") == 640
    preview.close()

    pdf_row = card.locator(".file-row", has_text="报价单（2026）.pdf")
    with page.expect_download() as download:
        pdf_row.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "报价单（2026）.pdf"
    with open(download.value.path(), "rb") as saved:
        assert saved.read() == PDF
    pdf_url = pdf_row.get_by_role("link", name="Download").get_attribute("href")
    with page.expect_popup() as popup:  # Chromium's viewer shows a PDF under the files' sandboxing CSP
        pdf_row.get_by_role("link", name="Preview").click()
    popup.value.wait_for_load_state()
    assert popup.value.evaluate("document.contentType") == "application/pdf"
    popup.value.close()

    rep_page = new_page()
    rep_page.goto("/login")
    rep_page.get_by_label("Email").fill(rep_email)
    rep_page.get_by_label("Password").fill(PASSWORD)
    rep_page.get_by_role("button", name="Sign in").click()
    expect(rep_page).to_have_url(re.compile(rf"/{tenant.slug}/$"))
    for url in (image_url, pdf_url, pdf_url + "?preview=1", image_url.replace("?preview=1", "/thumbnail")):
        assert rep_page.request.get(url).status == 404, url
    assert page.request.get(pdf_url).status == 200  # the admin still may
