"""Reading an uploaded customer file: CSV (UTF-8, GB18030, UTF-16; comma, semicolon or tab) or XLSX.

`sniff` looks at the start of the file once: what it is, how it is encoded, its headers and a few rows to show.
`open_rows` then streams the data rows after the header, one list of strings each, never the whole file at once.
The kind is told from the bytes, never the name. Everything refused raises Invalid({"file": message}).

Rows come as the file has them: a blank row is a list of blank strings (or an empty list), so the engine's row
numbers stay the file's; a row shorter than the header is padded with "", a longer one keeps its extra cells; cells
pass through unchanged whatever their length (the engine refuses the row, not the file), up to the csv module's
131,072 characters, past which the CSV is refused at that line. XLSX is read by openpyxl in read-only mode,
which parses the sheet's XML as the rows are asked for (a million rows in flat memory); its rows start at the first
one that is not blank. XLSX formulas are never evaluated: the value Excel cached when it saved is read, and "" when
there is none.
"""
import codecs
import csv
import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from itertools import dropwhile

import charset_normalizer
import openpyxl
from flask_babel import gettext as _

from crm.errors import Invalid

SAMPLE_ROWS = 5
SNIFF_BYTES = 64 * 1024  # enough lines to tell the encoding and the delimiter
DELIMITERS = ",;\t"
UNPACKED_TIMES = 20  # an XLSX may unpack to this many times the upload cap, no more (zip bombs)
ZIP_MAGIC = b"PK\x03\x04"
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
GB = {"gb2312", "gbk", "gb18030"}  # what Excel saves CSV in on Simplified Chinese Windows
# What openpyxl raises for a workbook broken inside its zip: a missing part, XML that does not parse (lxml's and
# ElementTree's errors are SyntaxErrors), a value that does not fit its type, a member cut short.
DAMAGED = (zipfile.BadZipFile, KeyError, ValueError, TypeError, SyntaxError, EOFError, zlib.error, OSError)


@dataclass
class FileInfo:
    """What sniff() learnt about an upload; open_rows() reads it again from this."""
    kind: str  # "csv" | "xlsx"
    headers: list[str]
    sample: list[list[str]]
    encoding: str | None = None  # csv
    encoding_sure: bool = True  # False: a guess the user should confirm
    delimiter: str | None = None  # csv
    sheets: list[str] = field(default_factory=list)  # xlsx
    sheet: str | None = None  # xlsx
    total_rows: int | None = None  # data rows, when cheap to know (xlsx)


def sniff(path, *, encoding: str | None = None, sheet: str | None = None, max_bytes: int) -> FileInfo:
    """The kind, encoding, delimiter or sheet, headers and first rows of the file at `path`."""
    size = os.path.getsize(path)
    if size == 0:
        raise _refused(_("The file is empty."))
    if size > max_bytes:
        raise _refused(_("The file is over %(limit)s MB; split it into smaller files.", limit=_megabytes(max_bytes)))
    with open(path, "rb") as raw:
        head = raw.read(SNIFF_BYTES)
    if head.startswith(ZIP_MAGIC):
        return _sniff_xlsx(path, sheet, max_bytes)
    return _sniff_csv(path, head, encoding, at_end=size <= SNIFF_BYTES)


def open_rows(path, info: FileInfo) -> Iterator[list[str]]:
    """The data rows after the header, streamed, each padded to the header's width."""
    rows = _xlsx_rows(path, info.sheet) if info.kind == "xlsx" else _csv_rows(path, info.encoding, info.delimiter)
    next(rows, None)
    width = len(info.headers)
    for row in rows:
        yield row + [""] * (width - len(row))


