"""Names in one language (crm/names.py): the reader's language first, else the other one; a form needs one of
the two; keys made from Chinese names are spelt in pinyin."""
import pytest
from flask_babel import force_locale

from crm import names
from crm.errors import Invalid


def test_the_name_in_the_readers_language_else_the_other(ctx):
    assert names.in_language("Lead", "线索", "en") == "Lead" and names.in_language("Lead", "线索", "zh") == "线索"
    assert names.in_language("", "线索", "en") == "线索" and names.in_language(None, "线索", "en") == "线索"
    assert names.in_language("Lead", "", "zh") == "Lead" and names.in_language("Lead", None, "zh") == "Lead"
    assert names.in_language("", "", "zh") == ""
    with force_locale("zh_Hans_CN"):
        assert names.reader_language() == "zh" and names.in_language("Lead", "线索") == "线索"
        assert names.in_language("Lead", "") == "Lead"
    with force_locale("en"):
        assert names.reader_language() == "en" and names.in_language("", "线索") == "线索"
    assert names.both("", "线索") == {"en": "线索", "zh": "线索"}
    assert names.both("Lead", "") == {"en": "Lead", "zh": "Lead"}


def test_a_form_needs_a_name_in_one_language_not_both(ctx):
    assert names.clean({"name_zh": " 线索 "}, "name_en", "name_zh", 60) == {"name_en": "", "name_zh": "线索"}
    assert names.clean({"name_en": "Lead"}, "name_en", "name_zh", 60) == {"name_en": "Lead", "name_zh": ""}
    with pytest.raises(Invalid) as neither:
        names.clean({"name_en": "  ", "name_zh": ""}, "name_en", "name_zh", 60)
    assert neither.value.errors == {"name_en": "Enter a name in English or Chinese."}
    with pytest.raises(Invalid) as too_long:
        names.clean({"name_en": "Lead", "name_zh": "长" * 61}, "name_en", "name_zh", 60)
    assert too_long.value.errors == {"name_zh": "Use at most 60 characters."}


def test_chinese_is_recognised_and_spelt_in_pinyin():
    assert names.is_chinese("金牌") and names.is_chinese("VIP 客户") and not names.is_chinese("Gold")
    assert names.ascii_words("客户等级") == "ke hu deng ji"
    assert names.ascii_words("VIP等级") == "VIP deng ji"


def test_a_product_needs_one_name_in_whatever_language_it_is_written(acme, admin):
    from tests.conftest import HX

    assert admin.post(f"/{acme.slug}/products/", headers=HX, data={"name": "西湖龙井", "price": "88"}).status_code == 204
    admin.post("/language", data={"language": "en"})
    assert "西湖龙井" in admin.get(f"/{acme.slug}/products/").text


def test_a_message_written_only_in_chinese_leaves_english_readers_the_built_in_wording(acme, admin, in_tenant):
    from crm.notify.messages import DEFAULTS, template_for

    admin.post("/language", data={"language": "zh"})
    page = admin.get(f"/{acme.slug}/messages/templates").text
    assert "只需修改您使用的语言的消息" in page
    assert admin.post(f"/{acme.slug}/messages/templates", data={
        "kind": "order_status", "language": "zh", "subject": "订单 {{ number }}",
        "body": "{{ customer }}，您的订单{{ status }}。"}).status_code == 303
    chinese, english = in_tenant(acme, lambda: (template_for("order_status", "email", "zh"),
                                                template_for("order_status", "email", "en")))
    assert chinese == ("订单 {{ number }}", "{{ customer }}，您的订单{{ status }}。")
    assert english == DEFAULTS[("order_status", "en")]
