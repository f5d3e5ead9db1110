"""Custom fields as admins and sales staff meet them."""
import pytest
from sqlalchemy import select, text

from crm.errors import Invalid
from crm.extensions import db
from crm.fields.models import CustomField
from tests.conftest import HX

XSS = "<script>alert(1)</script>"


def add_field(admin, acme, **form):
    data = {"label_en": "Field", "type": "text", **form}
    response = admin.post(f"/{acme.slug}/settings/fields/", data=data)
    assert response.status_code == 303, response.text
    return response


def new_customer(admin, acme, **data):
    return admin.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "Custom Co", **data})


def customer_id_of(response) -> int:
    return int(response.headers["HX-Location"].rsplit("/", 1)[1])


CASES = [
    ("text", "hello", "hello", "x" * 501),
    ("long_text", "line 1\nline 2", "line 1\nline 2", "x" * 5001),
    ("number", "1,234.5", 1234.5, "twelve"),
    ("money", "1999.5", "1999.50", "19.999"),
    ("date", "2026-11-24", "2026-11-24", "24/11/2026"),
    ("datetime", "2026-11-24T09:30", "2026-11-24T09:30", "tomorrow"),
    ("select", "gold", "gold", "platinum"),
    ("multiselect", ["gold", "silver"], ["gold", "silver"], ["gold", "bronze"]),
    ("checkbox", "on", True, None),
    ("email", "A@B.example", "a@b.example", "not-mail"),
    ("phone", "138 0013 8000", "+8613800138000", "12"),
    ("url", "https://example.com/x", "https://example.com/x", "javascript:alert(1)"),
]


@pytest.mark.parametrize("field_type,good,stored,bad", CASES, ids=[c[0] for c in CASES])
def test_each_type_validates_and_normalises(app, acme, in_tenant, field_type, good, stored, bad):
    from crm.fields.values import clean_value

    options = [{"key": "gold", "en": "Gold", "zh": "金牌"}, {"key": "silver", "en": "Silver", "zh": "银牌"}]
    field = CustomField(key="f", type=field_type, label_en="F", options=options)

    def check():
        assert clean_value(field, good) == stored
        if bad is not None:
            with pytest.raises(Invalid) as refused:
                clean_value(field, bad)
            assert refused.value.errors["custom_f"]

    in_tenant(acme, check)


def test_fields_appear_in_forms_details_and_validate_at_the_field(acme, admin, in_tenant):
    add_field(admin, acme, label_en="Budget", label_zh="预算", type="money", required="on", help_en="Yearly, in CNY")
    add_field(admin, acme, label_en="Tier", type="select", new_options="Gold | 金牌\nSilver | 银牌", default="gold")
    form = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert "Budget *" in form and "Yearly, in CNY" in form and 'value="gold" selected' in form
    refused = new_customer(admin, acme, custom_budget="lots", name="")
    assert refused.status_code == 422
    assert "Enter an amount like 19.99 (at most two decimals)." in refused.text and "Name is required." in refused.text
    assert 'value="lots"' in refused.text  # what was typed stays
    missing = new_customer(admin, acme)
    assert "This field is required." in missing.text
    saved = new_customer(admin, acme, custom_budget="25000", custom_tier="gold")
    page = admin.get(saved.headers["HX-Location"]).text
    assert "CN¥25,000.00" in page and "Gold" in page
    admin.post("/language", data={"language": "zh"})
    assert "预算" in admin.get(saved.headers["HX-Location"]).text and "金牌" in admin.get(saved.headers["HX-Location"]).text


def test_filters_and_list_columns(acme, admin):
    add_field(admin, acme, label_en="Tier", key="tier", type="select", new_options="Gold\nSilver\nBronze",
              filterable="on", in_list="on")
    add_field(admin, acme, label_en="Seats", key="seats", type="number", filterable="on")
    add_field(admin, acme, label_en="Signed", key="signed", type="date", filterable="on")
    add_field(admin, acme, label_en="Partner", key="partner", type="checkbox", filterable="on")
    for name, tier, seats, signed, partner in (("Aco", "gold", "5", "2026-01-10", "on"),
                                               ("Bco", "silver", "50", "2026-06-01", ""),
                                               ("Cco", "bronze", "500", "2025-12-31", "on")):
        assert new_customer(admin, acme, name=name, custom_tier=tier, custom_seats=seats, custom_signed=signed,
                            custom_partner=partner, custom_partner__present="1").status_code == 204
    rows = lambda qs: admin.get(f"/{acme.slug}/customers/?{qs}", headers=HX).text  # noqa: E731
    any_of = rows("cf_tier=gold&cf_tier=bronze")
    assert "Aco" in any_of and "Cco" in any_of and "Bco" not in any_of
    ranged = rows("cf_seats_min=10&cf_seats_max=100")
    assert "Bco" in ranged and "Aco" not in ranged and "Cco" not in ranged
    dated = rows("cf_signed_min=2026-01-01")
    assert "Aco" in dated and "Bco" in dated and "Cco" not in dated
    partners = rows("cf_partner=yes")
    assert "Aco" in partners and "Cco" in partners and "Bco" not in partners
    assert "Silver" in rows("")  # the in-list column shows the option label
    chosen = rows("columns_set=1&col=seats")
    assert "<th class=\"hide-sm\">Seats</th>" in chosen and "<th class=\"hide-sm\">Tier</th>" not in chosen
    assert "Aco" in rows("cf_seats_min=oops&cf_tier=nonexistent")  # malformed filters are ignored


