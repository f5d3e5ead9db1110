"""Contacts imported from a file of their own, each row linked to its customer by the customer's name, phone, email
or external ID: Chinese and English headers guessed, the contact's fields cleaned by the contacts service (bad rows
shown in the check, never half-saved), one primary per customer, a rep's edit scope, the audit log and undo."""
from sqlalchemy import select

from crm.contacts.models import Contact
from crm.extensions import db

HEADER = ["公司名称", "姓名", "职位", "手机", "电话", "邮箱", "微信", "备注", "主要联系人"]
FIELDS = {"公司名称": "name", "姓名": "contact_name", "职位": "title", "手机": "mobile", "电话": "contact_phone",
          "邮箱": "contact_email", "微信": "wechat", "备注": "notes", "主要联系人": "primary"}


def contacts(in_tenant, tenant) -> list[tuple]:
    """(customer id, name, primary) of every contact, oldest first."""
    return in_tenant(tenant, lambda: [tuple(row) for row in db.session.execute(
        select(Contact.customer_id, Contact.name, Contact.is_primary).order_by(Contact.id))])


def add_contact(in_tenant, tenant, customer_id: int, name: str) -> int:
    from crm.contacts import service
    from crm.customers.models import Customer

    def add():
        contact = service.create_contact(db.session.get(Customer, customer_id), {"name": name})
        db.session.commit()
        return contact.id

    return in_tenant(tenant, add)


def test_chinese_and_english_headers_are_guessed(acme, in_tenant):
    from crm.imports import service
    from crm.members.models import Member

    english = ["Company", "Contact name", "Job title", "Mobile", "Office phone", "Email", "WeChat ID", "Notes",
               "Primary contact"]

    def guess(header):
        viewer = db.session.get(Member, acme.admin_member_id)
        imp = service.create_import(viewer, "contacts.csv", "/nowhere", {"headers": header}, "contacts")
        return service.proposed(imp)[0]

    expected = dict(enumerate(FIELDS.values()))
    assert in_tenant(acme, lambda: guess(HEADER)) == expected
    assert in_tenant(acme, lambda: guess(english)) == expected
    assert in_tenant(acme, lambda: guess(["客户名称", "联系人", "联系人手机", "客户电话"])) == {
        0: "name", 1: "contact_name", 2: "mobile", 3: "phone"}


def test_contacts_are_linked_by_the_customers_name_with_one_primary_each(acme, make_customer, run_import, in_tenant,
                                                                         admin):
    from crm.audit.models import AuditEntry

    stars = make_customer(acme, name="星辰科技", kind="company")
    river = make_customer(acme, name="River Ltd", kind="company")
    before = add_contact(in_tenant, acme, river, "Old Primary")
    rows = [HEADER,
            ["星辰科技", "王芳", "采购经理", "139 1234 5678", "010-8888 6666", "Wang.Fang@Example.com", "wangfang88",
             "Prefers calls", ""],
            ["星辰科技", "李娜", "", "", "", "", "", "", "否"],
            ["River Ltd", "Joe", "CEO", "", "", "", "", "", "是"],
            ["River Ltd", "Ann", "", "", "", "", "", "", "no"]]
    done = run_import(acme, rows, FIELDS, kind="contacts", match_on="name_company")
    assert done.status == "done" and (done.counts["created"], done.counts["errors"]) == (4, 0)
    assert contacts(in_tenant, acme) == [(river, "Old Primary", False), (stars, "王芳", True), (stars, "李娜", False),
                                         (river, "Joe", True), (river, "Ann", False)]
    wang = in_tenant(acme, lambda: db.session.execute(select(
        Contact.title, Contact.mobile, Contact.phone, Contact.email, Contact.wechat, Contact.notes).where(
        Contact.name == "王芳")).one())
    assert tuple(wang) == (
        "采购经理", "+8613912345678", "+861088886666", "wang.fang@example.com", "wangfang88", "Prefers calls")
    page = admin.get(f"/{acme.slug}/customers/{stars}").text
    assert "王芳" in page and "李娜" in page
    entries = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.summary, AuditEntry.changes).where(
        AuditEntry.entity == "contact", AuditEntry.entity_id != before)).all())
    assert sorted(summary for summary, _changes in entries) == ["Ann · River Ltd", "Joe · River Ltd", "李娜 · 星辰科技",
                                                                "王芳 · 星辰科技"]
    assert all(changes == {"import": [None, done.id]} for _summary, changes in entries)