def _sniff_csv(path, head: bytes, encoding: str | None, at_end: bool) -> FileInfo:
    sure = True
    if encoding:
        _check_codec(encoding)
    else:
        encoding, sure = _detect_encoding(head, at_end)
    text = _decoded(head, encoding, at_end)
    if text is None:
        raise _refused(_("The file cannot be read as %(encoding)s: choose another encoding.", encoding=encoding))
    delimiter = _detect_delimiter(text)
    with closing(_csv_rows(path, encoding, delimiter)) as rows:
        headers = _headers(next(rows, None))
        sample = _sample(rows, len(headers))
    return FileInfo("csv", headers, sample, encoding=encoding, encoding_sure=sure, delimiter=delimiter)


def _detect_encoding(head: bytes, at_end: bool) -> tuple[str, bool]:
    """(encoding, sure): a BOM, valid UTF-8 or plain Chinese in GB18030 is sure; otherwise charset-normalizer's
    guess, which the user checks."""
    for bom, name in BOMS:
        if head.startswith(bom):
            return name, True
    if b"\0" in head or _mostly_control(head):
        raise _refused(_not_a_table())
    if _decoded(head, "utf-8", at_end) is not None:
        return "utf-8", True
    if _reads_as_chinese(head, at_end):
        return "gb18030", True
    best = charset_normalizer.from_bytes(head).best()
    if best is None:
        raise _refused(_not_a_table())
    guessed = codecs.lookup(best.encoding).name
    if guessed in GB:  # GB18030 reads everything GB2312 and GBK do
        return "gb18030", _decoded(head, "gb18030", at_end) is not None
    return guessed, False


def _reads_as_chinese(head: bytes, at_end: bool) -> bool:
    """Whether `head` is GB18030 made mostly of common Chinese characters and punctuation (GB2312's first level),
    as a Chinese spreadsheet is and other encodings read that way almost never are. charset-normalizer takes
    a few lines of GBK for UTF-16 or Thai."""
    wide = [char for char in _decoded(head, "gb18030", at_end) or "" if not char.isascii()]
    return bool(wide) and sum(map(_common_chinese, wide)) >= 0.8 * len(wide)


def _common_chinese(char: str) -> bool:
    code = char.encode("gb18030")
    return len(code) == 2 and (0xA1 <= code[0] <= 0xA9 or 0xB0 <= code[0] <= 0xD7)


def _mostly_control(head: bytes) -> bool:
    controls = sum(1 for byte in head if byte < 32 and byte not in b"\t\n\r\f")
    return controls > len(head) // 100


