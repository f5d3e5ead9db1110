"""Field cleaners every service shares: each takes what a form or query string sent and returns the value to
store, or raises Invalid({field: message}) with the message people see beside the field.

Empty input is None (or the default given); a service decides what is required beyond that. Query-string
filters ignore bad input instead of refusing it: `or_none(day, args.get("since"), "since")`."""
import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import phonenumbers
from babel.numbers import list_currencies
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from flask_babel import get_timezone
from flask_babel import gettext as _
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers; anything larger cannot name a record
EARLIEST, LATEST = date(1900, 1, 1), date(9999, 12, 31)
MAX_AMOUNT = Decimal("999999999999.99")  # what Numeric(14, 2) holds
# Tab, line feed and carriage return are typed; the rest are not, and PostgreSQL cannot store a NUL at all.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A plain address (dot-atom local part, ASCII labels, an alphabetic top-level domain): what email-validator
# accepts as it is, so the import's million rows skip it (~250 µs each); anything else goes to it.
PLAIN_EMAIL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                         r"[A-Za-z]{2,63}")
SEPARATORS = re.compile(r"[\s,，]")  # spaces and thousands separators people type in numbers


def record_id(value) -> int | None:
    """A submitted value as a record id, or None when it cannot be one (ids past PostgreSQL's range included)."""
    text = str(value or "")
    return int(text) if text.isdecimal() and len(text) <= 10 and 0 < int(text) <= MAX_ID else None


def or_none(clean, *args, **kwargs):
    """What `clean` makes of a query-string value, or None when it refuses it: a bad filter is ignored."""
    try:
        return clean(*args, **kwargs)
    except Invalid:
        return None


def collect(errors: dict, clean, *args, **kwargs):
    """What `clean` returns, or None with its messages added to `errors`: a form reports every problem at once."""
    try:
        return clean(*args, **kwargs)
    except Invalid as error:
        errors.update(error.errors)
        return None


def clipped(value, limit: int) -> str:
    """Text trimmed and cut to `limit`, control characters dropped (a NUL would fail the query): for search
    boxes, and optional labels that were always cut rather than refused."""
    return CONTROL.sub("", str(value or "")).strip()[:limit]


def text(value, field: str, limit: int, required: bool | str = False) -> str | None:
    """Trimmed text, None when empty. `required`: True, or the message to show when it is empty."""
    value = str(value if value is not None else "").strip()
    if not value:
        if required:
            raise Invalid({field: required if isinstance(required, str) else _("This field is required.")})
        return None
    if CONTROL.search(value):
        raise Invalid({field: _("Remove the invisible control characters from this text.")})
    if len(value) > limit:
        raise Invalid({field: _("Use at most %(n)d characters.", n=limit)})
    return value


def choice(value, field: str, allowed, default=None, optional: bool = False):
    """One of `allowed` (empty means `default`); None is kept only when `optional`."""
    value = (value.strip() if isinstance(value, str) else value) or default
    if value is None and optional:
        return None
    if value not in allowed:
        raise Invalid({field: _("Choose one of the listed values.")})
    return value


def _read(value, field: str, parse, message: str):
    """`parse` of the trimmed text; None when empty, Invalid with `message` when it cannot be read."""
    value = str(value or "").strip()
    if not value:
        return None
    try:
        return parse(value)
    except ValueError:
        raise Invalid({field: message}) from None


def _out_of_range(field: str, earliest: date, latest: date) -> Invalid:
    return Invalid({field: _("Enter a date between %(first)d and %(last)d.", first=earliest.year, last=latest.year)})


def day(value, field: str, earliest: date = EARLIEST, latest: date = LATEST) -> date | None:
    """An ISO date (2026-03-31) between `earliest` and `latest`; None when empty."""
    found = _read(value, field, date.fromisoformat, _("Enter a valid date."))
    if found is not None and not earliest <= found <= latest:
        raise _out_of_range(field, earliest, latest)
    return found


def wall_clock(value, field: str) -> datetime | None:
    """A datetime-local value as typed (no time zone applied), to the minute; None when empty."""
    moment = _read(value, field, datetime.fromisoformat, _("Enter a date and time."))
    if moment is None:
        return None
    if not EARLIEST <= moment.date() <= LATEST:
        raise _out_of_range(field, EARLIEST, LATEST)
    return moment.replace(second=0, microsecond=0)


def local_datetime(value, field: str) -> datetime | None:
    """A datetime-local value, read in the viewer's time zone, as an aware UTC time; None when empty."""
    moment = wall_clock(value, field)
    if moment is None:
        return None
    try:
        if moment.tzinfo is None:
            moment = get_timezone().localize(moment)
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 late evening, east of UTC, is past what Python holds
        raise _out_of_range(field, EARLIEST, LATEST) from None


def local_input(moment: datetime | None) -> str:
    """A stored time as a datetime-local value in the viewer's time zone (what local_datetime reads back)."""
    return moment.astimezone(get_timezone()).strftime("%Y-%m-%dT%H:%M") if moment else ""


