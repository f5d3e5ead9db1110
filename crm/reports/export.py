"""A report's table as CSV or XLSX (crm/spreadsheets.py). Numbers stay numbers (money in the workspace's currency,
named in the heading; ratios as percentages)."""
import io
from decimal import Decimal

from crm import spreadsheets
from crm.reports.results import Table
from crm.settings import workspace_currency

TYPES = spreadsheets.TYPES


def _value(value, kind: str):
    if value is None:
        return None
    if kind == "text":
        return str(value)
    if kind == "percent":
        return round(float(value) * 100, 1)
    if kind == "days":
        return round(float(value), 1)
    return float(value) if isinstance(value, Decimal) else value


def headings(table: Table) -> list[str]:
    """The columns' names; money and percentages say their unit."""
    units = {"money": f" ({workspace_currency()})", "percent": " (%)"}
    return [f"{column.label}{units.get(column.kind, '')}" for column in table.columns]


def rows(table: Table) -> list[list]:
    return [[_value(cell.value, column.kind) for cell, column in zip(row, table.columns)] for row in table.rows]


def to_csv(table: Table) -> bytes:
    return b"".join(spreadsheets.csv_chunks([headings(table), *rows(table)]))


def to_xlsx(table: Table, title: str) -> bytes:
    out = io.BytesIO()
    spreadsheets.write_xlsx([headings(table), *rows(table)], title or "Report", out)
    return out.getvalue()
