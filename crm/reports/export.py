"""A report's table as CSV (UTF-8 with a BOM, so spreadsheet programs read Chinese right) or XLSX (openpyxl).

Numbers stay numbers (money in the workspace's currency, named in the heading; ratios as percentages). Text that
a spreadsheet would run as a formula, or that starts with a control character, is written behind an apostrophe."""
import csv
import io
import re
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from crm.reports.results import Table
from crm.settings import workspace_currency

# A cell starting with = + - @ is a formula to Excel, LibreOffice and Sheets (and | or a tab can start one too);
# a leading control character hides what follows it.
RISKY = re.compile(r"^[=+\-@|\t\r\n\x00-\x1f\x7f-\x9f]")
TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as typed, never runs."""
    return "'" + text if RISKY.match(text) else text


def _value(value, kind: str):
    if value is None:
        return None
    if kind == "text":
        return safe_text(str(value))
    if kind == "percent":
        return round(float(value) * 100, 1)
    if kind == "days":
        return round(float(value), 1)
    return float(value) if isinstance(value, Decimal) else value


def headings(table: Table) -> list[str]:
    """The columns' names; money and percentages say their unit."""
    units = {"money": f" ({workspace_currency()})", "percent": " (%)"}
    return [safe_text(f"{column.label}{units.get(column.kind, '')}") for column in table.columns]


def rows(table: Table) -> list[list]:
    return [[_value(cell.value, column.kind) for cell, column in zip(row, table.columns)] for row in table.rows]


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headings(table))
    writer.writerows(rows(table))
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(table: Table, title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Report")
    for row in [headings(table), *rows(table)]:  # XLSX cannot hold control characters at all: they go
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
