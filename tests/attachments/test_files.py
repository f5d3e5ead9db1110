"""Files on records as a user uses them: upload several, the list, preview, download, rename, delete, the timeline
and audit log, the trash; and every bad input refused at the field (422, nothing kept)."""
import re
from urllib.parse import quote

from tests.attachments.conftest import EXE, HX, PDF, SVG_WITH_SCRIPT, png, png_claiming


def test_upload_lists_files_and_serves_them_safely(acme, admin, make_customer, upload, stored):
    customer_id = make_customer(acme)
    answer = upload(admin, acme.slug, "customer", customer_id, ("报价单 2026.pdf", PDF), ("photo.png", png()))
    assert answer.status_code == 200
    assert "报价单 2026.pdf" in answer.text and "photo.png" in answer.text
    assert "application/pdf" in answer.text and "image/png" in answer.text and "Ada Admin" in answer.text
    assert "<html" not in answer.text  # the card only, swapped in place
    pdf, image = stored(acme)
    assert not pdf.has_thumbnail and image.has_thumbnail

    page = admin.get(f"/{acme.slug}/customers/{customer_id}")
    assert "报价单 2026.pdf" in page.text and "Files" in page.text
    assert "File 报价单 2026.pdf added to the customer" in page.text  # the timeline
    assert re.search(r"This workspace(&#39;|')s files take \d+ bytes", page.text)

    download = admin.get(f"/{acme.slug}/files/customer/file/{pdf.id}")
    assert download.status_code == 200 and download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename*=UTF-8''{quote('报价单 2026.pdf')}" in disposition
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert "default-src 'none'" in download.headers["Content-Security-Policy"]

    preview = admin.get(f"/{acme.slug}/files/customer/file/{image.id}?preview=1")
    assert preview.headers["Content-Disposition"].startswith("inline;") and preview.mimetype == "image/png"
    thumbnail = admin.get(f"/{acme.slug}/files/customer/file/{image.id}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.data.startswith(b"\x89PNG")
    assert admin.get(f"/{acme.slug}/files/customer/file/{pdf.id}/thumbnail").status_code == 404

    audit = admin.get(f"/{acme.slug}/settings/audit/?entity=attachment")
    assert "报价单 2026.pdf" in audit.text


def test_rename_and_delete_are_recorded_and_remove_the_stored_file(app, acme, admin, make_customer, upload, stored):
    from crm.attachments.service import workspace_storage
    from tenants.binding import tenant_bound

    customer_id = make_customer(acme)
    upload(admin, acme.slug, "customer", customer_id, ("notes.txt", "会议记录".encode()))
    (file_id, _name, content_type, key, _thumb), = stored(acme)
    assert content_type == "text/plain"

    renamed = admin.post(f"/{acme.slug}/files/customer/file/{file_id}/rename", data={"name": "../会议 纪要.txt"},
                         headers=HX)
    assert renamed.status_code == 200 and "会议 纪要.txt" in renamed.text and "../" not in renamed.text
    refused = admin.post(f"/{acme.slug}/files/customer/file/{file_id}/rename", data={"name": "  "}, headers=HX)
    assert refused.status_code == 422 and "Enter a name." in refused.text
    assert stored(acme)[0].name == "会议 纪要.txt"

    deleted = admin.post(f"/{acme.slug}/files/customer/file/{file_id}/delete", headers=HX)
    assert deleted.status_code == 200 and "No files yet." in deleted.text
    assert stored(acme) == []
    with app.app_context(), tenant_bound(acme.ref):
        assert key not in {k for k, _at in workspace_storage().keys()}
    page = admin.get(f"/{acme.slug}/customers/{customer_id}")
    assert "File 会议 纪要.txt removed from the customer" in page.text
    assert admin.get(f"/{acme.slug}/files/customer/file/{file_id}").status_code == 404


def test_files_on_deals_orders_tickets_and_follow_ups(acme, admin, make_customer, make_deal, make_order, make_ticket,
                                                      in_tenant, upload):
    from crm.extensions import db
    from crm.followups.models import Activity
    from crm.extensions import utcnow

    customer_id = make_customer(acme)
    deal_id = make_deal(acme, customer_id=customer_id)
    order_id = make_order(acme, customer_id)
    ticket_id = make_ticket(acme, customer_id)

    def follow_up():
        activity = Activity(customer_id=customer_id, owner_id=acme.admin_member_id, method="call", summary="Call back",
                            outcome="", due_at=utcnow())
        db.session.add(activity)
        db.session.flush()
        return activity.id
    activity_id = in_tenant(acme, follow_up)

    for kind, record_id, page in (("deal", deal_id, f"deals/{deal_id}"), ("order", order_id, f"orders/{order_id}"),
                                  ("ticket", ticket_id, f"tickets/{ticket_id}"),
                                  ("activity", activity_id, f"activities/{activity_id}/edit")):
        assert upload(admin, acme.slug, kind, record_id, (f"{kind}.pdf", PDF)).status_code == 200
        shown = admin.get(f"/{acme.slug}/{page}")
        assert f"{kind}.pdf" in shown.text, kind
    customer_page = admin.get(f"/{acme.slug}/customers/{customer_id}")
    assert "File order.pdf added to order SO-" in customer_page.text
    assert f"File ticket.pdf added to ticket TK-{ticket_id:06d}" in customer_page.text
    assert "File activity.pdf added to follow-up Call back" in customer_page.text
    deal_page = admin.get(f"/{acme.slug}/deals/{deal_id}")
    assert "File deal.pdf added to deal" in deal_page.text


def test_a_trashed_customers_files_are_hidden_and_purged_with_it(app, acme, admin, make_customer, upload, stored,
                                                                 in_tenant):
    from crm.attachments.jobs import sweep_files
    from crm.attachments.service import workspace_storage

    customer_id = make_customer(acme)
    upload(admin, acme.slug, "customer", customer_id, ("contract.pdf", PDF))
    (file_id, _name, _type, key, _thumb), = stored(acme)
    url = f"/{acme.slug}/files/customer/file/{file_id}"

    admin.post(f"/{acme.slug}/customers/bulk", data={"ids": [customer_id], "action": "delete"})
    assert admin.get(url).status_code == 404
    admin.post(f"/{acme.slug}/customers/trash", data={"ids": [customer_id], "action": "restore"})
    assert admin.get(url).status_code == 200

    admin.post(f"/{acme.slug}/customers/bulk", data={"ids": [customer_id], "action": "delete"})
    admin.post(f"/{acme.slug}/customers/trash", data={"ids": [customer_id], "action": "purge"})
    assert stored(acme) == []  # the rows went with the customer
    assert key in in_tenant(acme, lambda: {k for k, _at in workspace_storage().keys()})
    with app.app_context():
        assert sweep_files(acme.id, 0) == 1  # the sweep removes the stored file
    assert key not in in_tenant(acme, lambda: {k for k, _at in workspace_storage().keys()})


def test_bad_files_are_refused_at_the_field_and_nothing_is_kept(app, acme, admin, make_customer, upload, stored):
    customer_id = make_customer(acme)
    cases = {
        "empty.pdf": (b"", "empty.pdf is empty."),
        "invoice.pdf": (EXE, "invoice.pdf is a program; programs can&#39;t be attached."),
        "setup.txt": (EXE, "setup.txt is a program"),
        "photo.jpg": (PDF, "The content of photo.jpg is not what its name says (application/pdf)."),
        "scan.pdf": (png(), "The content of scan.pdf is not what its name says (image/png)."),
    }
    for name, (body, message) in cases.items():
        answer = upload(admin, acme.slug, "customer", customer_id, ("fine.pdf", PDF), (name, body))
        assert answer.status_code == 422, name
        assert message in answer.text, name
    app.config["ATTACHMENT_MAX_BYTES"], before = 2**20, app.config["ATTACHMENT_MAX_BYTES"]
    try:
        answer = upload(admin, acme.slug, "customer", customer_id, ("big.pdf", PDF + b"%" * 2**20))
        assert answer.status_code == 422 and "big.pdf is over 1 MB." in answer.text
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = before
    nothing = upload(admin, acme.slug, "customer", customer_id)
    assert nothing.status_code == 422 and "Choose one or more files." in nothing.text
    assert stored(acme) == []  # "fine.pdf" beside each refused file was not kept either


def test_a_request_far_over_the_cap_goes_back_to_the_page_saying_why(app, acme, admin, make_customer):
    customer_id = make_customer(acme)
    app.config["ATTACHMENT_UPLOAD_MAX_BYTES"], before = 4096, app.config["ATTACHMENT_UPLOAD_MAX_BYTES"]
    try:
        import io
        answer = admin.post(f"/{acme.slug}/files/customer/{customer_id}", content_type="multipart/form-data",
                            data={"files": [(io.BytesIO(b"x" * 2_000_000), "huge.txt")]})
    finally:
        app.config["ATTACHMENT_UPLOAD_MAX_BYTES"] = before
    assert answer.status_code == 303 and "refused_file=size" in answer.headers["Location"]
    page = admin.get(answer.headers["Location"])
    assert "A file is over 25 MB." in page.text


def test_svg_with_script_is_kept_but_only_ever_downloaded(acme, admin, make_customer, upload, stored):
    customer_id = make_customer(acme)
    assert upload(admin, acme.slug, "customer", customer_id, ("logo.svg", SVG_WITH_SCRIPT)).status_code == 200
    (file_id, _name, content_type, _key, has_thumbnail), = stored(acme)
    assert content_type == "image/svg+xml" and not has_thumbnail
    for query in ("", "?preview=1"):
        served = admin.get(f"/{acme.slug}/files/customer/file/{file_id}{query}")
        assert served.headers["Content-Disposition"].startswith("attachment;")
        assert served.mimetype == "application/octet-stream"
        assert "sandbox" in served.headers["Content-Security-Policy"]
    card = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    assert "preview=1" not in card  # no Preview link, no thumbnail


def test_a_decompression_bomb_gets_no_thumbnail_and_no_crash(acme, admin, make_customer, upload, stored):
    customer_id = make_customer(acme)
    answer = upload(admin, acme.slug, "customer", customer_id, ("bomb.png", png_claiming(50000, 50000)),
                    ("big.png", png_claiming(10000, 5000)))  # past Pillow's own limit; past ours only
    assert answer.status_code == 200
    assert [(row.name, row.has_thumbnail) for row in stored(acme)] == [("bomb.png", False), ("big.png", False)]
    bomb_id = stored(acme)[0].id
    assert admin.get(f"/{acme.slug}/files/customer/file/{bomb_id}/thumbnail").status_code == 404
    preview = admin.get(f"/{acme.slug}/files/customer/file/{bomb_id}?preview=1")
    assert preview.headers["Content-Disposition"].startswith("attachment;")  # never drawn by the browser either


def test_path_traversal_names_are_cleaned(app, acme, admin, make_customer, upload, stored):
    customer_id = make_customer(acme)
    answer = upload(admin, acme.slug, "customer", customer_id, ("../../../etc/passwd.txt", b"root:x:0:0"),
                    ("/tmp/合同\u202e.txt", "合同".encode()), ("...hidden.txt", b"x"))
    assert answer.status_code == 200
    names = [row.name for row in stored(acme)]
    assert names == ["passwd.txt", "合同.txt", "hidden.txt"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", row.storage_key) for row in stored(acme))


def test_only_members_who_may_view_the_record_fetch_its_files(acme, people, client_as, make_customer, upload,
                                                              stored, globex):
    mine = make_customer(acme, people["rep"].member_id, owner_id=people["rep"].member_id)
    rep = client_as(people["rep"].account_id)
    assert upload(rep, acme.slug, "customer", mine, ("a.png", png()), ("b.pdf", PDF)).status_code == 200
    image, pdf = stored(acme)
    urls = [f"/{acme.slug}/files/customer/file/{image.id}", f"/{acme.slug}/files/customer/file/{pdf.id}",
            f"/{acme.slug}/files/customer/file/{image.id}/thumbnail",
            f"/{acme.slug}/files/customer/file/{image.id}?preview=1"]
    assert all(rep.get(url).status_code == 200 for url in urls)
    assert all(client_as(people["manager"].account_id).get(url).status_code == 200 for url in urls)
    west = client_as(people["west"].account_id)  # a rep of another team
    for url in urls:
        assert west.get(url).status_code == 404, url
    for action in ("rename", "delete"):
        assert west.post(f"/{acme.slug}/files/customer/file/{pdf.id}/{action}", data={"name": "x"}).status_code == 404
    assert west.post(f"/{acme.slug}/files/customer/{mine}", data={}).status_code == 404
    other_tenant = client_as(globex.admin_account_id)
    assert all(other_tenant.get(url.replace(acme.slug, globex.slug)).status_code == 404 for url in urls)
    assert len(stored(acme)) == 2


def test_file_names_keep_letters_and_lose_folders_and_controls():
    from crm.attachments.files import clean_name

    assert clean_name("..\\..\\windows\\合同.txt") == "合同.txt"
    assert clean_name("C:\\Users\\王\\报价.xlsx") == "报价.xlsx"
    assert clean_name("a\x00b\u202e\r\n.pdf") == "ab.pdf"
    assert clean_name('what?<is>"this"|.pdf') == "what__is__this__.pdf"
    assert clean_name("../..") == "" and clean_name(".htaccess") == "htaccess"
    long = clean_name("长" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")
