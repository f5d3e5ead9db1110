"""Structured addresses (issue 18 §6): China's province, city and district from the region list, elsewhere
typed; checked at the field, formatted for the country, filtered, reported, imported and sent through the API;
and the two classifications every new workspace starts with."""
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from crm.customers import addresses
from crm.customers.models import Customer
from crm.errors import Invalid
from crm.extensions import db
from tests.conftest import HX, bearer


def place(**parts):
    return SimpleNamespace(**{**dict.fromkeys(addresses.PARTS), **parts})


def test_the_region_list_nests_provinces_cities_and_districts():
    assert "广东省" in addresses.provinces() and len(addresses.provinces()) == 34
    assert "深圳市" in addresses.cities("广东省") and "深圳市" not in addresses.cities("浙江省")
    assert "南山区" in addresses.districts("广东省", "深圳市")
    assert addresses.cities("北京市") == ["北京市"]  # a municipality is its own city
    assert "朝阳区" in addresses.districts("北京市", "北京市")
    assert addresses.cities("不存在省") == [] and addresses.districts("广东省", None) == []


def test_a_chinese_address_is_written_from_the_province_down(app):
    shenzhen = place(country="CN", region="广东省", city="深圳市", district="南山区", street="科技园路1号",
                     postcode="518057")
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        assert addresses.lines(shenzhen) == ["广东省 深圳市 南山区", "科技园路1号", "518057"]
        assert addresses.lines(place(country="CN", region="北京市", city="北京市", district="朝阳区")) == [
            "北京市 朝阳区"]  # the municipality once
    with app.test_request_context(), force_locale("en"):
        assert addresses.lines(shenzhen)[-1] == "China"
        assert addresses.place_label("广东省") == "广东省 Guangdong"
        assert addresses.place_label("重庆市") == "重庆市 Chongqing"


def test_elsewhere_the_street_comes_first_and_the_country_last_in_the_readers_language(app):
    london = place(country="GB", region="Greater London", city="London", postcode="SW1A 1AA",
                   street="10 Downing Street")
    with app.test_request_context(), force_locale("en"):
        assert addresses.lines(london) == ["10 Downing Street", "London, Greater London SW1A 1AA", "United Kingdom"]
        assert addresses.one_line(london) == "10 Downing Street, London, Greater London SW1A 1AA, United Kingdom"
    with app.test_request_context(), force_locale("zh_Hans_CN"):
        assert addresses.lines(london)[-1] == "英国"
    assert addresses.lines(place()) == []


def test_china_is_checked_against_the_list_and_read_forgivingly(app):
    with app.test_request_context():
        assert addresses.clean({"region": "广东", "city": "深圳", "district": "南山区"}, "CN") == {
            "country": "CN", "region": "广东省", "city": "深圳市", "district": "南山区"}
        assert addresses.clean({"country": "china", "region": "Guangdong"})["region"] == "广东省"
        assert addresses.clean({"country": "中国", "region": "浙江省"})["country"] == "CN"
        for parts, field in (({"country": "CN", "region": "火星省"}, "region"),
                             ({"country": "CN", "region": "浙江省", "city": "深圳市"}, "city"),
                             ({"country": "CN", "region": "广东省", "city": "深圳市", "district": "西湖区"}, "district"),
                             ({"country": "CN", "city": "深圳市"}, "city"),
                             ({"country": "Atlantis"}, "country")):
            with pytest.raises(Invalid) as refused:
                addresses.clean(parts)
            assert list(refused.value.errors) == [field], parts
        # Elsewhere the parts are as typed; no country given takes the workspace's.
        assert addresses.clean({"region": "Bavaria", "city": "München"}, "DE") == {
            "country": "DE", "region": "Bavaria", "city": "München"}
        assert addresses.clean({}, "CN") == {}


def test_an_unknown_province_is_told_at_its_field_and_nothing_is_saved(acme, admin, in_tenant):
    refused = admin.post(f"/{acme.slug}/customers/", data={
        "name": "Nowhere Ltd", "country": "CN", "region": "火星省", "city": "", "street": "1 Road"}, headers=HX)
    assert refused.status_code == 422
    assert "Choose a province from the list." in refused.text and 'id="region-error"' in refused.text
    assert in_tenant(acme, lambda: db.session.scalar(select(Customer.id).where(Customer.name == "Nowhere Ltd"))) is None


def test_the_form_saves_the_chosen_places_and_the_page_shows_them(acme, admin, in_tenant):
    form = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert '<option selected value="CN">' in form  # the workspace's country first
    assert "广东省" in form and 'name="district"' in form
    saved = admin.post(f"/{acme.slug}/customers/", data={
        "name": "深圳客户", "country": "CN", "region": "广东省", "city": "深圳市", "district": "南山区",
        "postcode": "518057", "street": "科技园路1号"})
    assert saved.status_code == 303
    page = admin.get(saved.headers["Location"]).text
    assert "广东省 深圳市 南山区<br>科技园路1号<br>518057<br>China" in page


