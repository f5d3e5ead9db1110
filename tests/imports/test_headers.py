"""Guessing the field of each imported column from its header, and splitting a cell of tags."""
from crm.imports.headers import guess, normalise, split_tags

BUILT_IN = [(key, []) for key in (
    "name", "phone", "email", "company", "title", "street", "tags", "owner", "level", "source", "stage", "notes",
    "created_at", "external_id", "id_number", "bank_account", "kind")]


def test_chinese_headers_as_people_write_them():
    headers = ["客户名称", "手机号码", "电子邮箱", "公司名称", "职务", "联系地址", "标签", "负责人", "客户等级",
               "客户来源", "生命周期", "备注", "创建时间", "外部编号", "身份证号", "银行账号", "类型"]
    assert guess(headers, BUILT_IN) == dict(enumerate(key for key, _labels in BUILT_IN))


def test_english_headers_in_any_case_and_spacing():
    headers = ["Name", "Mobile", "E-Mail", "COMPANY", "Job Title", "Owner", "External ID", "Notes", "Created"]
    assert guess(headers, BUILT_IN) == {0: "name", 1: "phone", 2: "email", 3: "company", 4: "title", 5: "owner",
                                        6: "external_id", 7: "notes", 8: "created_at"}


def test_full_width_letters_spaces_and_marks_are_ignored():
    assert normalise("  手机号码：* ") == "手机号码"
    assert normalise("ＥＭＡＩＬ") == "email"
    assert guess(["姓名*", "手机号码：", "（邮箱）", "ＴＥＬ"], BUILT_IN) == {0: "name", 1: "phone", 2: "email"}


def test_a_header_containing_a_synonym_is_matched_by_its_last_word():
    assert guess(["客户手机号", "客户编号", "客户经理", "Contact Phone Number"], BUILT_IN) == {
        0: "phone", 1: "external_id", 2: "owner"}
    assert guess(["Customer Email Address (work)"], BUILT_IN) == {0: "email"}


def test_each_field_goes_to_one_column_the_first_best():
    assert guess(["电话", "手机"], BUILT_IN) == {0: "phone"}
    assert guess(["客户手机", "手机"], BUILT_IN) == {1: "phone"}  # the exact header beats the first partial one


def test_unknown_headers_and_fields_not_offered_stay_unmatched():
    assert guess(["微信", "", "Column 3", "id"], BUILT_IN) == {3: "external_id"}
    assert guess(["手机", "姓名"], [("name", [])]) == {1: "name"}


def test_custom_fields_match_their_labels_exactly():
    fields = [*BUILT_IN, ("custom_wechat", ["WeChat", "微信号"]), ("custom_birthday", ["Birthday", "生日"])]
    assert guess(["微信号", "birthday", "生日礼物", "wechat id"], fields) == {0: "custom_wechat", 1: "custom_birthday"}


def test_the_callers_labels_match_too():
    assert guess(["Cell"], [("phone", ["Cell", "手机"])]) == {0: "phone"}


def test_split_tags_on_every_separator_people_use():
    assert split_tags("VIP, 重点客户，老客户、上海;北京；vip | 展会 ") == ["VIP", "重点客户", "老客户", "上海", "北京", "展会"]
    assert split_tags(" , ;; ") == [] and split_tags("") == []