def test_type_change_is_refused_with_a_report_until_values_fit(acme, admin, in_tenant):
    add_field(admin, acme, label_en="Code", key="code", type="text")
    new_customer(admin, acme, name="Fits", custom_code="42")
    bad = new_customer(admin, acme, name="Misfit", custom_code="abc")
    field_id = in_tenant(acme, lambda: db.session.scalar(select(CustomField.id).where(CustomField.key == "code")))
    refused = admin.post(f"/{acme.slug}/settings/fields/{field_id}", data={"label_en": "Code", "type": "number"})
    assert refused.status_code == 422 and "1 stored values do not fit" in refused.text and "Misfit" in refused.text
    admin.post(f"/{acme.slug}/customers/{customer_id_of(bad)}", headers=HX, data={"name": "Misfit", "custom_code": "7"})
    assert admin.post(f"/{acme.slug}/settings/fields/{field_id}",
                      data={"label_en": "Code", "type": "number"}).status_code == 303
    stored = in_tenant(acme, lambda: db.session.get(CustomField, field_id).type)
    assert stored == "number"


def test_archive_keeps_values_and_restore_brings_them_back(acme, admin, in_tenant):
    add_field(admin, acme, label_en="Region code", key="region_code", type="text")
    customer = new_customer(admin, acme, custom_region_code="EAST-1")
    url = customer.headers["HX-Location"]
    field_id = in_tenant(acme, lambda: db.session.scalar(select(CustomField.id).where(
        CustomField.key == "region_code")))
    admin.post(f"/{acme.slug}/settings/fields/{field_id}/archive")
    assert "EAST-1" not in admin.get(url).text and "Region code" not in admin.get(
        f"/{acme.slug}/customers/new", headers=HX).text
    admin.post(f"/{acme.slug}/settings/fields/{field_id}/restore")
    assert "EAST-1" in admin.get(url).text


def test_options_rename_reorder_and_retire_without_losing_values(acme, admin, in_tenant):
    add_field(admin, acme, label_en="Tier", key="tier", type="select", new_options="Gold\nSilver")
    url = new_customer(admin, acme, custom_tier="gold").headers["HX-Location"]
    field_id = in_tenant(acme, lambda: db.session.scalar(select(CustomField.id).where(CustomField.key == "tier")))
    admin.post(f"/{acme.slug}/settings/fields/{field_id}", data={
        "label_en": "Tier", "type": "select", "option_gold_en": "Golden", "option_gold_order": "2",
        "option_silver_order": "1", "option_gold_retired": "on"})
    assert "Golden" in admin.get(url).text  # the stored value follows the rename
    options = in_tenant(acme, lambda: db.session.get(CustomField, field_id).options)
    assert [o["key"] for o in options] == ["silver", "gold"] and options[1]["retired"]
    fresh = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert "Golden" not in fresh  # a retired option is not offered for new values


def test_script_in_labels_options_and_values_is_rendered_inert(acme, admin):
    add_field(admin, acme, label_en=XSS, key="x", type="select", new_options=f"{XSS} | {XSS}", in_list="on")
    add_field(admin, acme, label_en="Note", key="note", type="text", in_list="on")
    url = new_customer(admin, acme, name=XSS, custom_x=None or "script_alert_1_script", custom_note=XSS
                       ).headers["HX-Location"]
    for page in (admin.get(url).text, admin.get(f"/{acme.slug}/customers/").text,
                 admin.get(f"/{acme.slug}/settings/fields/").text, admin.get(f"/{acme.slug}/customers/new").text):
        assert XSS not in page and "&lt;script&gt;" in page


def test_sensitive_custom_field_is_encrypted_masked_and_revealed(app, acme, admin, in_tenant, client_as, add_member):
    add_field(admin, acme, label_en="Passport", key="passport", type="text", sensitive="on")
    created = new_customer(admin, acme, custom_passport="E12345678")
    customer_id = customer_id_of(created)
    with app.app_context(), db.engine.connect() as connection:
        row = connection.execute(text(f"select c::text from t_{acme.id}.customers c where id = :i"),
                                 {"i": customer_id}).scalar()
    assert "E12345678" not in row
    page = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    assert "**** 5678" in page and "E12345678" not in page
    assert "E12345678" in admin.post(f"/{acme.slug}/customers/{customer_id}/reveal/custom_passport", headers=HX).text
    account, _rep = add_member(acme, role="read_only")
    assert "**** 5678" in client_as(account).get(f"/{acme.slug}/customers/{customer_id}").text


def test_built_in_fields_can_be_required_or_hidden(acme, admin):
    admin.post(f"/{acme.slug}/settings/fields/builtin", data={"phone_required": "on", "company_hidden": "on"})
    refused = new_customer(admin, acme)
    assert refused.status_code == 422 and "This field is required." in refused.text
    form = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert 'name="company"' not in form and 'name="phone"' in form
    saved = new_customer(admin, acme, phone="13800138000")
    assert saved.status_code == 204


def test_field_settings_are_for_admins_only(acme, client_as, add_member):
    account, _rep = add_member(acme)
    rep = client_as(account)
    assert rep.get(f"/{acme.slug}/settings/fields/").status_code == 403
    assert rep.post(f"/{acme.slug}/settings/fields/", data={"label_en": "X", "type": "text"}).status_code == 403
