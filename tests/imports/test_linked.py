"""Follow-ups, deals and orders imported from a file of their own, each row linked to a customer by the match key:
Chinese headers guessed, the dry run, unknown customers, undo, history, and a rep's scope."""
import pytest
from sqlalchemy import func, select

from crm.extensions import db

KNOWN, OTHER, UNKNOWN = "13800000001", "13800000002", "13900000009"

# Per kind: the header (Chinese, as exported from another CRM), the fields it should be guessed as, and rows for
# the customer with the KNOWN phone (two), the OTHER one and nobody.
FILES = {
    "activities": (
        ["客户名称", "手机", "跟进方式", "跟进内容", "跟进时间", "负责人"],
        {"客户名称": "name", "手机": "phone", "跟进方式": "method", "跟进内容": "summary", "跟进时间": "done_at",
         "负责人": "owner"},
        [["王芳", KNOWN, "电话", "介绍了新产品", "2024-03-01 10:00", ""],
         ["王芳", KNOWN, "Visit", "上门拜访", "2024-03-05 15:30", ""],
         ["李雷", OTHER, "", "发了报价", "2024-02-01", ""],
         ["无名", UNKNOWN, "电话", "打不通", "2024-03-02", ""]]),
    "deals": (
        ["客户", "联系电话", "商机名称", "阶段", "金额", "预计成交日期", "创建时间"],
        {"客户": "name", "联系电话": "phone", "商机名称": "title", "阶段": "stage", "金额": "amount",
         "预计成交日期": "expected_close", "创建时间": "created_at"},
        [["王芳", KNOWN, "年度采购", "方案", "50,000", "2024-06-30", "2024-01-15"],
         ["王芳", KNOWN, "续约", "Won", "8000", "2024-02-28", "2023-12-01"],
         ["李雷", OTHER, "试用", "", "", "", ""],
         ["无名", UNKNOWN, "不存在", "", "100", "", ""]]),
    "orders": (
        ["客户手机", "订单编号", "订单状态", "下单日期", "产品", "数量", "单价"],
        {"客户手机": "phone", "订单编号": "number", "订单状态": "status", "下单日期": "created_at", "产品": "product",
         "数量": "quantity", "单价": "unit_price"},
        [[KNOWN, "PO-2024-001", "已完成", "2024-03-01", "打印纸", "10", "25.50"],
         [KNOWN, "", "", "2024-03-08", "墨盒", "", "99"],
         [OTHER, "PO-2024-002", "Shipped", "2024-02-01", "订书机", "2", "12"],
         [UNKNOWN, "PO-2024-003", "", "", "纸", "1", "1"]]),
}
MODELS = {"activities": ("crm.followups.models", "Activity"), "deals": ("crm.deals.models", "Deal"),
          "orders": ("crm.orders.models", "Order")}


def _model(kind):
    module, name = MODELS[kind]
    return getattr(__import__(module, fromlist=[name]), name)


def _records(in_tenant, tenant, kind):
    """The kind's records, oldest first, detached."""
    def load():
        model = _model(kind)
        found = list(db.session.scalars(select(model).order_by(model.id)).unique())
        for record in found:
            db.session.refresh(record)
        db.session.expunge_all()
        return found
    return in_tenant(tenant, load)


@pytest.fixture
def two_customers(acme, make_customer):
    return {KNOWN: make_customer(acme, name="王芳", phone=KNOWN), OTHER: make_customer(acme, name="李雷", phone=OTHER)}


def _file(kind):
    header, fields, rows = FILES[kind]
    return [header, *rows], fields


@pytest.mark.parametrize("kind", FILES)
def test_chinese_headers_are_guessed_for_each_kind(acme, in_tenant, kind):
    from crm.imports import service
    from crm.members.models import Member
    header, fields, _rows = FILES[kind]

    def guess():
        viewer = db.session.get(Member, acme.admin_member_id)
        imp = service.create_import(viewer, "file.csv", "/nowhere", {"headers": header}, kind)
        return service.proposed(imp)[0]

    assert in_tenant(acme, guess) == {header.index(name): key for name, key in fields.items()}


