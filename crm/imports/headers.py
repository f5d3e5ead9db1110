"""Guessing which customer field each column of an imported file holds, from its header, in Chinese or English.

Headers and labels are compared normalised: full-width folded to half-width (NFKC), case ignored, spaces and
punctuation dropped, so "手机号码：*" is "手机号码" and "E-Mail" is "email". A header equal to one of a field's labels
or synonyms is a sure match; failing that, a header containing a built-in synonym ("客户手机号") is a likely one.
Custom fields match their labels exactly. Each field goes to one column, the first that matches it best; a column
whose likeliest field is taken stays for the user to map.
"""
import re
import unicodedata

SYNONYMS = {
    "name": ["姓名", "客户名称", "客户姓名", "名称", "客户", "联系人", "name", "full name", "customer", "customer name",
             "contact", "contact name"],
    "phone": ["手机", "手机号", "电话", "联系电话", "手机号码", "电话号码", "mobile", "phone", "tel", "telephone",
              "mobile phone", "phone number", "mobile number"],
    "email": ["邮箱", "电子邮箱", "邮件", "email", "e-mail", "email address"],
    "company": ["公司", "公司名称", "单位", "单位名称", "company", "company name", "organisation", "organization"],
    "title": ["职位", "职务", "title", "job title", "position"],
    "street": ["地址", "联系地址", "详细地址", "街道地址", "通讯地址", "address", "street", "street address",
               "address line 1"],
    "country": ["国家", "国家地区", "国家/地区", "country", "country code"],
    "region": ["省份", "所在省份", "省/自治区", "province", "state", "region", "state/province"],
    "city": ["城市", "所在城市", "city", "town"],
    "district": ["区县", "县区", "区/县", "district", "county"],
    "postcode": ["邮编", "邮政编码", "postcode", "post code", "zip", "zip code", "postal code"],
    "tags": ["标签", "tags", "tag"],
    "owner": ["负责人", "销售", "客户经理", "业务员", "销售人员", "owner", "sales rep", "salesperson"],
    "level": ["等级", "客户等级", "级别", "level", "customer level"],
    "source": ["来源", "客户来源", "source", "lead source"],
    "stage": ["阶段", "生命周期", "stage", "lifecycle stage"],
    "notes": ["备注", "notes", "note", "remarks", "comments"],
    "created_at": ["创建时间", "创建日期", "created", "created at", "date created"],
    "external_id": ["外部编号", "编号", "id", "external id"],
    "id_number": ["身份证", "身份证号", "身份证号码", "id number", "id card"],
    "bank_account": ["银行账号", "银行卡号", "bank account"],
    "kind": ["类型", "客户类型", "kind", "type"],
}
PUNCTUATION = re.compile(r"[\W_]+")  # after NFKC: spaces, ：*（）-_ and the like


def normalise(text: str) -> str:
    """`text` as headers are compared: NFKC, case folded, without spaces or punctuation."""
    return PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).casefold())


def guess(headers: list[str], fields: list[tuple[str, list[str]]], synonyms: dict | None = None) -> dict[int, str]:
    """Column index -> field key for the columns whose header names a field; `fields` are (key, labels);
    `synonyms` the headers each field goes by (the customers' by default)."""
    synonyms = SYNONYMS if synonyms is None else synonyms
    exact = {key: {normalise(label) for label in [*labels, *synonyms.get(key, [])]} - {""} for key, labels in fields}
    partial = {key: [normalise(word) for word in synonyms[key] if _specific(normalise(word))]
               for key, _labels in fields if key in synonyms}
    names = [normalise(header) for header in headers]
    chosen: dict[int, str] = {}
    for index, name in enumerate(names):
        key = next((key for key, labels in exact.items() if name in labels and key not in chosen.values()), None)
        if key:
            chosen[index] = key
    for index, name in enumerate(names):
        if index not in chosen and name:
            key = _likeliest(name, partial)
            if key and key not in chosen.values():  # a phone column after the phone column is not a name
                chosen[index] = key
    return dict(sorted(chosen.items()))


def _specific(word: str) -> bool:
    """Whether a synonym says enough to be looked for inside a longer header ("id" or "tel" do not)."""
    return len(word) >= 2 if not word.isascii() else len(word) >= 5


def _likeliest(name: str, candidates: dict[str, list[str]]) -> str | None:
    """The field whose synonym inside `name` is longest, then nearest its end (where both languages put the noun)."""
    found = [(len(word), name.rfind(word), key) for key, words in candidates.items() for word in words if word in name]
    return max(found)[2] if found else None


TAG_SEPARATORS = re.compile(r"[,，、;；|]")


def split_tags(cell: str) -> list[str]:
    """The tags in one cell, split on commas, 、, semicolons or |, trimmed, each once (case ignored)."""
    tags, seen = [], set()
    for tag in TAG_SEPARATORS.split(cell or ""):
        tag = tag.strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags
