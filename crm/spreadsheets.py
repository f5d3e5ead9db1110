"""Writing tables for spreadsheet programs, shared by the reports' exports and the list exports: CSV (UTF-8 with a
BOM, so Excel reads Chinese right) and XLSX (openpyxl's write-only mode), both row by row so a long table never
sits in memory.

Text that a spreadsheet would run as a formula, or that starts with a control character, is written behind an
apostrophe; numbers stay numbers."""
import csv
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# A cell starting with = + - @ is a formula to Excel, LibreOffice and Sheets (and | or a tab can start one too);
# a leading control character hides what follows it.
RISKY = frozenset("=+-@|" + "".join(map(chr, [*range(0x20), *range(0x7f, 0xa0)])))
TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FORMATS = tuple(TYPES)
BOM = "\ufeff".encode()


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as typed, never runs."""
    return "'" + text if text[:1] in RISKY else text


def safe_row(row: Iterable) -> list:
    return [safe_text(value) if isinstance(value, str) else value for value in row]


class _Line:
    """The csv writer's file: keeps the last line written, so each row can be handed on as bytes."""

    def write(self, text: str) -> None:
        self.text = text


def csv_chunks(rows: Iterable[list], batch: int = 500) -> Iterator[bytes]:
    """The rows (headings first) as CSV bytes with a BOM, in chunks of `batch` rows, for a streamed response
    or a file."""
    line = _Line()
    writer = csv.writer(line)
    chunk = [BOM]
    for row in rows:
        writer.writerow(safe_row(row))
        chunk.append(line.text.encode())
        if len(chunk) >= batch:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)


def write_xlsx(rows: Iterable[list], title: str, out: BinaryIO) -> None:
    """The rows (headings first) as one sheet of an XLSX file written to `out`; openpyxl's write-only mode
    keeps only the row being written."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet")
    for row in rows:  # XLSX cannot hold control characters at all: they go
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in safe_row(row)])
    book.save(out)
