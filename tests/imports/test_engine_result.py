"""After an import: progress, the error file, one audit entry, the importer told, the customer page's line,
undo, cancel, and tenants kept apart."""
import time

from sqlalchemy import func, select

from crm.audit.models import AuditEntry
from crm.customers.models import Customer
from crm.extensions import db


def _import(acme, in_tenant):
    from crm.imports.models import Import
    return lambda import_id: in_tenant(acme, lambda: db.session.get(Import, import_id))


ROWS = [["name", "phone", "notes"], ["Fine", "13800000041", "=1+1"], ["Broken", "999", "=HYPERLINK(\"x\")"],
        ["Also Fine", "13800000042", ""]]
FIELDS = {"name": "name", "phone": "phone", "notes": "notes"}


def test_progress_the_error_file_one_audit_entry_and_the_inbox(acme, admin, run_import, in_tenant):
    from crm.imports import service
    from crm.notify.models import Notification
    done = run_import(acme, ROWS, FIELDS, match_on="phone")
    imp = _import(acme, in_tenant)(done.id)
    progress = in_tenant(acme, lambda: service.progress(db.session.merge(imp)))
    assert (progress["status"], progress["rows_done"], progress["rows_total"], progress["errors"]) == ("done", 3, 3, 1)
    assert progress["rows_per_second"] > 0
    file = b"".join(in_tenant(acme, lambda: list(service.error_file(db.session.merge(imp)))))
    assert file.startswith(b"\xef\xbb\xbf")
    assert file.decode("utf-8-sig").splitlines() == ["name,phone,notes,Reason", "Broken,999,\"'=HYPERLINK(\"\"x\"\")\","
                                                     "\"Phone: Enter a valid phone number, e.g. 131 2345 6789, or one "
                                                     "starting with + and its country code.\""]
    entries = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.entity, AuditEntry.changes)).all())
    assert [e for e in entries if e[0] == "customer"] == []
    assert [e for e in entries if e[0] == "import"] == [
        ("import", {"created": [None, 2], "updated": [None, 0], "unchanged": [None, 0], "errors": [None, 1],
                    "duplicates": [None, 0]})]
    inbox = in_tenant(acme, lambda: db.session.scalars(select(Notification.kind).where(
        Notification.channel == "inapp", Notification.status == "sent")).all())
    assert inbox == ["import_done"]
    assert "Your import of customers.csv is done: 2 added" in admin.get(f"/{acme.slug}/messages/").text


def test_the_customer_page_says_who_imported_it(acme, admin, run_import, in_tenant):
    done = run_import(acme, ROWS, FIELDS, match_on="phone")
    customer_id = in_tenant(acme, lambda: db.session.scalar(select(Customer.id).where(Customer.name == "Fine")))
    page = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    assert f"Imported by Ada Admin (import #{done.id})" in page


def test_undo_trashes_created_restores_updated_and_skips_changed_ones(acme, make_customer, run_import, in_tenant):
    from crm.customers import writes
    from crm.imports import service
    from crm.members.models import Member
    kept = make_customer(acme, name="Kept", phone="13800000051", company="Before")
    touched = make_customer(acme, name="Touched", phone="13800000052", company="Before")
    rows = [["name", "phone", "company", "tags"], ["Kept", "13800000051", "After", "Imported"],
            ["Touched", "13800000052", "After", ""], ["Brand New", "13800000053", "New", ""],
            ["Edited New", "13800000054", "New", ""]]
    done = run_import(acme, rows, {"name": "name", "phone": "phone", "company": "company", "tags": "tags"},
                      match_on="phone")
    assert (done.counts["created"], done.counts["updated"]) == (2, 2)

    def edit_two():
        admin = db.session.get(Member, acme.admin_member_id)
        writes.update_customer(admin, db.session.get(Customer, touched), {"title": "Changed since"}, partial=True)
        edited = db.session.scalar(select(Customer).where(Customer.name == "Edited New"))
        writes.update_customer(admin, edited, {"title": "Changed since"}, partial=True)
    in_tenant(acme, edit_two)

    def undo():
        admin = db.session.get(Member, acme.admin_member_id)
        return service.undo(admin, service.get_import(admin, done.id))
    assert in_tenant(acme, undo) == {"trashed": 1, "restored": 1, "skipped": 2}

    def state():
        rows = db.session.execute(select(Customer.name, Customer.company, Customer.deleted_at.is_not(None),
                                         Customer.tag_ids)).all()
        return {name: (company, deleted, tags) for name, company, deleted, tags in rows}
    after = in_tenant(acme, state)
    assert after["Kept"] == ("Before", False, [])
    assert after["Touched"][:2] == ("After", False) and after["Edited New"][:2] == ("New", False)
    assert after["Brand New"][:2] == ("New", True)  # in the trash
    assert in_tenant(acme, lambda: db.session.get(Customer, kept).tags) == []
    entries = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity == "import")).all())
    assert sorted(entries) == ["create", "delete"]


