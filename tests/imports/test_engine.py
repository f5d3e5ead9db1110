"""The import engine: modes, match keys, duplicates, the dry run, bad input, owners, select values, tags,
history, the pool, scope, sensitive values."""
import pytest
from sqlalchemy import func, select

from crm import crypto
from crm.customers.models import Customer
from crm.customers.queries import query_grams
from crm.extensions import db

HEADER = ["姓名", "手机", "公司"]
PHONE = {"姓名": "name", "手机": "phone", "公司": "company"}


def _existing(acme, make_customer):
    make_customer(acme, name="Old A", phone="13800000001", company="Alpha")
    make_customer(acme, name="Old B", phone="13800000002", company="Beta")


FILE = [HEADER, ["Old A", "13800000001", "Alpha New"],  # changes the company
        ["Old B", "138 0000 0002", "Beta"],  # the same as stored
        ["New C", "13800000003", "Gamma"], ["New D", "13800000004", ""]]


@pytest.mark.parametrize("mode, expected, companies", [
    ("create_update", {"created": 2, "updated": 1, "unchanged": 1, "errors": 0}, {"Old A": "Alpha New"}),
    ("create", {"created": 2, "updated": 0, "unchanged": 2, "errors": 0}, {"Old A": "Alpha"}),
    ("update", {"created": 0, "updated": 1, "unchanged": 1, "errors": 2}, {"Old A": "Alpha New"}),
])
def test_each_mode_counts_and_writes_what_it_says(acme, make_customer, run_import, customers, mode, expected,
                                                 companies):
    _existing(acme, make_customer)
    done = run_import(acme, FILE, PHONE, match_on="phone", mode=mode)
    assert done.status == "done"
    assert {k: done.counts[k] for k in expected} == expected
    found = customers(acme)
    assert len(found) == 2 + expected["created"]
    assert found["Old A"].company == companies["Old A"] and found["Old B"].company == "Beta"
    if expected["created"]:
        assert found["New C"].phone == "+8613800000003" and found["New C"].owner_id == acme.admin_member_id


def test_update_only_reports_rows_without_a_customer(acme, make_customer, run_import, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    _existing(acme, make_customer)
    done = run_import(acme, FILE, PHONE, match_on="phone", mode="update")
    errors = in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id)))
    assert [line for line, _reason in errors] == [4, 5]
    assert "No customer matches" in errors[0][1]


@pytest.mark.parametrize("match_on, column, stored, typed", [
    ("email", "email", {"email": "wang@example.com"}, "WANG@example.com"),
    ("name_company", None, {}, None),
    ("id_number", "id_number", {"id_number": "110101199003077777"}, "1101 0119 9003 077777"),
    ("external_id", "external_id", {}, "ERP-42"),
])
def test_each_match_key_finds_the_customer(acme, make_customer, run_import, customers, in_tenant, match_on, column,
                                          stored, typed):
    customer_id = make_customer(acme, name="Wang Fang", company="Acme Co", **stored)
    if match_on == "external_id":
        in_tenant(acme, lambda: setattr(db.session.get(Customer, customer_id), "external_id", "ERP-42"))
    header = ["name", "company", "title"] + ([column] if column else [])
    row = ["wang fang", "ACME CO", "Boss"] + ([typed] if column else [])
    fields = {"name": "name", "company": "company", "title": "title", **({column: column} if column else {})}
    done = run_import(acme, [header, row, ["Li Lei", "Other", "Clerk"] + (["x@y.cn" if column == "email" else
                      "ERP-43" if column == "external_id" else "220101199003077777"] if column else [])],
                      fields, match_on=match_on, mode="create_update")
    assert (done.counts["updated"], done.counts["created"]) == (1, 1)
    found = customers(acme)
    assert found["wang fang"].id == customer_id and found["wang fang"].title == "Boss"


def test_duplicates_in_the_file_are_merged_or_skipped(acme, run_import, customers):
    rows = [["name", "phone", "company", "title"], ["Zhao", "13800000011", "First Co", ""],
            ["Zhao Min", "13800000011", "", "Manager"], ["Qian", "13800000012", "Q", "Q"]]
    fields = {"name": "name", "phone": "phone", "company": "company", "title": "title"}
    merged = run_import(acme, rows, fields, match_on="phone", duplicates="merge")
    assert (merged.counts["created"], merged.counts["duplicates"]) == (2, 1)
    found = customers(acme)
    assert (found["Zhao Min"].company, found["Zhao Min"].title) == ("First Co", "Manager")  # later non-empty wins


