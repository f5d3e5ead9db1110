"""What a report builds: headline figures (with the previous period's), a chart (an ECharts option, see charts.py)
and a table of the same numbers, each cell with the link of the list it counts. Templates and exports read these;
`shown()` writes a value the reader's way."""
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import format_decimal, format_percent

from crm.formatting import money

KINDS = ("text", "count", "money", "percent", "days")


@dataclass
class Column:
    label: str
    kind: str = "count"  # text | count | money (the workspace's currency) | percent (a ratio 0-1) | days


@dataclass
class Cell:
    value: object
    url: str | None = None  # the list this number counts


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Figure:
    """A headline number, beside the same number for the previous period (None: no comparison)."""

    label: str
    value: object
    previous: object = None
    kind: str = "count"
    url: str | None = None

    @property
    def change(self) -> float | None:
        """The relative change from the previous period; None without one or from zero."""
        if self.previous is None or self.value is None or not self.previous:
            return None
        return float((Decimal(str(self.value)) - Decimal(str(self.previous))) / abs(Decimal(str(self.previous))))


@dataclass
class Result:
    table: Table
    chart: dict | None = None
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)  # what the report may be drawn by (`by`): key, name
    chosen: str = ""
    picks: str = ""  # what the choice is (the picker's label): "Group by", "Segment" ...


def shown(value, kind: str) -> str:
    """A value the way the reader writes it: counts and days with the locale's separators, money in the
    workspace's currency, ratios as percentages; an empty value stays empty."""
    if value is None or value == "":
        return ""
    if kind == "money":
        return money(value)
    if kind == "count":
        return format_decimal(value)
    if kind == "percent":
        return format_percent(value, "#,##0.0%")
    if kind == "days":
        return format_decimal(value, "#,##0.0")
    return str(value)


def ratio(part, whole) -> float | None:
    """part / whole, None when there is no whole."""
    return float(part) / float(whole) if whole else None
