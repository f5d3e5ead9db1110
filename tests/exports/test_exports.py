"""List exports: CSV with a BOM and Chinese intact, XLSX, formula-safe cells, the list's filters and the viewer's
export scope, the permission and the menu, sensitive values masked or revealed (and audited), long exports
written by a job whose link works for its member only, until it expires, and the contacts of the customer list."""
import csv
import io
import time
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm.extensions import db
from tests.conftest import local_link

HX = {"HX-Request": "true"}


def table(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.status_code
    assert answer.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))


def audit_entries(in_tenant, tenant, action):
    from crm.audit.models import AuditEntry

    return in_tenant(tenant, lambda: [(e.entity, e.summary, e.changes) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))])


@pytest.fixture
def spool(app, tmp_path):
    app.config["EXPORT_DIR"] = str(tmp_path)
    yield tmp_path
    app.config["EXPORT_DIR"] = ""


def test_csv_keeps_chinese_behind_a_bom_applies_the_filters_and_is_audited(acme, admin, make_customer, in_tenant):
    make_customer(acme, name="王芳", phone="13800138000", level="A")
    make_customer(acme, name="Li Lei", level="B")
    rows = table(admin.get(f"/{acme.slug}/exports/customers?level=A"))
    assert rows[0][:7] == ["Name", "Phone", "Email", "Lifecycle stage", "Level", "Owner", "Tags"]
    assert [r[0] for r in rows[1:]] == ["王芳"]
    assert rows[1][1] == "'+8613800138000"  # a leading + is a formula to Excel: written behind an apostrophe
    entries = audit_entries(in_tenant, acme, "export")
    assert entries[-1][0] == "customers" and entries[-1][1] == "CSV, 1 rows, level=A"


def test_xlsx_opens_and_formula_cells_are_escaped(acme, admin, make_customer):
    for name in ("=HYPERLINK(\"http://x\")", "+1+2", "-3", "@SUM(A1)", "Plain 张"):
        make_customer(acme, name=name)
    answer = admin.get(f"/{acme.slug}/exports/customers?format=xlsx&sort=oldest")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/vnd.openxml")
    values = list(load_workbook(io.BytesIO(answer.data)).active.iter_rows(values_only=True))
    names = sorted(row[0] for row in values[1:])
    assert names == sorted(["'=HYPERLINK(\"http://x\")", "'+1+2", "'-3", "'@SUM(A1)", "Plain 张"])
    csv_names = sorted(r[0] for r in table(admin.get(f"/{acme.slug}/exports/customers"))[1:])
    assert csv_names == names


def test_all_fields_are_named_in_the_readers_language(acme, admin, make_customer):
    make_customer(acme, name="Zhao", company="Acme 贸易", address="=1+1")
    admin.post("/language", data={"language": "zh"})
    rows = table(admin.get(f"/{acme.slug}/exports/customers?fields=all"))
    assert rows[0][0] == "名称" and "公司" in rows[0]
    assert rows[1][rows[0].index("公司")] == "Acme 贸易" and "'=1+1" in rows[1]


def test_a_rep_exports_only_their_own_rows_and_read_only_may_not_export(
        acme, people, make_customer, make_deal, make_order, make_ticket, client_as, add_member):
    rui, wes = people["rep"], people["west"]
    mine = make_customer(acme, rui.member_id, name="Rui's customer")
    theirs = make_customer(acme, wes.member_id, name="Wes's customer")
    make_deal(acme, rui.member_id, customer_id=mine, title="Rui's deal")
    make_deal(acme, wes.member_id, customer_id=theirs, title="Wes's deal")
    make_order(acme, mine, rui.member_id)
    make_order(acme, theirs, wes.member_id)
    make_ticket(acme, mine, rui.member_id, subject="Rui's ticket")
    make_ticket(acme, theirs, wes.member_id, subject="Wes's ticket")
    rep = client_as(rui.account_id)
    for kind in ("customers", "deals", "orders", "tickets", "followups"):
        text = rep.get(f"/{acme.slug}/exports/{kind}").data.decode("utf-8-sig")
        assert "Wes" not in text, kind
    assert "Rui's deal" in rep.get(f"/{acme.slug}/exports/deals").data.decode("utf-8-sig")
    assert "Rui's customer" in rep.get(f"/{acme.slug}/exports/orders").data.decode("utf-8-sig")
    assert "Export" in rep.get(f"/{acme.slug}/customers/").text

    reader, _member = add_member(acme, "read_only", "Rita Reader")
    reader = client_as(reader)
    assert reader.get(f"/{acme.slug}/exports/customers").status_code == 403
    for page in ("customers/", "deals/list", "orders/", "tickets/"):
        answer = reader.get(f"/{acme.slug}/{page}")
        assert answer.status_code == 200 and "/exports/" not in answer.text, page


