"""Months in the workspace's calendar: read from a form, stepped, and turned into the UTC instants they span."""
import re
from datetime import UTC, date, datetime, time

from flask_babel import gettext as _

from crm.errors import Invalid
from crm.extensions import utcnow
from crm.settings import workspace_zone
from crm.validation import or_none

FIRST_YEAR, LAST_YEAR = 1900, 9998  # the month after the last one must still be a date
TYPED = re.compile(r"(\d{4})-(\d{2})")


def parse(value, field: str = "month") -> date:
    """A month typed as 2026-03 (what <input type="month"> sends), as its first day."""
    found = TYPED.fullmatch(str(value or "").strip())
    if found is None or not 1 <= int(found[2]) <= 12:
        raise Invalid({field: _("Enter a month like 2026-03.")})
    if not FIRST_YEAR <= int(found[1]) <= LAST_YEAR:
        raise Invalid({field: _("Enter a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)})
    return date(int(found[1]), int(found[2]), 1)


def current() -> date:
    """The first day of this month where the workspace is."""
    return utcnow().astimezone(workspace_zone()).date().replace(day=1)


def from_query(value) -> date:
    """The month a query string names, or this month when it names none (or nonsense)."""
    return or_none(parse, value) or current()


def shift(month: date, months: int) -> date:
    """The first day of the month `months` after (before, when negative) `month`."""
    year, index = divmod(month.year * 12 + month.month - 1 + months, 12)
    return date(year, index + 1, 1)


def key(month: date) -> str:
    """The month as forms and links write it: 2026-03."""
    return f"{month.year:04d}-{month.month:02d}"


def bounds(month: date) -> tuple[datetime, datetime]:
    """The month as UTC instants [start, end): from its first local midnight to the next month's."""
    zone = workspace_zone()
    start, end = (datetime.combine(day, time(), zone) for day in (month, shift(month, 1)))
    return start.astimezone(UTC), end.astimezone(UTC)