def test_skipped_duplicates_keep_the_first_row(globex, run_import, customers):
    rows = [["name", "phone"], ["Zhao", "13800000011"], ["Zhao Min", "13800000011"]]
    skipped = run_import(globex, rows, {"name": "name", "phone": "phone"}, match_on="phone", duplicates="skip")
    assert (skipped.counts["created"], skipped.counts["duplicates"]) == (1, 1)
    assert list(customers(globex)) == ["Zhao"]


def test_the_dry_run_counts_and_previews_without_writing_customers(acme, make_customer, run_import, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    _existing(acme, make_customer)
    rows = FILE + [[f"Person {i}", f"1390000{i:04d}", "Bulk"] for i in range(30)] + [["Bad", "12", ""]]
    done = run_import(acme, rows, PHONE, check_only=True, match_on="phone")
    assert done.status == "checked"
    assert {k: done.counts[k] for k in ("created", "updated", "unchanged", "errors")} == {
        "created": 32, "updated": 1, "unchanged": 1, "errors": 1}
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count(Customer.id)))) == 2
    preview = in_tenant(acme, lambda: service.preview(db.session.get(Import, done.id)))
    assert len(preview) == 20
    assert (preview[0].line, preview[0].action, preview[0].values["company"]) == (2, "update", "Alpha New")
    assert preview[1].values == {"name": "New C", "phone": "+8613800000003", "company": "Gamma"}


def test_bad_cells_are_row_errors_with_line_numbers_and_the_rest_is_imported(acme, run_import, customers, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    rows = [["name", "phone", "email", "created", "notes"],
            ["Good One", "13800000021", "a@b.cn", "2020-05-01", "=1+1"],
            ["Bad Phone", "12345", "", "", ""],
            ["Bad Email", "", "not-an-email", "", ""],
            ["Bad Date", "", "", "2020-13-45", ""],
            ["N" * 121, "", "", "", ""],
            ["Good Two", "", "", "2021/02/03 10:30", "@SUM(A1)"]]
    fields = {"name": "name", "phone": "phone", "email": "email", "created": "created_at", "notes": "notes"}
    done = run_import(acme, rows, fields, match_on="phone")
    assert (done.counts["created"], done.counts["errors"]) == (2, 4)
    errors = dict(in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id))))
    assert sorted(errors) == [3, 4, 5, 6]
    assert errors[3].startswith("Phone: Enter a valid phone number")
    assert errors[4] == "Email: Enter a valid email address."
    assert errors[5] == "Created: Enter a valid date."
    assert errors[6] == "Name: Use at most 120 characters."
    found = customers(acme)
    assert found["Good One"].notes == "=1+1" and found["Good Two"].notes == "@SUM(A1)"  # stored as typed
    assert found["Good One"].created_at.isoformat() == "2020-04-30T16:00:00+00:00"  # Asia/Shanghai midnight
    assert found["Good Two"].created_at.isoformat() == "2021-02-03T02:30:00+00:00"


def test_owners_by_email_or_name_and_missing_ones(acme, people, run_import, customers, in_tenant):
    from crm.members.models import Member
    rui_email = in_tenant(acme, lambda: db.session.get(Member, people["rep"].member_id).email)
    rows = [["name", "owner"], ["By Email", rui_email.upper()], ["By Name", "Wes West"], ["Nobody", "Ghost"]]
    done = run_import(acme, rows, {"name": "name", "owner": "owner"}, match_on="name_company")
    assert (done.counts["created"], done.counts["errors"]) == (2, 1)
    found = customers(acme)
    assert found["By Email"].owner_id == people["rep"].member_id
    assert found["By Name"].owner_id == people["west"].member_id
    again = run_import(acme, [["name", "owner"], ["Nobody", "Ghost"]], {"name": "name", "owner": "owner"},
                       match_on="name_company", owner_missing="default", default_owner_id=people["rep2"].member_id)
    assert again.counts["created"] == 1 and customers(acme)["Nobody"].owner_id == people["rep2"].member_id


def _level_field(acme, in_tenant):
    from crm.fields.models import CustomField

    def make():
        db.session.add(CustomField(entity="customer", key="tier", type="select", label_en="Tier", label_zh="等级",
                                   options=[{"key": "gold", "en": "Gold", "zh": "金牌", "retired": False}]))
    in_tenant(acme, make)


