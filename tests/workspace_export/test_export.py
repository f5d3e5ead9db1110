"""Export everything (Settings > Data): one ZIP with a CSV and an XLSX per record kind, the records' files and a
manifest; progress on the page, an email with a link for the admin who asked, masked values for an admin who may
not reveal them, an expired link told as such, and nobody else gets it."""
import csv
import hashlib
import io
import json
import time
import zipfile
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.extensions import db
from tests.conftest import local_link

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
KINDS = ("customers", "deals", "orders", "tickets", "followups", "contacts", "order_lines", "ticket_comments",
         "products", "files")


def read_csv(archive: zipfile.ZipFile, kind: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(archive.read(f"{kind}.csv").decode("utf-8-sig"))))


def read_xlsx(archive: zipfile.ZipFile, kind: str) -> list[tuple]:
    return list(load_workbook(io.BytesIO(archive.read(f"{kind}.xlsx"))).active.iter_rows(values_only=True))


def column(rows, heading: str) -> list:
    at = list(rows[0]).index(heading)
    return [row[at] for row in rows[1:]]


@pytest.fixture
def filled(app, acme, admin, make_customer, tagged, make_deal, make_order, make_ticket, make_product, in_tenant):
    """Acme with a record of every kind: a tagged customer with a custom field, a sensitive value and a file, a
    customer whose name is a formula, a deal, an order with two lines, a ticket with a comment that has a file, a
    follow-up and a product."""
    from crm.customers.models import Customer
    from crm.fields import definitions
    from crm.followups import service as followups
    from crm.members.models import Member
    from crm.tickets import service as tickets
    from crm.tickets.models import Ticket

    in_tenant(acme, lambda: definitions.save_field(None, {"key": "erp", "label_en": "ERP code", "type": "text"}))
    db_commit = lambda func: in_tenant(acme, lambda: (func(), db.session.commit()))
    customer = tagged(acme, ["VIP 客户"], name="张伟", id_number="110101199003077777")
    db_commit(lambda: setattr(db.session.get(Customer, customer), "custom", {"erp": "E-42"}))
    make_customer(acme, name="=HYPERLINK(\"http://evil\")")
    from crm.contacts import service as contacts
    db_commit(lambda: contacts.create_contact(db.session.get(Customer, customer), {"name": "李娜", "title": "采购经理"}))
    make_deal(acme, customer_id=customer)
    make_product(acme, name="Tea 龙井", sku="T-1")
    make_order(acme, customer, lines=[{"description": "Green tea", "quantity": "2", "unit_price": "10"},
                                      {"description": "Black tea", "quantity": "1", "unit_price": "5"}])
    ticket = make_ticket(acme, customer)

    def comment():
        admin_member = db.session.get(Member, acme.admin_member_id)
        return tickets.add_comment(admin_member, db.session.get(Ticket, ticket), "Photo attached", True).id

    comment_id = in_tenant(acme, lambda: (c := comment(), db.session.commit())[0])
    db_commit(lambda: followups.create(db.session.get(Member, acme.admin_member_id),
                                       {"customer_id": customer, "method": "call", "summary": "Call back",
                                        "due_at": "2030-01-01T10:00"}))
    for url, name, body in ((f"files/customer/{customer}", "合同.pdf", PDF),
                            (f"files/ticket_comment/{comment_id}", "photo-notes.txt", b"a note\n" * 20)):
        sent = admin.post(f"/{acme.slug}/{url}", data={"files": [(io.BytesIO(body), name)]},
                          content_type="multipart/form-data", headers={"HX-Request": "true"})
        assert sent.status_code == 200, sent.text
    return {"customer": customer, "ticket": ticket, "comment": comment_id}


def export(client, acme, run_worker) -> str:
    """Export everything as this client's member; the Data page once the job has run."""
    started = client.post(f"/{acme.slug}/settings/data/export/")
    assert started.status_code == 303 and "export_job=" in started.headers["Location"]
    assert "Export everything" in client.get(started.headers["Location"]).text
    run_worker()
    return client.get(started.headers["Location"]).text