def _decoded(head: bytes, encoding: str, at_end: bool) -> str | None:
    """The start of the file as text, None if it is not in `encoding`; a character cut at the end is no fault."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=at_end)
    except UnicodeDecodeError:
        return None


def _detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab, whichever splits the first lines alike; comma when the file has one column."""
    lines = text.splitlines(keepends=True)
    sample = "".join(lines[:-1] if len(lines) > 1 else lines)  # the last line may be cut in half
    try:
        return csv.Sniffer().sniff(sample[:32 * 1024], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _csv_rows(path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    """Every row of the CSV, the header first; undecodable bytes or a broken row refuse the file."""
    with open(path, "rb") as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        reader = csv.reader(text, delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _refused(_("The file cannot be read as %(encoding)s after line %(line)s: choose another "
                                 "encoding.", encoding=encoding, line=reader.line_num)) from None
            except csv.Error:
                raise _refused(_("Line %(line)s cannot be read: a cell is too long or a quote is not closed.",
                                 line=reader.line_num)) from None
            yield row


def _check_codec(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise _refused(_("Unknown encoding %(encoding)s.", encoding=encoding)) from None


def _sniff_xlsx(path, sheet: str | None, max_bytes: int) -> FileInfo:
    _check_zip(path, max_bytes)
    with _workbook(path) as workbook:
        sheets = [one.title for one in workbook.worksheets]  # chart sheets hold no rows: openpyxl lists them apart
        visible = [one.title for one in workbook.worksheets if one.sheet_state == "visible"]
        sheet = sheet if sheet is not None else (visible or sheets or [""])[0]
        if sheet not in sheets:
            raise _refused(_("The workbook has no sheet named %(sheet)s.", sheet=sheet))
        worksheet = workbook[sheet]
        total = worksheet.max_row and max(worksheet.max_row - worksheet.min_row, 0)  # its <dimension>, if written
        with closing(_sheet_rows(worksheet)) as rows:
            headers = _headers(next(rows, None))
            sample = _sample(rows, len(headers))
    return FileInfo("xlsx", headers, sample, sheets=sheets, sheet=sheet, total_rows=total)


def _check_zip(path, max_bytes: int) -> None:
    """Refuse a zip that is not a workbook, or one unpacking past the cap (zipfile holds sizes to their declared
    ones)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise _refused(_damaged()) from None
    if not any(entry.filename == "xl/workbook.xml" for entry in entries):
        raise _refused(_not_a_table())
    limit = UNPACKED_TIMES * max_bytes
    if sum(entry.file_size for entry in entries) > limit:
        raise _refused(_("The workbook unpacks to more than %(limit)s MB; split it into smaller files.",
                         limit=_megabytes(limit)))


@contextmanager
def _workbook(path):
    """The workbook in read-only mode, cached values only. Opened from a file object: openpyxl refuses a path
    whose name does not end in .xlsx, and uploads are kept under names of their own."""
    with open(path, "rb") as raw:
        try:
            workbook = openpyxl.load_workbook(raw, read_only=True, data_only=True, keep_links=False)
        except DAMAGED:
            raise _refused(_damaged()) from None
        try:
            yield workbook
        finally:
            workbook.close()


def _xlsx_rows(path, sheet: str) -> Iterator[list[str]]:
    with _workbook(path) as workbook:
        yield from _sheet_rows(workbook[sheet])


def _sheet_rows(worksheet) -> Iterator[list[str]]:
    """The sheet's rows as text from the first that is not blank; a sheet broken midway refuses the file there."""
    worksheet.reset_dimensions()  # a writer's <dimension> can be wrong: read every row there is, not its claim
    rows = (list(map(_cell_text, row)) for row in worksheet.iter_rows(values_only=True))
    try:
        yield from dropwhile(_blank, rows)
    except DAMAGED:
        raise _refused(_damaged()) from None


def _blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def _cell_text(value) -> str:
    """A cell as the text a person typed: 13800138000.0 is "13800138000", a date "2024-05-01" (Excel keeps dates
    as times at midnight), an empty cell or a formula without a cached value ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        if value.time() == time.min:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)  # text, whole numbers, durations


def _headers(row: list[str] | None) -> list[str]:
    """The header row stripped; a blank one is "Column N", a repeated one gets " (2)", " (3)"..."""
    if row is None:
        raise _refused(_("The file is empty."))
    if _blank(row):
        raise _refused(_("The first row must name the columns, but it is blank."))
    headers, seen = [], set()
    for number, cell in enumerate(row, start=1):
        name = cell.replace("\ufeff", "").strip() or _("Column %(number)s", number=number)  # a BOM read as UTF-8
        unique, copy = name, 1
        while unique.casefold() in seen:
            copy += 1
            unique = f"{name} ({copy})"
        seen.add(unique.casefold())
        headers.append(unique)
    return headers


def _sample(rows: Iterator[list[str]], width: int) -> list[list[str]]:
    """The first few rows that are not blank, padded to the header's width."""
    sample = []
    for row in rows:
        if not _blank(row):
            sample.append(row + [""] * (width - len(row)))
            if len(sample) == SAMPLE_ROWS:
                break
    return sample


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g}"


def _not_a_table() -> str:
    return _("This is not a CSV or XLSX file. Save it from your spreadsheet as CSV or Excel workbook (.xlsx).")


def _damaged() -> str:
    return _("The workbook cannot be read: it is damaged or not an Excel workbook. Save it again as .xlsx.")


def _refused(message: str) -> Invalid:
    return Invalid({"file": message})