def test_choosing_a_province_offers_its_cities_then_a_city_its_districts(acme, admin):
    url = f"/{acme.slug}/customers/address"
    cities = admin.get(url, query_string={"country": "CN", "region": "广东省"}, headers=HX)
    assert cities.status_code == 200 and "<html" not in cities.text
    assert '<option value="深圳市">' in cities.text and "杭州市" not in cities.text
    districts = admin.get(url, query_string={"country": "CN", "region": "广东省", "city": "深圳市"}, headers=HX)
    assert '<option value="南山区">' in districts.text
    moved = admin.get(url, query_string={"country": "CN", "region": "浙江省", "city": "深圳市"}, headers=HX)
    assert '<option value="杭州市">' in moved.text and "selected>深圳市" not in moved.text
    abroad = admin.get(url, query_string={"country": "US"}, headers=HX).text
    assert '<input id="region" name="region"' in abroad and "广东省" not in abroad
    assert admin.get(url).status_code == 303  # opened as a page: to the form


def test_a_partial_change_of_the_city_is_checked_against_the_stored_province(acme, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Pat", country="CN", region="广东省", city="广州市")

    def change(city):
        from crm.customers import writes
        from crm.members.models import Member

        customer = db.session.get(Customer, customer_id)
        writes.update_customer(db.session.get(Member, acme.admin_member_id), customer, {"city": city}, partial=True)
        return customer.region, customer.city

    assert in_tenant(acme, lambda: change("深圳市")) == ("广东省", "深圳市")
    with pytest.raises(Invalid) as refused:
        in_tenant(acme, lambda: change("杭州市"))
    assert list(refused.value.errors) == ["city"]


def test_the_list_filters_by_country_province_and_city(acme, admin, make_customer):
    make_customer(acme, name="Shenzhen One", country="CN", region="广东省", city="深圳市", district="南山区")
    make_customer(acme, name="Guangzhou Two", country="CN", region="广东省", city="广州市")
    make_customer(acme, name="Hangzhou Three", country="CN", region="浙江省", city="杭州市")
    make_customer(acme, name="Boston Four", country="US", region="MA", city="Boston")
    make_customer(acme, name="Nowhere Five")

    def names(**args):
        page = admin.get(f"/{acme.slug}/customers/", query_string=args, headers=HX).text
        return {n for n in ("Shenzhen One", "Guangzhou Two", "Hangzhou Three", "Boston Four", "Nowhere Five")
                if n in page}

    assert names(country="CN") == {"Shenzhen One", "Guangzhou Two", "Hangzhou Three"}
    assert names(country="cn", region="广东省") == {"Shenzhen One", "Guangzhou Two"}
    assert names(country="CN", region="广东省", city="深圳市") == {"Shenzhen One"}
    assert names(country="US", region="MA") == {"Boston Four"}
    assert names(country="XX") == {"Shenzhen One", "Guangzhou Two", "Hangzhou Three", "Boston Four", "Nowhere Five"}
    place_filter = admin.get(f"/{acme.slug}/customers/place-filter", query_string={"country": "CN", "region": "广东省"},
                             headers=HX).text
    assert '<option value="深圳市"' in place_filter and 'id="place-filter" open' in place_filter


def test_the_report_counts_customers_by_province(acme, admin, make_customer):
    make_customer(acme, name="A", country="CN", region="广东省", city="深圳市")
    make_customer(acme, name="B", country="CN", region="广东省", city="广州市")
    make_customer(acme, name="C", country="CN", region="浙江省")
    page = admin.get(f"/{acme.slug}/reports/customers/by-region", headers=HX)
    assert page.status_code == 200
    assert "广东省 Guangdong" in page.text and "region=%E5%B9%BF%E4%B8%9C%E7%9C%81" in page.text
    assert "Customers by province or region" in admin.get(f"/{acme.slug}/reports/?pack=customers").text


def test_the_api_reads_and_writes_the_parts_and_takes_address_as_the_street(app, acme, make_api_token):
    api, token = app.test_client(), make_api_token(acme)
    created = api.post("/api/v1/customers/", headers=bearer(token), json={
        "name": "API Wang", "region": "广东省", "city": "深圳市", "district": "南山区", "address": "科技园路1号"})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["country"], body["region"], body["city"], body["district"], body["street"], body["address"]) == (
        "CN", "广东省", "深圳市", "南山区", "科技园路1号", "科技园路1号")
    refused = api.post("/api/v1/customers/", headers=bearer(token), json={"name": "API Bad", "region": "火星省"})
    assert refused.status_code == 422 and "region" in refused.json["errors"]
    listed = api.get("/api/v1/customers/?country=CN&region=广东省", headers=bearer(token)).json["data"]
    assert [c["name"] for c in listed] == ["API Wang"]