@pytest.mark.parametrize("kind", FILES)
def test_rows_are_linked_by_phone_and_an_unknown_customer_is_an_error_row(acme, two_customers, run_import, in_tenant,
                                                                           kind):
    from crm.imports import service
    from crm.imports.models import Import
    rows, fields = _file(kind)
    done = run_import(acme, rows, fields, kind=kind, match_on="phone")
    assert done.status == "done"
    assert (done.counts["created"], done.counts["errors"]) == (3, 1)
    errors = in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id)))
    assert errors == [(5, "No customer matches this row (Customer's phone).")]
    error_file = b"".join(in_tenant(acme, lambda: list(service.error_file(db.session.get(Import, done.id)))))
    error_file = error_file.decode("utf-8-sig")
    assert UNKNOWN in error_file and "No customer matches this row" in error_file
    found = _records(in_tenant, acme, kind)
    assert [r.customer_id for r in found] == [two_customers[KNOWN], two_customers[KNOWN], two_customers[OTHER]]
    assert {r.owner_id for r in found} == {acme.admin_member_id}
    _check_values(kind, found, in_tenant, acme, two_customers)


def _check_values(kind, found, in_tenant, acme, two_customers):
    if kind == "activities":
        assert [(a.method, a.summary, a.done_at.isoformat()) for a in found[:2]] == [
            ("call", "介绍了新产品", "2024-03-01T02:00:00+00:00"), ("visit", "上门拜访", "2024-03-05T07:30:00+00:00")]
        assert found[2].method == "other" and found[2].due_at is None
        from crm.customers.models import Customer
        contact = in_tenant(acme, lambda: db.session.get(Customer, two_customers[KNOWN]).last_contact_at)
        assert contact.isoformat() == "2024-03-05T07:30:00+00:00"
    elif kind == "deals":
        from crm.deals.models import Stage
        stage_names = in_tenant(acme, lambda: dict(db.session.execute(select(Stage.id, Stage.name_en)).all()))
        assert [(d.title, stage_names[d.stage_id], d.status, str(d.amount)) for d in found] == [
            ("年度采购", "Proposal", "open", "50000.00"), ("续约", "Won", "won", "8000.00"), ("试用", "Lead", "open", "0.00")]
        assert found[0].created_at.isoformat() == "2024-01-14T16:00:00+00:00"  # kept, read in Asia/Shanghai
        assert found[1].closed_at.isoformat() == "2024-02-27T16:00:00+00:00" and found[0].closed_at is None
    else:
        assert [(o.number, o.status, str(o.total)) for o in found] == [
            ("PO-2024-001", "completed", "255.00"), (f"SO-{found[1].id:06d}", "placed", "99.00"),
            ("PO-2024-002", "shipped", "24.00")]
        assert (found[0].lines[0].description, str(found[0].lines[0].quantity)) == ("打印纸", "10.000")
        assert found[0].created_at.isoformat() == "2024-02-29T16:00:00+00:00"
        assert [c.to_status for c in found[0].changes] == ["completed"]


@pytest.mark.parametrize("kind", FILES)
def test_the_dry_run_counts_and_previews_without_adding_anything(acme, two_customers, run_import, in_tenant, kind):
    from crm.imports import service
    from crm.imports.models import Import
    rows, fields = _file(kind)
    done = run_import(acme, rows, fields, kind=kind, check_only=True, match_on="phone")
    assert done.status == "checked" and (done.counts["created"], done.counts["errors"]) == (3, 1)
    model = _model(kind)
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count()).select_from(model))) == 0
    preview = in_tenant(acme, lambda: service.preview(db.session.get(Import, done.id)))
    assert [row.values["customer"] for row in preview] == ["王芳", "王芳", "李雷"]


@pytest.mark.parametrize("kind", FILES)
def test_undo_removes_what_the_import_added(acme, two_customers, run_import, in_tenant, kind):
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    rows, fields = _file(kind)
    done = run_import(acme, rows, fields, kind=kind, match_on="phone")
    assert len(_records(in_tenant, acme, kind)) == 3

    def undo():
        return service.undo(db.session.get(Member, acme.admin_member_id), db.session.get(Import, done.id))

    assert in_tenant(acme, undo) == {"removed": 3, "skipped": 0}
    assert _records(in_tenant, acme, kind) == []
    if kind == "activities":
        from crm.customers.models import Customer
        assert in_tenant(acme, lambda: db.session.get(Customer, two_customers[KNOWN]).last_contact_at) is None