def test_select_values_by_either_language_and_unknown_ones(acme, run_import, customers, in_tenant):
    _level_field(acme, in_tenant)
    rows = [["name", "stage", "tier", "kind"], ["Zh", "客户", "金牌", "公司"], ["En", "Prospect", "gold", "Person"],
            ["Unknown", "lead", "Platinum", ""]]
    fields = {"name": "name", "stage": "stage", "tier": "custom_tier", "kind": "kind"}
    refused = run_import(acme, rows, fields, match_on="name_company")
    assert (refused.counts["created"], refused.counts["errors"]) == (2, 1)
    found = customers(acme)
    assert (found["Zh"].stage, found["Zh"].custom, found["Zh"].kind) == ("customer", {"tier": "gold"}, "company")
    assert (found["En"].stage, found["En"].custom) == ("prospect", {"tier": "gold"})
    created = run_import(acme, rows[:1] + rows[3:], fields, match_on="name_company", unknown_values="create")
    assert created.counts["created"] == 1
    from crm.fields.models import CustomField
    options = in_tenant(acme, lambda: db.session.scalar(select(CustomField.options).where(CustomField.key == "tier")))
    assert options[-1] == {"key": "platinum", "en": "Platinum", "zh": "", "retired": False}
    assert customers(acme)["Unknown"].custom == {"tier": "platinum"}


def test_merged_duplicates_keep_the_custom_values_of_each_row(acme, run_import, customers, in_tenant):
    _level_field(acme, in_tenant)
    rows = [["name", "phone", "tier", "company"], ["Zhou", "13800000021", "金牌", ""],
            ["Zhou Min", "13800000021", "", "Z Co"], ["Sun", "13800000022", "", ""], ["Sun Li", "13800000022", "", ""]]
    fields = {"name": "name", "phone": "phone", "tier": "custom_tier", "company": "company"}
    merged = run_import(acme, rows, fields, match_on="phone", duplicates="merge")
    assert (merged.counts["created"], merged.counts["duplicates"]) == (2, 2)
    found = customers(acme)
    assert (found["Zhou Min"].company, found["Zhou Min"].custom) == ("Z Co", {"tier": "gold"})
    assert found["Sun Li"].custom == {}


def test_tags_are_split_and_missing_ones_created(acme, run_import, customers, in_tenant):
    from crm.customers.models import Tag
    in_tenant(acme, lambda: db.session.add(Tag(name="VIP", color="red")))
    rows = [["name", "tags"], ["Tagged", "vip、新客户, Beijing；新客户"]]
    done = run_import(acme, rows, {"name": "name", "tags": "tags"}, match_on="name_company")
    assert done.counts["created"] == 1
    tagged = customers(acme)["Tagged"]
    assert sorted(t.name for t in tagged.tags) == ["Beijing", "VIP", "新客户"]
    assert sorted(tagged.tag_ids) == sorted(t.id for t in tagged.tags)


def test_history_is_kept_and_customers_can_go_to_the_pool(acme, people, run_import, customers):
    rows = [["name", "owner", "created"], ["Since 2019", "Rui Rep", "2019-03-01 09:00"]]
    run_import(acme, rows, {"name": "name", "owner": "owner", "created": "created_at"}, match_on="name_company")
    kept = customers(acme)["Since 2019"]
    assert kept.owner_id == people["rep"].member_id and kept.created_at.year == 2019 and kept.owned_since.year > 2019
    pooled = run_import(acme, [["name"], ["Pooled"]], {"name": "name"}, match_on="name_company", into_pool="on")
    customer = customers(acme)["Pooled"]
    assert customer.owner_id is None and customer.pooled_at is not None
    assert customer.pool_reason == f"Imported (import #{pooled.id})"


def test_a_rep_updates_only_their_own_customers(acme, people, make_customer, run_import, customers):
    make_customer(acme, people["rep"].member_id, name="Mine", phone="13800000031")
    make_customer(acme, people["west"].member_id, name="Theirs", phone="13800000032")
    rows = [["name", "phone", "title"], ["Mine", "13800000031", "Updated"], ["Theirs", "13800000032", "Updated"],
            ["New", "13800000033", ""], ["Given", "13800000034", ""]]
    done = run_import(acme, rows + [], {"name": "name", "phone": "phone", "title": "title"},
                      member_id=people["rep"].member_id, match_on="phone")
    assert (done.counts["updated"], done.counts["created"], done.counts["errors"]) == (1, 2, 1)
    found = customers(acme)
    assert found["Mine"].title == "Updated" and found["Theirs"].title is None
    assert found["New"].owner_id == people["rep"].member_id
    other = run_import(acme, [["name", "owner"], ["For Wes", "Wes West"]], {"name": "name", "owner": "owner"},
                       member_id=people["rep"].member_id, match_on="name_company")
    assert other.counts["errors"] == 1 and "For Wes" not in customers(acme)