def test_the_archive_holds_every_kind_in_csv_and_xlsx_the_files_and_a_manifest(
        app, acme, admin, filled, run_worker, smtp_on, in_tenant):
    from crm.audit.models import AuditEntry

    page = export(admin, acme, run_worker)
    assert "The export is ready" in page
    mail = next(m for m in smtp_on.messages 
                if str(make_header(decode_header(m["Subject"]))) == f"The export of {acme.name} is ready")
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    link = local_link(next(word for word in text.split() if "/settings/data/export/download?t=" in word))
    assert link in page.replace("&amp;", "&")  # the page lists it with the same link

    got = admin.get(link)
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/zip"
    assert "attachment" in got.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(got.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["app"]["version"] and manifest["migration_head"].startswith("t0")
    expected = {"customers": 2, "deals": 1, "orders": 1, "tickets": 1, "followups": 1, "contacts": 1,
                "order_lines": 2, "ticket_comments": 1, "products": 1, "files": 2}
    assert manifest["counts"] == expected
    for kind in KINDS:  # every kind's rows in both formats
        assert len(read_csv(archive, kind)) - 1 == expected[kind], kind
        assert len(read_xlsx(archive, kind)) - 1 == expected[kind], kind
    for name, entry in manifest["members"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"], name

    customers, book = read_csv(archive, "customers"), read_xlsx(archive, "customers")
    for rows in (customers, book):
        assert "E-42" in column(rows, "ERP code") and "VIP 客户" in column(rows, "Tags")
        assert "'=HYPERLINK(\"http://evil\")" in column(rows, "Name")  # a formula is text behind an apostrophe
        assert "110101199003077777" in column(rows, "ID number")  # this admin may reveal
        assert set(column(rows, "Owner")) == {"Ada Admin"}
    contract = next(name for name in archive.namelist() if name.endswith("合同.pdf"))
    assert contract.startswith(f"files/customers/{filled['customer']}/")
    assert archive.read(contract) == PDF
    assert manifest["members"][contract]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert any(name.startswith(f"files/tickets/{filled['ticket']}/") for name in archive.namelist())
    assert column(read_csv(archive, "order_lines"), "Description") == ["Green tea", "Black tea"]
    contacts = read_csv(archive, "contacts")
    assert contacts[0][:3] == ["ID", "Customer ID", "Customer"]
    assert contacts[1][1:5] == [str(filled["customer"]), "张伟", "李娜", "采购经理"]

    entries = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.action, AuditEntry.changes).where(
        AuditEntry.entity == "workspace_export")).all())
    assert len(entries) == 1 and entries[0][0] == "export" and "110101" not in str(entries)
    assert "id_number" in entries[0][1]


def test_an_admin_who_may_not_reveal_gets_masked_values(app, acme, filled, add_member, client_as, in_tenant,
                                                         run_worker):
    from crm.members.models import Role

    def limited_admin():
        admin_role = db.session.scalar(select(Role).where(Role.key == "admin"))
        permissions = {**admin_role.permissions, "sensitive": {"view": "none"}}
        db.session.add(Role(key="admin_no_reveal", name="Admin (no reveal)", permissions=permissions))
        db.session.commit()

    in_tenant(acme, limited_admin)
    account, _member = add_member(acme, "admin_no_reveal", "Mo Masked")
    client = client_as(account)
    assert "The export is ready" in export(client, acme, run_worker)
    link = client.get(f"/{acme.slug}/settings/data/").text.split('href="')[-1].split('"')[0].replace("&amp;", "&")
    archive = zipfile.ZipFile(io.BytesIO(client.get(link).data))
    for rows in (read_csv(archive, "customers"), read_xlsx(archive, "customers")):
        shown = [value for value in column(rows, "ID number") if value]
        assert shown == ["**** 7777"]
    assert json.loads(archive.read("manifest.json"))["revealed_fields"] == []