def test_sensitive_values_are_masked_unless_the_role_may_reveal_them_then_audited(
        acme, admin, people, make_customer, in_tenant, client_as):
    rui = people["rep"]
    make_customer(acme, rui.member_id, name="Secretive", id_number="110101199003071234")
    rep_rows = table(client_as(rui.account_id).get(f"/{acme.slug}/exports/customers?fields=all"))
    assert rep_rows[1][rep_rows[0].index("ID number")] == "**** 1234"
    assert audit_entries(in_tenant, acme, "reveal") == []
    admin_rows = table(admin.get(f"/{acme.slug}/exports/customers?fields=all"))
    assert admin_rows[1][admin_rows[0].index("ID number")] == "110101199003071234"
    reveals = audit_entries(in_tenant, acme, "reveal")
    assert len(reveals) == 1 and reveals[0][0] == "customer" and "110101" not in str(reveals)
    # The visible columns never hold them.
    assert "ID number" not in table(admin.get(f"/{acme.slug}/exports/customers"))[0]


def test_a_long_export_is_written_by_a_job_and_its_link_works_for_its_member_until_it_expires(
        app, acme, globex, admin, make_customer, run_worker, in_tenant, client_as, spool, people, monkeypatch):
    from crm.exports import service
    from crm.notify.models import Notification

    for n in range(3):
        make_customer(acme, name=f"客户 {n}")
    app.config["EXPORT_STREAM_ROWS"] = 2
    try:
        answer = admin.get(f"/{acme.slug}/exports/customers?format=xlsx&level=")
    finally:
        app.config["EXPORT_STREAM_ROWS"] = 50000
    assert answer.status_code == 303
    assert "being prepared" in admin.get(answer.headers["Location"]).text
    run_worker()
    status, payload = in_tenant(acme, lambda: db.session.execute(select(Notification.status, Notification.payload).where(
        Notification.kind == "export_ready", Notification.channel == "inapp")).one())
    assert status == "sent" and payload["rows"] == 3
    link = local_link(payload["link"])
    assert link.startswith(f"/{acme.slug}/exports/file?t=")
    got = admin.get(link)
    assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
    names = [row[0] for row in load_workbook(io.BytesIO(got.data)).active.iter_rows(values_only=True)]
    assert sorted(names[1:]) == ["客户 0", "客户 1", "客户 2"]
    assert audit_entries(in_tenant, acme, "export")[-1][1] == "XLSX, 3 rows"

    # Another member of the workspace, the same admin in another workspace, a forged link: refused.
    def refused(client, url) -> bool:
        answer = client.get(url)
        return answer.status_code == 303 and "expired or is not yours" in client.get(answer.headers["Location"]).text

    assert refused(client_as(people["rep"].account_id), link)
    token = link.split("t=", 1)[1]
    assert admin.get(f"/{globex.slug}/exports/file?t={token}").status_code == 404  # not a member there
    assert refused(client_as(globex.admin_account_id), f"/{globex.slug}/exports/file?t={token}")
    assert refused(admin, f"/{acme.slug}/exports/file?t={token[:-2]}xx")

    # Expired: refused, and the hourly cleanup deletes the file.
    ids = [int(part) for part in token.split(".")[:-1]]
    with app.app_context():
        path = service.file_path(tuple(ids))
    assert path.is_file()
    later = SimpleNamespace(time=lambda: time.time() + 25 * 3600)  # the link's clock only: sessions keep theirs
    monkeypatch.setattr(service, "time", later)
    assert refused(admin, link)
    with app.app_context():
        assert service.remove_expired() == 1
    assert not path.exists()