@pytest.mark.parametrize("kind", FILES)
def test_a_rep_cannot_attach_records_to_another_reps_customer(acme, people, make_customer, run_import, in_tenant,
                                                              kind):
    from crm.imports import service
    from crm.imports.models import Import
    mine = make_customer(acme, people["rep"].member_id, name="王芳", phone=KNOWN)
    make_customer(acme, people["rep2"].member_id, name="李雷", phone=OTHER)
    rows, fields = _file(kind)
    done = run_import(acme, rows, fields, kind=kind, member_id=people["rep"].member_id, match_on="phone")
    assert (done.counts["created"], done.counts["errors"]) == (2, 2)
    errors = dict(in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id))))
    assert errors[4] == "This customer is not one of yours."
    found = _records(in_tenant, acme, kind)
    assert {r.customer_id for r in found} == {mine} and {r.owner_id for r in found} == {people["rep"].member_id}


def test_a_rep_gives_records_only_to_members_in_reach(acme, people, make_customer, run_import, in_tenant):
    make_customer(acme, people["rep"].member_id, name="王芳", phone=KNOWN)
    rows = [["手机", "商机名称", "负责人"], [KNOWN, "Mine", "Rui Rep"], [KNOWN, "Theirs", "Wes West"]]
    done = run_import(acme, rows, {"手机": "phone", "商机名称": "title", "负责人": "owner"}, kind="deals",
                      member_id=people["rep"].member_id, match_on="phone")
    assert (done.counts["created"], done.counts["errors"]) == (1, 1)


def test_each_imported_record_says_imported_in_its_history(acme, two_customers, run_import, in_tenant, admin):
    from crm.audit.models import AuditEntry
    rows, fields = _file("deals")
    done = run_import(acme, rows, fields, kind="deals", match_on="phone")
    deal = _records(in_tenant, acme, "deals")[0]
    page = admin.get(f"/{acme.slug}/deals/{deal.id}")
    assert page.status_code == 200 and f"Import:</span> — → #{done.id}" in page.text
    entries = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.entity).where(
        AuditEntry.entity.in_(("deal", "import")))).all())
    assert sorted(entries) == ["deal", "deal", "deal", "import"]  # one import entry, one per deal


def test_order_numbers_are_kept_and_the_crms_own_form_is_refused(acme, two_customers, run_import, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    rows = [["手机", "订单号", "金额"], [KNOWN, "A-1", "100"], [KNOWN, "a-1", "200"], [KNOWN, "SO-000777", "5"],
            [KNOWN, "B-2", "10"]]
    fields = {"手机": "phone", "订单号": "number", "金额": "amount"}
    first = run_import(acme, rows, fields, kind="orders", match_on="phone")
    assert (first.counts["created"], first.counts["errors"]) == (3, 1)  # rows: A-1's two lines and B-2
    errors = dict(in_tenant(acme, lambda: service.errors(db.session.get(Import, first.id))))
    assert errors[4].startswith("Order number: Numbers like SO-000123 are given by the CRM")
    again = run_import(acme, [rows[0], [KNOWN, "B-2", "10"]], fields, kind="orders", match_on="phone")
    assert again.counts["errors"] == 1
    assert [(o.number, str(o.total), len(o.lines)) for o in _records(in_tenant, acme, "orders")] == [
        ("A-1", "300.00", 2), ("B-2", "10.00", 1)]


def test_rows_with_one_order_number_are_the_lines_of_one_order(acme, admin, two_customers, run_import, in_tenant):
    from crm.audit.models import AuditEntry
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    header, fields, _rows = FILES["orders"]
    rows = [header,
            [KNOWN, "PO-1", "已完成", "2024-03-01", "打印纸", "10", "25.50"],
            ["", "PO-1", "", "", "墨盒", "2", "99"],  # a later line may leave the order's values out
            [KNOWN, "po-1", "Completed", "2024-03-01", "订书机", "1", "12"],
            [OTHER, "PO-2", "", "", "纸", "1", "5"], [KNOWN, "PO-2", "", "", "笔", "1", "3"],
            [KNOWN, "PO-3", "Shipped", "", "纸", "1", "5"], [KNOWN, "PO-3", "已完成", "", "笔", "1", "3"],
            [KNOWN, "PO-4", "", "", "纸", "many", "5"], [KNOWN, "PO-4", "", "", "笔", "1", "3"]]
    done = run_import(acme, rows, fields, kind="orders", match_on="phone")
    assert (done.counts["created"], done.counts["errors"]) == (3, 6)
    assert in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id)))[:6] == [
        (5, "The lines of order PO-2 give different values of Customer."),
        (6, "The lines of order PO-2 give different values of Customer."),
        (7, "The lines of order PO-3 give different values of Status."),
        (8, "The lines of order PO-3 give different values of Status."),
        (9, "Quantity: Enter a quantity above zero (at most three decimals)."),
        (10, "Another line of this order has an error.")]
    [order] = _records(in_tenant, acme, "orders")
    assert (order.number, order.status, str(order.total), order.customer_id) == ("PO-1", "completed", "465.00",
                                                                                 two_customers[KNOWN])
    assert [(line.position, line.description, str(line.total)) for line in order.lines] == [
        (1, "打印纸", "255.00"), (2, "墨盒", "198.00"), (3, "订书机", "12.00")]
    assert order.created_at.isoformat() == "2024-02-29T16:00:00+00:00" and len(order.changes) == 1
    assert _timeline(admin, acme, two_customers[KNOWN]) == [
        "Order PO-1 placed, total CN¥465.00 3/1/24, 12:00 AM · Ada Admin"]
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.entity == "order"))) == 1

    def undo():
        return service.undo(db.session.get(Member, acme.admin_member_id), db.session.get(Import, done.id))

    assert in_tenant(acme, undo) == {"removed": 1, "skipped": 0}
    assert _records(in_tenant, acme, "orders") == []