def test_sensitive_values_are_encrypted_and_found_by_their_hash(acme, run_import, customers, in_tenant):
    from crm.customers import sensitive
    rows = [["name", "id"], ["Secret", "110101-19900307-7777"]]
    run_import(acme, rows, {"name": "name", "id": "id_number"}, match_on="id_number")
    secret = customers(acme)["Secret"]
    assert "110101199003077777" not in secret.id_number_enc
    context = f"{acme.ref.schema}:customers.id_number"
    assert in_tenant(acme, lambda: secret.id_number_idx == crypto.blind_index("110101199003077777", context))
    assert in_tenant(acme, lambda: sensitive.plain(secret, "id_number")) == "110101199003077777"


def test_duplicate_rows_are_reported_with_the_line_they_joined(acme, run_import, in_tenant):
    from crm.imports import service
    from crm.imports.models import Import
    rows = [["name", "phone"], ["Zhao", "13800000011"], ["Qian", "13800000012"], ["Zhao Min", "138 0000 0011"]]
    done = run_import(acme, rows, {"name": "name", "phone": "phone"}, match_on="phone", duplicates="skip")
    reported = in_tenant(acme, lambda: service.errors(db.session.get(Import, done.id), action="duplicate"))
    assert reported == [(4, "Skipped: the same customer as line 2.")]


def test_mapping_offers_every_field_checks_options_and_can_be_saved(acme, in_tenant, tmp_path):
    from crm.errors import Invalid
    from crm.imports import service
    from crm.members.models import Member
    _level_field(acme, in_tenant)

    def work():
        admin = db.session.get(Member, acme.admin_member_id)
        offered = {f.key: f for f in service.fields_for_mapping()}
        assert offered["custom_tier"].labels == {"en": "Tier", "zh": "等级"} and offered["tags"].kind == "tags"
        assert {"name", "phone", "owner", "created_at", "external_id", "id_number"} <= set(offered)
        imp = service.create_import(admin, "a.csv", str(tmp_path / "a.csv"), {"headers": ["手机", "姓名", "级别"]})
        with pytest.raises(Invalid) as refused:
            service.set_mapping(admin, imp, {"1": "name"}, {"match_on": "phone"})
        assert refused.value.errors == {"match_on": "Map a column to Phone to match on it."}
        with pytest.raises(Invalid) as twice:
            service.set_mapping(admin, imp, {"0": "phone", "1": "phone"}, {})
        assert "mapping" in twice.value.errors
        service.set_mapping(admin, imp, {"0": "phone", "1": "name", "2": "level"}, {"mode": "update"})
        assert imp.options["mode"] == "update" and imp.options["duplicates"] == "merge"
        saved = service.save_mapping(admin, imp, "ERP export")
        assert service.mapping_for(saved, ["姓名", "其他", "手机"]) == {0: "name", 2: "phone"}
        assert [m.name for m in service.saved_mappings()] == ["ERP export"]
        service.delete_mapping(admin, saved.id)
        assert service.saved_mappings() == []
    in_tenant(acme, work)


def test_roles_without_the_import_permission_cannot_start_one(acme, add_member, in_tenant, tmp_path):
    from crm.errors import Forbidden
    from crm.imports import service
    from crm.members.models import Member
    _account, agent = add_member(acme, "support_agent")

    def try_it():
        with pytest.raises(Forbidden):
            service.create_import(db.session.get(Member, agent), "a.csv", str(tmp_path / "a.csv"), {})
    in_tenant(acme, try_it)


def test_a_big_import_feeds_the_search_indexes_in_bulk_and_leaves_them_as_they_were(
        acme, make_customer, run_import, customers, in_tenant, monkeypatch):
    from sqlalchemy import text

    from crm.imports import applying
    from tenants.binding import current_tenant

    monkeypatch.setattr(applying, "GIN_BULK_ROWS", 1)  # this small file counts as big
    _existing(acme, make_customer)
    done = run_import(acme, FILE + [["孙悦", "13800000005", "东方科技"]], PHONE, match_on="phone")
    assert done.status == "done" and done.counts["created"] == 3

    def indexes():
        options = dict(db.session.execute(text(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names) AND relnamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = :schema)"),
            {"names": list(applying.GIN_INDEXES), "schema": current_tenant().schema}).all())
        found = db.session.scalars(select(Customer.name).where(
            Customer.search_grams.contains(query_grams("东方")))).all()
        return options, found

    options, found = in_tenant(acme, indexes)
    assert options == {name: ["fastupdate=off"] for name in applying.GIN_INDEXES}
    assert found == ["孙悦"]