def test_control_characters_and_formulas_are_escaped_in_both_formats():
    from crm import spreadsheets

    rows = [["Name"], ["\tTab"], ["\rCR"], ["=1+1"], [12.5], ["ok"]]
    text = b"".join(spreadsheets.csv_chunks(rows, batch=2)).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [["Name"], ["'\tTab"], ["'\rCR"], ["'=1+1"], ["12.5"], ["ok"]]
    out = io.BytesIO()
    spreadsheets.write_xlsx(rows, "T", out)
    cells = [row[0] for row in load_workbook(out).active.iter_rows(values_only=True)]
    assert cells[:2] == ["Name", "'\tTab"] and cells[2] in ("'\rCR", "'\nCR") and cells[3:] == ["'=1+1", 12.5, "ok"]


def add_contact(in_tenant, tenant, customer_id: int, primary: bool = False, no_marketing: bool = False, **fields):
    """A contact of the customer, added as the customer page adds one."""
    from crm.contacts import service as contacts
    from crm.customers.models import Customer

    def add():
        contact = contacts.create_contact(db.session.get(Customer, customer_id), fields, primary=primary,
                                          no_marketing=no_marketing)
        db.session.commit()
        return contact.id

    return in_tenant(tenant, add)


def test_contacts_are_exported_under_the_customer_lists_filters_from_its_menu(acme, admin, make_customer, in_tenant):
    kept = make_customer(acme, name="星辰科技", kind="company", level="A")
    other = make_customer(acme, name="Other Co", kind="company", level="B")
    add_contact(in_tenant, acme, kept, name="王芳", title="采购经理", mobile="13912345678", email="wf@example.com",
                wechat="wangfang88", notes="Prefers calls")
    add_contact(in_tenant, acme, kept, name="Li Na", phone="+86 10 8888 6666", primary=True, no_marketing=True)
    add_contact(in_tenant, acme, other, name="Not shown")

    rows = table(admin.get(f"/{acme.slug}/exports/contacts?level=A"))
    assert rows[0] == ["Customer", "Name", "Title", "Mobile", "Office phone", "Email", "WeChat ID", "Primary contact",
                       "Receives campaigns"]
    assert rows[1:] == [["星辰科技", "Li Na", "", "", "'+861088886666", "", "", "Yes", "No"],
                        ["星辰科技", "王芳", "采购经理", "'+8613912345678", "", "wf@example.com", "wangfang88", "No",
                         "Yes"]]
    every = table(admin.get(f"/{acme.slug}/exports/contacts?fields=all&level=A"))
    assert every[0][-2:] == ["Notes", "Created"] and every[2][-2] == "Prefers calls" and every[2][-1]
    assert audit_entries(in_tenant, acme, "export")[-1][:2] == ("contacts", "CSV, 2 rows, level=A")

    page = admin.get(f"/{acme.slug}/customers/?level=A").text
    assert "Export contacts" in page and f"/{acme.slug}/exports/contacts?format=xlsx&amp;level=A" in page
    admin.post("/language", data={"language": "zh"})
    chinese = table(admin.get(f"/{acme.slug}/exports/contacts?level=A"))
    assert chinese[0][0] == "客户" and chinese[1][-2:] == ["是", "否"]


def test_a_rep_exports_only_the_contacts_of_their_own_customers(acme, people, make_customer, client_as, in_tenant,
                                                               add_member):
    rui, wes = people["rep"], people["west"]
    add_contact(in_tenant, acme, make_customer(acme, rui.member_id, name="Rui's customer"), name="Rui's contact")
    add_contact(in_tenant, acme, make_customer(acme, wes.member_id, name="Wes's customer"), name="Wes's contact")
    for fmt in ("csv", "xlsx"):
        answer = client_as(rui.account_id).get(f"/{acme.slug}/exports/contacts?format={fmt}&fields=all")
        assert answer.status_code == 200
        if fmt == "csv":
            assert [row[1] for row in table(answer)[1:]] == ["Rui's contact"]
        else:
            names = [row[1] for row in load_workbook(io.BytesIO(answer.data)).active.iter_rows(values_only=True)]
            assert names[1:] == ["Rui's contact"]
    reader, _member = add_member(acme, "read_only", "Rita Reader")
    assert client_as(reader).get(f"/{acme.slug}/exports/contacts").status_code == 403