def test_linked_rows_by_name_and_company(acme, make_customer, run_import, in_tenant):
    customer = make_customer(acme, name="Wang Fang", company="Acme Co")
    rows = [["客户名称", "公司", "跟进内容", "计划时间"], ["wang fang", "ACME CO", "Call back", "2030-01-02 09:00"]]
    done = run_import(acme, rows, {"客户名称": "name", "公司": "company", "跟进内容": "summary", "计划时间": "due_at"},
                      kind="activities", match_on="name_company")
    assert done.counts["created"] == 1
    [plan] = _records(in_tenant, acme, "activities")
    assert plan.customer_id == customer and plan.done_at is None and plan.due_at.year == 2030


def test_the_pages_import_orders_from_an_uploaded_file(app, acme, admin, two_customers, run_worker, tmp_path,
                                                     monkeypatch, in_tenant):
    import io
    import re
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "spool"))
    content = "客户手机,订单编号,产品,金额\n13800000001,PO-9,打印纸,120\n13900000009,PO-10,纸,1\n".encode()
    form = admin.get(f"/{acme.slug}/imports/new")
    assert 'name="kind"' in form.text and ">Orders</option>" in form.text
    uploaded = admin.post(f"/{acme.slug}/imports/new", data={"kind": "orders", "file": (io.BytesIO(content), "订单.csv")},
                          content_type="multipart/form-data")
    assert uploaded.status_code == 303
    import_id = int(re.search(r"/imports/(\d+)/mapping", uploaded.headers["Location"]).group(1))
    mapping = admin.get(f"/{acme.slug}/imports/{import_id}/mapping")
    assert "The file holds: Orders" in mapping.text and 'value="into_pool"' not in mapping.text
    assert '<option value="number" selected>Order number</option>' in mapping.text
    data = {"column-0": "phone", "column-1": "number", "column-2": "product", "column-3": "amount",
            "match_on": "phone", "owner_missing": "error"}
    assert admin.post(f"/{acme.slug}/imports/{import_id}/mapping", data=data).status_code == 303
    run_worker()
    checked = admin.get(f"/{acme.slug}/imports/{import_id}")
    assert "Import 1 record" in checked.text and "王芳" in checked.text and "PO-9" in checked.text
    assert admin.post(f"/{acme.slug}/imports/{import_id}/import").status_code == 303
    run_worker()
    assert "PO-9" in admin.get(f"/{acme.slug}/orders/").text