def test_a_cancelled_import_writes_no_customers(acme, in_tenant, run_worker, tmp_path, monkeypatch):
    from crm.imports import service, staging
    from crm.members.models import Member
    monkeypatch.setattr(staging, "BATCH", 2)
    path = tmp_path / "c.csv"
    path.write_text("name\n" + "".join(f"P{i}\n" for i in range(10)), encoding="utf-8")

    def start():
        admin = db.session.get(Member, acme.admin_member_id)
        imp = service.create_import(admin, "c.csv", str(path), {"headers": ["name"]})
        service.set_mapping(admin, imp, {"0": "name"}, {"match_on": "name_company"})
        imp.status = "checked"  # as after its dry run
        service.start_import(imp)
        return imp

    imp = in_tenant(acme, start)
    in_tenant(acme, lambda: service.cancel(db.session.merge(imp)))
    run_worker()
    imp = in_tenant(acme, lambda: service.progress(db.session.merge(imp)))
    assert (imp["status"], imp["rows_done"]) == ("cancelled", 2)
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count(Customer.id)))) == 0


def test_an_import_of_one_tenant_never_changes_another(acme, globex, make_customer, run_import, customers):
    make_customer(acme, name="Same Phone", phone="13800000061", company="Acme")
    make_customer(globex, name="Same Phone", phone="13800000061", company="Globex")
    done = run_import(acme, [["name", "phone", "company"], ["Same Phone", "13800000061", "Changed"],
                             ["Another", "13800000062", ""]], {"name": "name", "phone": "phone", "company": "company"},
                      match_on="phone")
    assert (done.counts["updated"], done.counts["created"]) == (1, 1)
    assert customers(acme)["Same Phone"].company == "Changed"
    assert {n: c.company for n, c in customers(globex).items()} == {"Same Phone": "Globex"}


def test_ten_thousand_rows(acme, run_import, customers):
    rows = [["name", "phone", "email", "level", "tags"]] + [
        [f"客户 {i}", f"139{i:08d}", f"c{i}@example.com", "ABCD"[i % 4], "Bulk、Ten"] for i in range(10_000)]
    began = time.perf_counter()
    done = run_import(acme, rows, {"name": "name", "phone": "phone", "email": "email", "level": "level",
                                   "tags": "tags"}, match_on="phone")
    seconds = time.perf_counter() - began
    assert done.counts["created"] == 10_000
    print(f"10,000 rows checked and imported in {seconds:.1f} s")


def test_progress_is_seen_from_another_transaction_while_it_runs(acme, in_tenant, run_worker, tmp_path, monkeypatch):
    from crm.imports import jobs, service, staging
    from crm.imports.models import Import
    from crm.members.models import Member
    monkeypatch.setattr(staging, "BATCH", 2)
    seen = []

    def rows_of(imp):
        import_id = imp.id

        def rows():
            for i in range(7):
                if i == 5:  # two batches committed, the third being cleaned
                    seen.append(in_tenant(acme, lambda: service.progress(db.session.get(Import, import_id))))
                yield [f"P{i}", "12" if i == 1 else ""]
        return ["name", "phone"], rows()
    monkeypatch.setattr(jobs, "rows_of", rows_of)

    (tmp_path / "p.csv").write_text("name,phone\n")  # kept, as an upload is; the rows come from rows_of above

    def start():
        admin = db.session.get(Member, acme.admin_member_id)
        imp = service.create_import(admin, "p.csv", str(tmp_path / "p.csv"), {"headers": ["name", "phone"]})
        service.set_mapping(admin, imp, {"0": "name", "1": "phone"}, {"match_on": "phone"})
        service.start_check(imp)
    in_tenant(acme, start)
    run_worker()
    assert [(p["status"], p["rows_done"], p["errors"]) for p in seen] == [("checking", 4, 1)]