def test_bad_rows_are_shown_in_the_check_and_never_half_saved(acme, make_customer, run_import, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import

    stars = make_customer(acme, name="星辰科技", kind="company")
    rows = [HEADER,
            ["星辰科技", "王芳", "", "139 1234 5678", "", "", "", "", "是"],
            ["星辰科技", "", "Buyer", "", "", "", "", "", ""],
            ["星辰科技", "Bad Mail", "", "", "", "not-an-email", "", "", ""],
            ["星辰科技", "Bad Phone", "", "12", "", "", "", "", ""],
            ["Nobody Ltd", "Lost", "", "", "", "", "", "", ""],
            ["星辰科技", "Also Primary", "", "", "", "", "", "", "yes"]]
    checked = run_import(acme, rows, FIELDS, kind="contacts", match_on="name_company", check_only=True)
    assert checked.status == "checked" and (checked.counts["created"], checked.counts["errors"]) == (1, 5)
    errors = dict(in_tenant(acme, lambda: service.errors(db.session.get(Import, checked.id))))
    assert errors[3] == "Name: Name is required."
    assert errors[4].startswith("Email: ") and errors[5].startswith("Mobile: ")
    assert errors[6] == "No customer matches this row (Customer's name)."
    assert errors[7] == "Line 2 already makes another contact of this customer primary."
    assert contacts(in_tenant, acme) == []  # the check adds nothing
    preview = in_tenant(acme, lambda: service.preview(db.session.get(Import, checked.id)))
    assert [(row.values["customer"], row.values["contact_name"], row.values["primary"]) for row in preview] == [
        ("星辰科技", "王芳", "Yes")]

    done = run_import(acme, rows, FIELDS, kind="contacts", match_on="name_company")
    assert (done.counts["created"], done.counts["errors"]) == (1, 5)
    assert contacts(in_tenant, acme) == [(stars, "王芳", True)]  # no bad row saved, not even in part


def test_a_rep_adds_contacts_only_to_customers_they_may_edit(acme, people, make_customer, run_import, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import

    mine = make_customer(acme, people["rep"].member_id, name="Mine Ltd")
    make_customer(acme, people["west"].member_id, name="Theirs Ltd")
    rows = [["Customer", "Name"], ["Mine Ltd", "Ann"], ["Theirs Ltd", "Bob"]]
    done = run_import(acme, rows, {"Customer": "name", "Name": "contact_name"}, kind="contacts",
                      member_id=people["rep"].member_id, match_on="name_company")
    assert (done.counts["created"], done.counts["errors"]) == (1, 1)
    errors = dict(in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id))))
    assert errors == {3: "This customer is not one of yours."}
    assert contacts(in_tenant, acme) == [(mine, "Ann", True)]


def test_undo_removes_the_contacts_and_gives_the_primary_part_back(acme, make_customer, make_deal, run_import,
                                                                    in_tenant):
    from crm.deals.models import Deal
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member

    river = make_customer(acme, name="River Ltd", kind="company", phone="13800000001")
    add_contact(in_tenant, acme, river, "Old Primary")
    rows = [["客户电话", "姓名", "主要联系人"], ["13800000001", "Joe", "是"], ["13800000001", "Ann", ""]]
    done = run_import(acme, rows, {"客户电话": "phone", "姓名": "contact_name", "主要联系人": "primary"},
                      kind="contacts", match_on="phone")
    assert done.counts["created"] == 2 and contacts(in_tenant, acme) == [
        (river, "Old Primary", False), (river, "Joe", True), (river, "Ann", False)]
    deal = make_deal(acme, customer_id=river)

    def chosen_on_the_deal():
        joe = db.session.scalar(select(Contact.id).where(Contact.name == "Joe"))
        db.session.get(Deal, deal).contact_id = joe
        db.session.commit()

    in_tenant(acme, chosen_on_the_deal)

    def undo():
        return service.undo(db.session.get(Member, acme.admin_member_id), db.session.get(Import, done.id))

    assert in_tenant(acme, undo) == {"removed": 2, "skipped": 0}
    assert contacts(in_tenant, acme) == [(river, "Old Primary", True)]
    assert in_tenant(acme, lambda: db.session.get(Deal, deal).contact_id) is None