def test_a_kind_the_member_may_not_create_is_refused_at_the_field(acme, people, client_as, in_tenant, role_id):
    from crm.members.models import Role

    def no_orders():
        role = db.session.get(Role, role_id(acme, "sales_rep"))
        role.permissions = {**role.permissions, "orders": {**role.permissions["orders"], "create": "none"}}
    in_tenant(acme, no_orders)
    rep = client_as(people["rep"].account_id)
    assert ">Orders</option>" not in rep.get(f"/{acme.slug}/imports/new").text
    import io
    page = rep.post(f"/{acme.slug}/imports/new", data={"kind": "orders", "file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                    content_type="multipart/form-data")
    assert page.status_code == 422 and 'id="kind-error"' in page.text


def test_a_ticket_finds_an_imported_order_by_its_kept_number(acme, two_customers, run_import, in_tenant):
    from crm.members.models import Member
    from crm.orders import chooser
    rows = [["手机", "订单号", "金额"], [KNOWN, "PO-77", "100"]]
    run_import(acme, rows, {"手机": "phone", "订单号": "number", "金额": "amount"}, kind="orders", match_on="phone")
    [order] = _records(in_tenant, acme, "orders")

    def find():
        viewer = db.session.get(Member, acme.admin_member_id)
        return ([o.id for o in chooser.matching(viewer, "po-7", two_customers[KNOWN])],
                chooser.chosen(viewer, "po-77", two_customers[KNOWN]).id, chooser.order_number(order.id))

    assert in_tenant(acme, find) == ([order.id], order.id, "PO-77")


# What the pages' services tell the rest of the CRM: the customer's timeline and a plan's reminders

def _timeline(admin, acme, customer_id):
    """The customer page's Timeline card as the admin sees it, one line per event (sentence · time · who)."""
    import re
    page = admin.get(f"/{acme.slug}/customers/{customer_id}")
    card = page.text[page.text.index('id="timeline"'):]
    card = card[:card.index("</section>")]
    items = re.findall(r"<li class=\"timeline-event.*?</li>", card, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


@pytest.mark.parametrize("kind", FILES)
def test_imported_records_are_on_their_customers_timeline_until_undone(acme, admin, two_customers, run_import,
                                                                       in_tenant, kind):
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    rows, fields = _file(kind)
    done = run_import(acme, rows, fields, kind=kind, match_on="phone")
    expected = {
        "activities": ["Visit logged: 上门拜访 3/5/24, 3:30 PM · Ada Admin",
                       "Call logged: 介绍了新产品 3/1/24, 10:00 AM · Ada Admin"],
        "deals": ["Deal 年度采购 created in stage Proposal 1/15/24, 12:00 AM · Ada Admin",
                  "Deal 续约 created in stage Won 12/1/23, 12:00 AM · Ada Admin"],
        "orders": [f"Order SO-{_records(in_tenant, acme, kind)[1].id:06d} placed, total CN¥99.00 3/8/24, 12:00 AM · "
                   "Ada Admin", "Order PO-2024-001 placed, total CN¥255.00 3/1/24, 12:00 AM · Ada Admin"],
    }[kind]
    assert _timeline(admin, acme, two_customers[KNOWN]) == expected
    if kind != "activities":  # a deal's and an order's event links to it, as the page's does
        page = admin.get(f"/{acme.slug}/customers/{two_customers[KNOWN]}").text
        record = _records(in_tenant, acme, kind)[0]
        assert f'href="/{acme.slug}/{kind}/{record.id}"' in page
    in_tenant(acme, lambda: service.undo(db.session.get(Member, acme.admin_member_id),
                                         db.session.get(Import, done.id)))
    assert _timeline(admin, acme, two_customers[KNOWN]) == []


def test_an_imported_plan_gets_its_reminder_as_one_planned_on_the_page(acme, admin, two_customers, run_import,
                                                                       in_tenant, smtp_on, outbox_rows):
    from datetime import UTC, datetime, timedelta, timezone
    from email.header import decode_header, make_header

    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    from crm.notify.models import Notification

    def local(moment):
        return moment.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")

    soon, later = datetime.now(UTC) + timedelta(minutes=10), datetime.now(UTC) + timedelta(days=2)
    rows = [["手机", "跟进方式", "跟进内容", "计划时间", "跟进时间"],
            [KNOWN, "电话", "Call about the quote", local(soon), ""],  # reminded now (15 minutes before)
            [OTHER, "拜访", "Visit the plant", local(later), ""],  # reminded in two days
            [KNOWN, "电话", "Missed call", "2024-01-01 10:00", ""],  # planned in the past: no reminder
            [KNOWN, "电话", "Called", local(later), "2024-02-01 10:00"]]  # done: no reminder
    fields = {"手机": "phone", "跟进方式": "method", "跟进内容": "summary", "计划时间": "due_at", "跟进时间": "done_at"}
    done = run_import(acme, rows, fields, kind="activities", match_on="phone")  # runs the due reminder's job too
    assert done.counts["created"] == 4
    mails = [m for m in smtp_on.messages if m["To"] == f"admin@{acme.slug}.example"]
    assert [str(make_header(decode_header(m["Subject"]))) for m in mails] == ["Reminder: Call 王芳"]
    assert "Call about the quote" in mails[0].get_payload()[0].get_payload(decode=True).decode()
    assert "Reminder: Call 王芳" in admin.get(f"/{acme.slug}/messages/").text
    assert [row[:3] for row in outbox_rows(acme, kind="reminder")] == [
        ("inapp", "reminder", "sent"), ("email", "reminder", "sent"), ("inapp", "reminder", "scheduled"),
        ("email", "reminder", "scheduled")]
    waiting = in_tenant(acme, lambda: sorted((n.id, n.due_at, n.payload["customer"]) for n in db.session.scalars(
        select(Notification).where(Notification.status == "scheduled"))))
    remind_at = later.replace(second=0, microsecond=0) - timedelta(minutes=15)
    assert [(due, customer) for _id, due, customer in waiting] == [(remind_at, "李雷")] * 2
    from crm.jobs import queue
    from crm.notify.outbox import job_id

    def scheduled():  # each send job waits for its time in RQ's registry, as enqueue_at's do
        registry = queue("notify").scheduled_job_registry
        return [registry.get_scheduled_time(job_id(acme.id, n)) for n, _due, _customer in waiting]

    assert in_tenant(acme, scheduled) == [remind_at] * 2
    in_tenant(acme, lambda: service.undo(db.session.get(Member, acme.admin_member_id),
                                         db.session.get(Import, done.id)))
    assert [row[2] for row in outbox_rows(acme, kind="reminder")] == ["sent", "sent", "cancelled", "cancelled"]


def test_custom_fields_of_deals_are_mapped_and_cleaned_as_on_the_form(acme, admin, two_customers, run_import,
                                                                       in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    from tests.fields.test_entity_fields import add_field
    add_field(admin, acme, "deal", label_en="Deal tier", key="tier", type="select", required="on",
              new_options="Gold | 金牌\nSilver | 银牌")
    add_field(admin, acme, "deal", label_en="Seats", key="seats", type="number")
    header = ["手机", "商机名称", "Deal tier", "Seats"]

    def guess():
        viewer = db.session.get(Member, acme.admin_member_id)
        return service.proposed(service.create_import(viewer, "deals.csv", "/nowhere", {"headers": header},
                                                      "deals"))[0]

    assert in_tenant(acme, guess) == {0: "phone", 1: "title", 2: "custom_tier", 3: "custom_seats"}
    rows = [header, [KNOWN, "A", "金牌", "12"], [KNOWN, "B", "silver", ""], [KNOWN, "C", "Platinum", ""],
            [KNOWN, "D", "", "3"], [KNOWN, "E", "Gold", "lots"]]
    fields = {"手机": "phone", "商机名称": "title", "Deal tier": "custom_tier", "Seats": "custom_seats"}
    done = run_import(acme, rows, fields, kind="deals", match_on="phone")
    assert (done.counts["created"], done.counts["errors"]) == (2, 3)
    assert in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id))) == [
        (4, "Deal tier: Choose one of the listed values."), (5, "Deal tier: This field is required."),
        (6, "Seats: Enter a number, e.g. 12 or 3.5.")]
    assert [(d.title, d.custom) for d in _records(in_tenant, acme, "deals")] == [
        ("A", {"tier": "gold", "seats": 12}), ("B", {"tier": "silver"})]
    deal = _records(in_tenant, acme, "deals")[0]
    assert "金牌" not in admin.get(f"/{acme.slug}/deals/{deal.id}").text  # shown in the reader's language
    assert "Gold" in admin.get(f"/{acme.slug}/deals/{deal.id}").text


def test_custom_fields_of_orders_are_the_orders_and_its_lines_must_agree(acme, admin, two_customers, run_import,
                                                                         in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    from tests.fields.test_entity_fields import add_field
    add_field(admin, acme, "order", label_en="Sales channel", key="channel", type="select", required="on",
              new_options="Online | 网店\nShop | 门店")
    add_field(admin, acme, "order", label_en="Boxes", key="boxes", type="number", default="1")
    rows = [["手机", "订单号", "金额", "渠道", "箱数"],
            [KNOWN, "P-1", "10", "网店", ""], ["", "P-1", "5", "", "3"],  # one order: its values from either line
            [KNOWN, "P-2", "7", "Shop", ""],  # the default number of boxes
            [KNOWN, "P-3", "1", "Online", ""], [KNOWN, "P-3", "2", "门店", ""],
            [KNOWN, "", "4", "", ""]]
    fields = {"手机": "phone", "订单号": "number", "金额": "amount", "渠道": "custom_channel", "箱数": "custom_boxes"}
    done = run_import(acme, rows, fields, kind="orders", match_on="phone")
    assert (done.counts["created"], done.counts["errors"]) == (3, 3)
    assert in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id))) == [
        (5, "The lines of order P-3 give different values of Sales channel."),
        (6, "The lines of order P-3 give different values of Sales channel."),
        (7, "Sales channel: This field is required.")]
    assert [(o.number, str(o.total), o.custom) for o in _records(in_tenant, acme, "orders")] == [
        ("P-1", "15.00", {"channel": "online", "boxes": 3}), ("P-2", "7.00", {"channel": "shop", "boxes": 1})]