def plain_number(value, places: int) -> Decimal | None:
    """A number of zero or more as typed (spaces and thousands separators allowed) with at most `places`
    decimals; None when it is not one."""
    value = SEPARATORS.sub("", str(value or ""))
    if not re.fullmatch(rf"\d+(\.\d{{0,{places}}})?|\.\d{{1,{places}}}", value):
        return None
    return Decimal(value)


def money(value, field: str, required: bool = False, maximum: Decimal = MAX_AMOUNT,
          negative: bool = False) -> Decimal | None:
    """An amount with at most two decimals, up to `maximum` (below zero only when `negative`); None when empty."""
    typed = SEPARATORS.sub("", str(value or ""))
    if not typed:
        if required:
            raise Invalid({field: _("Enter an amount.")})
        return None
    below_zero = negative and typed.startswith("-")
    amount = plain_number(typed[1:] if below_zero else typed, 2)
    if amount is None:
        raise Invalid({field: _("Enter an amount like 19.99 (at most two decimals).")})
    if amount > maximum:
        raise Invalid({field: _("This amount is too large.")})
    return (-amount if below_zero else amount).quantize(Decimal("0.01"))


def currency(value, field: str, default: str | None = None) -> str:
    """A currency code (CNY, USD, EUR ...), upper-cased; empty means `default`."""
    code = str(value or "").strip().upper() or default
    if code not in list_currencies():
        raise Invalid({field: _("Enter a currency code such as CNY, USD or EUR.")})
    return code


def whole_number(value, field: str, low: int, high: int, required: bool = True) -> int | None:
    """A whole number from `low` to `high`; None when empty and not required."""
    value = str(value if value is not None else "").strip()
    if not value and not required:
        return None
    if not (value.isdecimal() and len(value) <= 18 and low <= int(value) <= high):
        raise Invalid({field: _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)})
    return int(value)


def percent(value, field: str, required: bool = False) -> int | None:
    """A whole percentage from 0 to 100 ("50" or "50%"); None when empty and not required."""
    return whole_number(str(value if value is not None else "").strip().rstrip("%"), field, 0, 100, required)


def owner(value, field: str = "owner_id") -> int | None:
    """An active member's id; None when empty. Whether the viewer may choose them is members.access.in_reach."""
    # Imported here: crm/__init__ loads this module (through crm.web) while tenants.provisioning, which
    # members.models needs, may itself be loading crm.
    from crm.members.models import Member

    if value in (None, "", 0):
        return None
    member_id = record_id(value)
    if member_id is None or db.session.scalar(select(Member.id).where(Member.id == member_id, Member.active)) is None:
        raise Invalid({field: _("Choose an active member.")})
    return member_id


def phone(value, region: str, field: str = "phone") -> str | None:
    """A phone number in E.164 form (+8613800138000), read in `region` when it has no country code."""
    value = str(value or "").strip()
    if not value:
        return None
    plain = _plain_mobile(value, region)
    if plain is not None:
        return plain
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid({field: _("Enter a valid phone number, e.g. %(example)s, or one starting with + and its "
                                "country code.", example=_example_phone(region))})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def _mobile_rules(region: str) -> tuple[str, re.Pattern, re.Pattern | None] | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.mobile is None or not metadata.mobile.national_number_pattern:
        return None
    prefix = metadata.national_prefix_for_parsing
    return str(metadata.country_code), re.compile(metadata.mobile.national_number_pattern), \
        re.compile(prefix) if prefix else None


def _plain_mobile(value: str, region: str) -> str | None:
    """The E.164 form of a mobile number of `region` written plainly (digits, spaces, dashes, the region's
    country code or none), as phonenumbers would give it, read with the region's own mobile pattern: most phones
    of a file are these, and parsing takes ~100 µs. None for anything else (then parsed)."""
    rules = _mobile_rules(region)
    if rules is None:
        return None
    country, mobile, national_prefix = rules
    digits = value.replace(" ", "").replace("-", "")
    if digits.startswith("+"):
        if not digits.startswith(country, 1):
            return None
        digits = digits[1 + len(country):]
    if not (digits.isascii() and digits.isdigit()) or (national_prefix and national_prefix.match(digits)):
        return None
    return f"+{country}{digits}" if mobile.fullmatch(digits) else None


def _plain_email(value: str) -> bool:
    """Whether email-validator would take `value` as it is (PLAIN_EMAIL, within its lengths, not a special-use
    domain such as .local, no IDNA-looking label)."""
    if len(value) > 254 or not PLAIN_EMAIL.fullmatch(value):
        return False
    local, domain = value.rsplit("@", 1)
    domain = domain.lower()
    return len(local) <= 64 and len(domain) <= 253 and "--" not in domain and not any(
        domain == special or domain.endswith("." + special) for special in SPECIAL_USE_DOMAIN_NAMES)


def _example_phone(region: str) -> str:
    """A mobile number as people in `region` write it, for the error message."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL) if example else "+1 415 555 0100"


def normalise_email(value, field: str = "email", required: bool = False) -> str | None:
    """An email address as stored: trimmed, checked (not its domain's mail servers), lower-cased; None when
    empty and not `required`."""
    value = str(value or "").strip()
    if not value and not required:
        return None
    if _plain_email(value):
        return value.lower()
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Invalid({field: _("Enter a valid email address.")}) from None
