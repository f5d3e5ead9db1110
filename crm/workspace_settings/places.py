"""Where a workspace is: the choices of language, country (phone region), currency, time zone and week start,
named in the reader's language, and the guesses sign-up starts from (the browser's language and time zone)."""
from datetime import date
from functools import cache

import phonenumbers
import pytz
from babel import Locale
from babel.numbers import get_currency_name, get_territory_currencies
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

LANGUAGE_LABELS = {"en": "English", "zh": "中文"}  # each in its own language, as language pickers do
WEEK_START_LABELS = {"monday": _l("Monday"), "sunday": _l("Sunday"), "saturday": _l("Saturday")}
FALLBACK_REGION = {"zh": "CN", "en": "US"}  # a browser that names a language but no country


def _reader() -> Locale:
    return Locale.parse(str(get_locale() or "en"))


@cache
def _regions(locale: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(locale).territories
    return tuple(sorted(((code, names.get(code, code)) for code in phonenumbers.SUPPORTED_REGIONS),
                        key=lambda item: item[1]))


def regions() -> tuple[tuple[str, str], ...]:
    """(ISO 3166 code, name) of every country whose phone numbers can be read, by name in the reader's language."""
    return _regions(str(_reader()))


def region_codes() -> frozenset[str]:
    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def region_name(code: str) -> str:
    return _reader().territories.get(code, code)


@cache
def _currency_codes() -> frozenset[str]:
    """Currencies some country uses today (not the historic ones babel also knows)."""
    today = date.today()
    return frozenset(code for region in phonenumbers.SUPPORTED_REGIONS
                     for code in get_territory_currencies(region, today))


@cache
def _currencies(locale: str) -> tuple[tuple[str, str], ...]:
    return tuple((code, f"{code} · {get_currency_name(code, locale=locale)}") for code in sorted(_currency_codes()))


def currencies() -> tuple[tuple[str, str], ...]:
    """(ISO 4217 code, "GBP · British Pound") of the currencies in use, by code, named in the reader's language."""
    return _currencies(str(_reader()))


def currency_codes() -> frozenset[str]:
    return _currency_codes()


def currency_name(code: str) -> str:
    return f"{code} · {get_currency_name(code, locale=_reader())}"


def time_zones() -> list[str]:
    """The time zones offered (the IANA names people live in; older aliases are still accepted when saved)."""
    return pytz.common_timezones


def time_zone_names() -> frozenset[str]:
    """Every time zone a workspace may be in (the offered ones and their older aliases)."""
    return pytz.all_timezones_set


@cache
def _region_of_zone() -> dict[str, str]:
    """Each time zone's country, for the zones only one country uses (Europe/London -> GB)."""
    found: dict[str, set[str]] = {}
    for region, zones in pytz.country_timezones.items():
        for zone in zones:
            found.setdefault(zone, set()).add(region)
    return {zone: next(iter(owners)) for zone, owners in found.items() if len(owners) == 1}


def region_of_zone(zone: str) -> str | None:
    region = _region_of_zone().get(zone)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def currency_of(region: str) -> str | None:
    """The currency a country uses today (GB -> GBP), if it is one we offer."""
    found = [code for code in get_territory_currencies(region, date.today()) if code in _currency_codes()]
    return found[0] if found else None


def zone_of(region: str, zone: str | None = None) -> str | None:
    """`zone` when the country uses it, else the country's first time zone (GB -> Europe/London)."""
    zones = pytz.country_timezones.get(region, [])
    if zone in zones:
        return zone
    return zones[0] if zones else None


def region_of_languages(tags: list[str], language: str) -> str:
    """The country the browser's languages name first (en-GB -> GB), else the usual one of its first language
    (zh -> CN), else of `language`."""
    for tag in tags:
        parts = tag.replace("_", "-").split("-")
        if len(parts) > 1 and parts[-1].upper() in phonenumbers.SUPPORTED_REGIONS:
            return parts[-1].upper()
    first = tags[0].split("-")[0].split("_")[0].lower() if tags else language
    return FALLBACK_REGION.get(first) or FALLBACK_REGION.get(language, "US")


def guess(language: str, browser_languages: list[str], zone: str | None = None) -> dict:
    """The workspace's place as sign-up first offers it: the country from the time zone (when only one country
    uses it) else from the browser's languages; its currency; the time zone given, else the country's."""
    zone = zone if zone in pytz.all_timezones_set else None
    region = (region_of_zone(zone) if zone else None) or region_of_languages(browser_languages, language)
    return {"language": language, "phone_region": region, "currency": currency_of(region) or "USD",
            "timezone": zone or zone_of(region) or "UTC"}


def follow(values: dict, changed: str) -> dict:
    """The place fields after the one named `changed` was changed: a time zone only one country uses brings that
    country; a new country brings its currency, and its own time zone unless the chosen one is already its."""
    values = dict(values)
    if changed == "timezone":
        values["phone_region"] = region_of_zone(values["timezone"]) or values["phone_region"]
    if changed == "phone_region":
        values["timezone"] = zone_of(values["phone_region"], values["timezone"]) or values["timezone"]
    if changed in ("timezone", "phone_region"):
        values["currency"] = currency_of(values["phone_region"]) or values["currency"]
    return values