@pytest.mark.parametrize("kind, event", [("deals", "deal.created"), ("orders", "order.created")])
def test_imported_deals_and_orders_are_sent_to_webhook_subscribers(acme, two_customers, run_import, in_tenant,
                                                                   kind, event):
    from crm.members.models import Member
    from crm.webhooks import service
    from crm.webhooks.models import WebhookDelivery
    in_tenant(acme, lambda: service.create_subscription(db.session.get(Member, acme.admin_member_id),
                                                        "https://erp.example.com/hook", [event]))
    rows, fields = _file(kind)
    run_import(acme, rows, fields, kind=kind, match_on="phone")
    sent = in_tenant(acme, lambda: sorted((d.type, d.payload["data"]["object"]["id"])
                                          for d in db.session.scalars(select(WebhookDelivery))))
    assert sent == [(event, record.id) for record in _records(in_tenant, acme, kind)]


def test_imported_history_takes_its_place_among_the_timelines_events_by_time(acme, admin, two_customers, run_import):
    note = admin.post(f"/{acme.slug}/activities/notes", data={"customer_id": two_customers[KNOWN],
                                                              "text": "Met at the fair"})
    assert note.status_code in (200, 204, 303)
    rows, fields = _file("activities")
    run_import(acme, rows, fields, kind="activities", match_on="phone")  # done in 2024: older than the note
    assert [line.split(":")[0] for line in _timeline(admin, acme, two_customers[KNOWN])] == [
        "Note", "Visit logged", "Call logged"]


