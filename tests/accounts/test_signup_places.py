"""Sign-up asks where the company works, guessed from the browser (its languages, then its time zone), and the
new workspace starts there; a Chinese company name suggests a pinyin address."""
import pytest
from sqlalchemy import select

from crm.customers.models import Customer
from crm.extensions import db
from crm.settings import get_setting, phone_region, workspace_currency, workspace_language
from crm.workspace_settings import places
from tenants.binding import tenant_bound
from tenants.models import Tenant
from tenants.resolver import TenantRef
from tenants.slugs import suggest_slug
from tests.conftest import HX, unique


def selected(page: str, field: str) -> str:
    """The value a select of the page has selected."""
    select_tag = page.split(f'id="{field}"', 1)[1].split("</select>", 1)[0]
    return select_tag.split("<option selected value=\"", 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("zone, languages, region", [
    ("Europe/London", ["en-US"], "GB"), ("Asia/Shanghai", ["en-US"], "CN"), ("America/Los_Angeles", ["en-US"], "US"),
    ("UTC", ["en-GB", "en"], "GB"), (None, ["zh"], "CN"), (None, ["en"], "US"), ("Europe/Nowhere", ["de-DE"], "DE"),
])
def test_the_country_is_guessed_from_the_time_zone_else_from_the_languages(app, zone, languages, region):
    with app.test_request_context():
        guessed = places.guess("en", languages, zone)
    assert guessed["phone_region"] == region
    assert guessed["currency"] == {"GB": "GBP", "CN": "CNY", "US": "USD", "DE": "EUR"}[region]


def test_the_first_page_guesses_from_the_browser_languages(app):
    client = app.test_client()
    british = client.get("/signup", headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert [selected(british, f) for f in ("phone_region", "currency", "timezone", "language")] == \
        ["GB", "GBP", "Europe/London", "en"]
    assert 'data-browser-zone="ask"' in british  # static/zone.js then offers the browser's time zone
    chinese = app.test_client().get("/signup", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert [selected(chinese, f) for f in ("phone_region", "currency", "timezone", "language")] == \
        ["CN", "CNY", "Asia/Shanghai", "zh"]
    assert '<option selected value="CN">中国</option>' in chinese  # countries named in the reader's language


def test_a_time_zone_brings_its_country_and_a_country_its_currency_and_time_zone(app):
    client = app.test_client()

    def fields(changed: str, **place) -> str:
        args = {"language": "en", "phone_region": "US", "currency": "USD", "timezone": "America/New_York", **place}
        return client.get("/signup/places", query_string={**args, "changed": changed}, headers=HX).text

    london = fields("timezone", timezone="Europe/London")
    assert (selected(london, "phone_region"), selected(london, "currency")) == ("GB", "GBP")
    assert "data-browser-zone" not in london  # asked once, on the first page only
    japan = fields("phone_region", phone_region="JP")
    assert [selected(japan, f) for f in ("currency", "timezone")] == ["JPY", "Asia/Tokyo"]
    kept = fields("phone_region", timezone="America/Chicago")
    assert selected(kept, "timezone") == "America/Chicago"  # already one of the country's own
    assert client.get("/signup/places?changed=timezone").status_code == 303  # opened as a page: the sign-up page


def sign_up(app, slug: str, **place) -> Tenant:
    form = {"company": "Fog & Co", "slug": slug, "name": "Ada", "email": f"ada@{slug}.example",
            "password": "password-123", **place}
    answer = app.test_client().post("/signup", data=form)
    assert answer.status_code == 303, answer.text
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        return TenantRef(tenant.id, tenant.slug, tenant.name, tenant.status)


def customer_phone(app, tenant: TenantRef, typed: str) -> str:
    from crm.customers import writes
    from crm.members.models import Member

    with app.app_context(), tenant_bound(tenant):
        admin = db.session.scalars(select(Member)).first()
        return db.session.get(Customer, writes.create_customer(admin, {"name": "Pat", "phone": typed}).id).phone


def test_a_london_workspace_starts_in_london_and_keeps_uk_numbers(app):
    tenant = sign_up(app, unique("fog"), language="en", phone_region="GB", currency="GBP", timezone="Europe/London")
    with app.app_context():
        with tenant_bound(tenant):
            assert (workspace_language(), phone_region(), workspace_currency(), get_setting("timezone")) == \
                ("en", "GB", "GBP", "Europe/London")
    assert customer_phone(app, tenant, "020 7946 0958") == "+442079460958"


def test_a_us_workspace_saves_a_us_number_as_plus_one(app):
    tenant = sign_up(app, unique("bay"), language="en", phone_region="US", currency="USD",
                     timezone="America/Los_Angeles")
    assert customer_phone(app, tenant, "(415) 555-0142") == "+14155550142"


def test_a_sign_up_without_places_takes_the_guesses(app):
    slug = unique("guess")
    answer = app.test_client().post("/signup", headers={"Accept-Language": "en-GB"}, data={
        "company": "Guess Ltd", "slug": slug, "name": "Ada", "email": f"ada@{slug}.example", "password": "password-123"})
    assert answer.status_code == 303
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        with tenant_bound(TenantRef(tenant.id, tenant.slug, tenant.name, tenant.status)):
            assert (phone_region(), workspace_currency()) == ("GB", "GBP")


def test_a_bad_place_is_refused_at_its_field_and_no_workspace_is_made(app):
    slug = unique("bad")
    answer = app.test_client().post("/signup", data={
        "company": "Bad Ltd", "slug": slug, "name": "Ada", "email": f"ada@{slug}.example", "password": "password-123",
        "language": "en", "phone_region": "GB", "currency": "GBP", "timezone": "Europe/Atlantis"})
    assert answer.status_code == 422
    assert 'id="timezone-error">Choose one of the listed values.' in answer.text
    with app.app_context():
        assert db.session.scalar(select(Tenant).where(Tenant.slug == slug)) is None


@pytest.mark.parametrize("company, slug", [
    ("杭州云帆科技", "hangzhou-yunfan"), ("杭州云帆科技有限公司", "hangzhou-yunfan"),
    ("深圳市腾讯计算机系统有限公司", "shenzhen-tengxun"), ("重庆火锅集团", "chongqing-huoguo"),
    ("小米", "xiaomi"), ("Blue Ocean Ltd", "blue-ocean-ltd"), ("科技", "keji"), ("云", "yun"),
])
def test_a_chinese_company_name_suggests_its_pinyin(company, slug):
    assert suggest_slug(company) == slug


def test_the_live_check_suggests_pinyin_and_numbers_a_taken_address(app, make_tenant):
    client = app.test_client()
    first = client.get("/signup/slug?company=杭州云帆科技&suggested=1", headers=HX).text
    assert 'value="hangzhou-yunfan"' in first and "is available" in first
    make_tenant("杭州云帆科技", slug="hangzhou-yunfan")
    second = client.get("/signup/slug?company=杭州云帆科技&suggested=1", headers=HX).text
    assert 'value="hangzhou-yunfan-2"' in second and "is available" in second