def test_the_link_expires_and_only_its_admin_in_its_workspace_may_use_it(
        app, acme, globex, admin, filled, run_worker, add_member, client_as, in_tenant):
    from crm import public_links
    from crm.workspace_export import jobs, service
    from crm.workspace_export.models import WorkspaceExport

    page = export(admin, acme, run_worker)
    link = page.split('id="export-row-')[1].split('href="')[1].split('"')[0].replace("&amp;", "&")
    assert admin.get(link).status_code == 200

    other_admin, _member = add_member(acme, "admin", "Other Admin")
    assert client_as(other_admin).get(link).status_code == 404  # another member's archive
    globex_admin = client_as(globex.admin_account_id)
    assert globex_admin.get(link.replace(f"/{acme.slug}/", f"/{globex.slug}/")).status_code == 404
    assert globex_admin.get(link).status_code == 404  # not a member of Acme
    assert admin.get(link[:-3] + "abc").status_code == 404  # a forged signature
    rep, _member = add_member(acme)
    assert client_as(rep).get(link).status_code == 403
    assert client_as(rep).get(f"/{acme.slug}/settings/data/").status_code == 403
    assert client_as(rep).post(f"/{acme.slug}/settings/data/export/").status_code == 403

    # The same link a week later: its expiry (hours since 1970, signed) has passed.
    export_id = in_tenant(acme, lambda: db.session.scalar(select(WorkspaceExport.id)))
    with app.app_context():
        past = public_links.make_token(service.PURPOSE, acme.id, acme.admin_member_id, export_id,
                                       int(time.time() // 3600) - 1)
    expired = admin.get(f"/{acme.slug}/settings/data/export/download?t={past}")
    assert expired.status_code == 410 and "This download link has expired" in expired.text

    def age():
        export_row = db.session.scalar(select(WorkspaceExport))
        export_row.expires_at -= timedelta(days=8)
        db.session.commit()
        return export_row.storage_key

    key = in_tenant(acme, age)
    with app.app_context():
        assert jobs.remove_expired(acme.id) == 1  # the hourly cleanup's job for this workspace
    assert in_tenant(acme, lambda: key not in {k for k, _at in service.export_storage().keys()})
    assert in_tenant(acme, lambda: db.session.scalar(select(WorkspaceExport))) is None


def test_a_read_only_workspace_may_still_export(app, acme, admin, make_customer, run_worker):
    from crm.billing import service as billing
    from crm.extensions import utcnow

    make_customer(acme, name="Kept")
    app.config["STRIPE_SECRET_KEY"] = "sk_test_local"  # billing on, as in a deployment with Stripe keys
    try:
        with app.app_context():
            billing.mark_past_due(acme.id, since=utcnow() - timedelta(days=30))
            db.session.commit()
        assert "This workspace is read-only" in admin.get(f"/{acme.slug}/settings/data/").text
        assert "The export is ready" in export(admin, acme, run_worker)
    finally:
        app.config["STRIPE_SECRET_KEY"] = ""


def test_a_reps_sheets_hold_only_the_contacts_of_their_customers(app, acme, people, make_customer, in_tenant):
    """The archive's sheets as a role that may export only its own customers would get them (Export everything is
    for admins today; its sheets keep each list's export scope all the same)."""
    from crm.contacts import service as contacts
    from crm.customers.models import Customer
    from crm.members.models import Member
    from crm.workspace_export.sheets import sheets

    rui, wes = people["rep"], people["west"]
    mine, theirs = make_customer(acme, rui.member_id, name="Rui's"), make_customer(acme, wes.member_id, name="Wes's")

    def add_contacts():
        contacts.create_contact(db.session.get(Customer, mine), {"name": "Rui's contact"})
        contacts.create_contact(db.session.get(Customer, theirs), {"name": "Wes's contact"})
        db.session.commit()

    in_tenant(acme, add_contacts)

    def contact_rows():
        sheet = next(s for s in sheets(db.session.get(Member, rui.member_id)) if s.kind == "contacts")
        return [row[1:4] for row in sheet.source.rows()]

    assert in_tenant(acme, contact_rows) == [[mine, "Rui's", "Rui's contact"]]