def test_what_an_undo_removed_is_listed_in_the_apis_deletions(acme, app, two_customers, run_import, in_tenant,
                                                              make_api_token, people):
    from datetime import datetime, timezone
    from urllib.parse import quote

    from crm.imports import service
    from crm.imports.models import Import
    from crm.members.models import Member
    from tests.conftest import bearer

    done = {kind: run_import(acme, *_file(kind), kind=kind, match_on="phone") for kind in ("deals", "orders")}
    added = {kind: [r.id for r in _records(in_tenant, acme, kind)] for kind in done}
    kept = added["deals"][0]
    in_tenant(acme, lambda: setattr(db.session.get(_model("deals"), kept), "title", "Changed since"))  # skipped
    last_sync = datetime.now(timezone.utc)
    for kind, imp in done.items():
        in_tenant(acme, lambda imp=imp: service.undo(db.session.get(Member, acme.admin_member_id),
                                                     db.session.get(Import, imp.id)))

    def deleted(token) -> list[tuple[str, int]]:
        answer = app.test_client().get(f"/api/v1/deletions/?since={quote(last_sync.isoformat())}",
                                       headers=bearer(token))
        assert answer.status_code == 200, answer.text
        return [(row["type"], row["id"]) for row in answer.json["data"]]

    listed = deleted(make_api_token(acme))
    assert len(added["deals"]) == 3 and len(added["orders"]) == 3
    assert sorted(listed) == sorted([("deal", i) for i in added["deals"] if i != kept]
                                    + [("order", i) for i in added["orders"]])
    assert deleted(make_api_token(acme, people["rep"].member_id)) == []  # the importer's records, not the rep's