def test_a_new_workspace_starts_with_the_two_classifications(acme, admin, in_tenant):
    from crm.fields.definitions import fields

    presets = in_tenant(acme, lambda: [(f.key, f.type, f.label_en, f.label_zh, f.filterable,
                                        [(o["key"], o["en"], o["zh"]) for o in f.options]) for f in fields()])
    assert presets == [
        ("customer_value", "select", "Customer value", "客户价值", True,
         [("high", "High", "高"), ("normal", "Normal", "普通"), ("low", "Low", "低")]),
        ("relationship", "select", "Relationship", "客户关系", True,
         [("new", "New", "新客户"), ("returning", "Returning", "老客户"), ("potential", "Potential", "潜在客户")])]
    # "Old customers of high value" is one filter on day one.
    saved = admin.post(f"/{acme.slug}/customers/", data={
        "name": "老王", "custom_customer_value": "high", "custom_relationship": "returning"})
    assert saved.status_code == 303
    def new_and_high():
        from crm.customers import writes
        from crm.members.models import Member

        writes.create_customer(db.session.get(Member, acme.admin_member_id), {"name": "New High"},
                               custom={"customer_value": "high", "relationship": "new"})
        db.session.commit()

    in_tenant(acme, new_and_high)
    found = admin.get(f"/{acme.slug}/customers/?cf_relationship=returning&cf_customer_value=high", headers=HX).text
    assert "老王" in found and "New High" not in found and "1 customer" in found
    admin.post("/language", data={"language": "zh"})
    form = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert "客户价值" in form and "老客户" in form and "潜在客户" in form


def test_a_merge_takes_the_address_whole_and_its_undo_puts_it_back(acme, admin, make_customer, in_tenant):
    kept = make_customer(acme, name="Kept", country="CN", region="广东省", city="广州市", street="天河路 1 号")
    other = make_customer(acme, name="Other", country="CN", region="浙江省", city="杭州市", district="西湖区",
                          street="文三路 2 号")
    page = admin.get(f"/{acme.slug}/customers/merge", query_string={"ids": [kept, other]}).text
    assert 'name="field:address"' in page and 'name="field:region"' not in page
    assert "浙江省 杭州市 西湖区 文三路 2 号" in page
    done = admin.post(f"/{acme.slug}/customers/merge", data={"ids": [kept, other], "survivor_id": kept,
                                                             "field:address": other})
    assert done.status_code == 303

    def address():
        customer = db.session.get(Customer, kept)
        return tuple(getattr(customer, part) for part in addresses.PARTS)

    assert in_tenant(acme, address) == ("CN", "浙江省", "杭州市", "西湖区", None, "文三路 2 号")
    assert admin.post(f"/{acme.slug}/customers/{kept}/unmerge").status_code == 303
    assert in_tenant(acme, address) == ("CN", "广东省", "广州市", None, None, "天河路 1 号")


def test_the_history_names_the_country_in_the_readers_language(acme, admin, make_customer):
    customer_id = make_customer(acme, name="Mover", country="CN", street="1 Road")
    assert admin.post(f"/{acme.slug}/customers/{customer_id}", data={
        "name": "Mover", "country": "GB", "city": "London", "street": "1 Road"}).status_code == 303
    page = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    assert "China" in page and "United Kingdom" in page and "London" in page


def test_the_free_text_address_of_old_is_the_street_after_the_upgrade(app, acme, admin, make_customer):
    import runpy
    from pathlib import Path

    from sqlalchemy import text

    from tenants.migrations import upgrade_schema

    migration = Path(__file__).resolve().parents[2] / "migrations/tenant/versions/0046_structured_address.py"
    before = runpy.run_path(str(migration), run_name="t0046")["down_revision"]  # whatever the chain says
    customer_id = make_customer(acme, name="Old Address")
    schema = f"t_{acme.id}"
    with app.app_context(), db.engine.begin() as connection:  # the customer as t0044 stored it
        connection.execute(text(f"alter table {schema}.customers drop column country, drop column region, "
                                f"drop column city, drop column district, drop column postcode"))
        connection.execute(text(f"alter table {schema}.customers rename column street to address"))
        connection.execute(text(f"update {schema}.customers set address = '上海市浦东新区世纪大道100号' where id = :id"),
                           {"id": customer_id})
        connection.execute(text(f"update {schema}.alembic_version set version_num = :v"), {"v": before})
    with app.app_context():
        upgrade_schema(db.engine, schema, "t0046")
    page = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    assert "上海市浦东新区世纪大道100号" in page