def test_a_customer_with_no_contacts_gets_its_first_imported_one_as_primary(acme, make_customer, run_import,
                                                                            in_tenant):
    solo = make_customer(acme, name="Solo", email="solo@example.com")
    rows = [["客户邮箱", "联系人"], ["solo@example.com", "First"], ["solo@example.com", "Second"]]
    done = run_import(acme, rows, {"客户邮箱": "email", "联系人": "contact_name"}, kind="contacts", match_on="email")
    assert done.counts["created"] == 2
    assert contacts(in_tenant, acme) == [(solo, "First", True), (solo, "Second", False)]


def test_the_pages_import_contacts_from_an_uploaded_file_and_undo_it(app, acme, admin, make_customer, run_worker,
                                                                       tmp_path, monkeypatch, in_tenant):
    import io
    import re

    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "spool"))
    stars = make_customer(acme, name="星辰科技", kind="company")
    content = "公司名称,姓名,手机,主要联系人\n星辰科技,王芳,13912345678,是\n无名公司,李雷,,\n".encode()
    assert ">Contacts</option>" in admin.get(f"/{acme.slug}/imports/new").text
    uploaded = admin.post(f"/{acme.slug}/imports/new", data={
        "kind": "contacts", "file": (io.BytesIO(content), "联系人.csv")}, content_type="multipart/form-data")
    assert uploaded.status_code == 303
    import_id = int(re.search(r"/imports/(\d+)/mapping", uploaded.headers["Location"]).group(1))
    mapping = admin.get(f"/{acme.slug}/imports/{import_id}/mapping")
    assert "The file holds: Contacts" in mapping.text
    assert '<option value="contact_name" selected>Name</option>' in mapping.text
    data = {"column-0": "name", "column-1": "contact_name", "column-2": "mobile", "column-3": "primary",
            "match_on": "name_company", "owner_missing": "error"}
    assert admin.post(f"/{acme.slug}/imports/{import_id}/mapping", data=data).status_code == 303
    run_worker()
    checked = admin.get(f"/{acme.slug}/imports/{import_id}")
    assert "Import 1 record" in checked.text and "王芳" in checked.text and "No customer matches this row" in checked.text
    assert admin.post(f"/{acme.slug}/imports/{import_id}/import").status_code == 303
    run_worker()
    assert "王芳" in admin.get(f"/{acme.slug}/customers/{stars}").text
    assert "Undo this import" in admin.get(f"/{acme.slug}/imports/{import_id}").text
    assert admin.post(f"/{acme.slug}/imports/{import_id}/undo").status_code == 303
    assert contacts(in_tenant, acme) == []


def test_contacts_are_offered_only_to_roles_that_may_edit_customers(acme, admin, client_as, in_tenant, role_id,
                                                                    people):
    from crm.members.models import Role

    def no_customer_edits():
        role = db.session.get(Role, role_id(acme, "sales_rep"))
        role.permissions = {**role.permissions, "customers": {**role.permissions["customers"], "edit": "none"}}

    rep = client_as(people["rep"].account_id)
    assert ">Contacts</option>" in rep.get(f"/{acme.slug}/imports/new").text
    in_tenant(acme, no_customer_edits)
    assert ">Contacts</option>" not in rep.get(f"/{acme.slug}/imports/new").text
