"""Custom fields named in one language (a Chinese-only company names nothing in English), and money and number
values shown by the reader's locale in the workspace's currency."""
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.deals.models import Deal
from crm.extensions import db
from crm.fields.models import CustomField
from crm.orders.models import Order
from crm.settings import put_setting
from tests.conftest import HX


def field_named(in_tenant, acme, **where) -> CustomField:
    def read():
        field = db.session.scalars(select(CustomField).filter_by(**where)).one()
        db.session.expunge(field)
        return field
    return in_tenant(acme, read)


def at_field(page: str, name: str) -> str:
    """The markup of the form field holding the input `name` (label, input and its message)."""
    chunks = [c for c in page.split('<div class="field')[1:] if f'name="{name}"' in c]
    assert len(chunks) == 1, f"{name} is not in the form once"
    return chunks[0]


def new_customer(admin, acme, **data):
    return admin.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "云帆客户", **data})


def test_a_field_named_only_in_chinese_gets_a_pinyin_key_and_shows_in_english_too(acme, admin, in_tenant):
    admin.post("/language", data={"language": "zh"})
    added = admin.post(f"/{acme.slug}/settings/fields/", data={
        "label_en": "", "label_zh": "客户等级", "type": "select", "in_list": "on", "new_options": "金牌\nSilver | 银牌"})
    assert added.status_code == 303, added.text
    assert "已添加字段 客户等级。" in admin.get(added.headers["Location"]).text
    field = field_named(in_tenant, acme, label_zh="客户等级")
    assert (field.key, field.label_en) == ("ke_hu_deng_ji", "")
    assert [(o["key"], o["en"], o["zh"]) for o in field.options] == [("jin_pai", "", "金牌"), ("silver", "Silver", "银牌")]
    customer = new_customer(admin, acme, custom_ke_hu_deng_ji="jin_pai").headers["HX-Location"]

    admin.post("/language", data={"language": "en"})
    form = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert ">客户等级</label>" in form and ">金牌</option>" in form and ">Silver</option>" in form
    assert "<dt>客户等级</dt>" in admin.get(customer).text and "金牌" in admin.get(customer).text
    listed = admin.get(f"/{acme.slug}/customers/").text
    assert '<th class="hide-sm">客户等级</th>' in listed and '<td class="hide-sm custom-cell">金牌</td>' in listed
    assert "客户等级" in admin.get(f"/{acme.slug}/settings/fields/").text
    summaries = in_tenant(acme, lambda: list(db.session.scalars(
        select(AuditEntry.summary).where(AuditEntry.entity == "field"))))
    assert summaries == ["客户等级"]


def test_a_field_named_only_in_english_shows_in_chinese(acme, admin, in_tenant):
    assert admin.post(f"/{acme.slug}/settings/fields/", data={
        "label_en": "Budget", "type": "money"}).status_code == 303
    assert field_named(in_tenant, acme, key="budget").label_zh == ""
    admin.post("/language", data={"language": "zh"})
    assert ">Budget</label>" in admin.get(f"/{acme.slug}/customers/new", headers=HX).text


def test_a_field_needs_a_label_in_one_language_told_at_the_field(acme, admin, in_tenant):
    refused = admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": " ", "label_zh": "", "type": "text"})
    assert refused.status_code == 422
    assert "Enter a name in English or Chinese." in at_field(refused.text, "label_en")
    assert 'has-error' in at_field(refused.text, "label_en")
    assert in_tenant(acme, lambda: db.session.scalar(select(CustomField.id).where(CustomField.label_en == ""))) is None
    admin.post("/language", data={"language": "zh"})
    chinese = admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": "", "label_zh": "", "type": "text"})
    assert chinese.status_code == 422 and "请输入英文或中文名称。" in at_field(chinese.text, "label_en")


def test_an_option_or_a_label_may_lose_its_english_name_but_not_both_names(acme, admin, in_tenant):
    admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": "Tier", "label_zh": "等级", "key": "tier",
                                                       "type": "select", "new_options": "Gold | 金牌"})
    field = field_named(in_tenant, acme, key="tier")
    admin.post(f"/{acme.slug}/settings/fields/{field.id}", data={
        "label_en": "", "label_zh": "等级", "type": "select", "option_gold_en": "", "option_gold_zh": "金牌"})
    field = field_named(in_tenant, acme, key="tier")
    assert (field.label_en, field.options[0]["en"], field.options[0]["zh"]) == ("", "", "金牌")
    admin.post(f"/{acme.slug}/settings/fields/{field.id}", data={
        "label_en": "", "label_zh": "等级", "type": "select", "option_gold_en": "", "option_gold_zh": ""})
    assert field_named(in_tenant, acme, key="tier").options[0]["zh"] == "金牌"  # an option keeps a name
    assert "Edit 等级" in admin.get(f"/{acme.slug}/settings/fields/{field.id}").text


def test_money_and_number_values_read_in_the_workspace_currency_and_the_readers_locale(
        acme, admin, in_tenant, make_customer, make_deal, make_order):
    in_tenant(acme, lambda: put_setting("currency", "GBP"))
    for entity, key, kind in (("customer", "budget", "money"), ("customer", "weight", "number"),
                              ("deal", "budget", "money"), ("order", "budget", "money")):
        assert admin.post(f"/{acme.slug}/settings/fields/", data={
            "entity": entity, "label_en": key.title(), "key": key, "type": kind, "in_list": "on"}).status_code == 303
    customer = new_customer(admin, acme, custom_budget="1200000", custom_weight="12345.678").headers["HX-Location"]
    deal_id = make_deal(acme)
    order_id = make_order(acme, make_customer(acme))

    def give_values():
        db.session.get(Deal, deal_id).custom = {"budget": "1200000.00"}
        db.session.get(Order, order_id).custom = {"budget": "80.50"}
    in_tenant(acme, give_values)

    pages = lambda: [admin.get(url).text for url in (  # noqa: E731
        customer, f"/{acme.slug}/customers/", f"/{acme.slug}/deals/{deal_id}", f"/{acme.slug}/orders/{order_id}")]
    shown, listed, deal, order = pages()
    assert "£1,200,000.00" in shown and "12,345.678" in shown and "1200000.00" not in shown
    assert '<td class="hide-sm custom-cell">£1,200,000.00</td>' in listed and '<td class="hide-sm custom-cell">12,345.678</td>' in listed
    assert "£1,200,000.00" in deal and "£80.50" in order
    admin.post("/language", data={"language": "zh"})
    shown, listed, deal, order = pages()
    assert "£1,200,000.00" in shown and "12,345.678" in shown and "£1,200,000.00" in listed
    assert "£1,200,000.00" in deal and "£80.50" in order
    in_tenant(acme, lambda: put_setting("currency", "CNY"))
    assert "¥1,200,000.00" in admin.get(customer).text


def test_a_sensitive_amount_is_revealed_in_the_workspace_currency(acme, admin, in_tenant):
    in_tenant(acme, lambda: put_setting("currency", "GBP"))
    admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": "Salary", "key": "salary", "type": "money",
                                                       "sensitive": "on"})
    customer = new_customer(admin, acme, custom_salary="80000").headers["HX-Location"]
    revealed = admin.post(f"{customer}/reveal/custom_salary", headers=HX).text
    assert '<span class="revealed">£80,000.00</span>' in revealed
