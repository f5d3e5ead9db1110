"""Reading an XLSX upload alone (issue 14, "read streaming"): peak RSS and time of sniff + open_rows.

    .venv/bin/python bench/xlsx_read.py                  # 100,000 rows
    .venv/bin/python bench/xlsx_read.py --rows 1000000   # the issue's size (the workbook takes minutes to write)
    .venv/bin/python bench/xlsx_read.py --excel-like     # strings shared and <dimension> written, as Excel saves
    .venv/bin/python bench/xlsx_read.py --code /work/main  # another checkout's reader (before and after)

The workbook is bench/imports.py's file (Chinese and English names, phones, emails, tags, two select fields),
kept in the temp directory between runs. By default it is written by openpyxl's write-only writer (inline strings,
no <dimension>: the reader cannot know the row count, and openpyxl reads the sheet once more to look for it);
--excel-like writes it with openpyxl's normal writer (the whole sheet in memory: up to a few 100,000 rows),
whose shared-strings table the reader holds in memory as Excel's own files make it. It is read in a fresh
interpreter, so the peak (VmHWM) is the reader's plus its modules', printed apart ("baseline": after the imports,
before reading).
No database: this is the reader only, the engine's cleaning and COPY are bench/imports.py's.
"""
import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

READ = """
import sys, time
sys.path.insert(0, {root!r})
from crm.imports.reading import open_rows, sniff
def rss(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) / 1024 for line in handle if line.startswith(key))
base = rss("VmRSS:")
start = time.perf_counter()
info = sniff({path!r}, max_bytes=1 << 40)
sniffed = time.perf_counter() - start
rows = sum(1 for _ in open_rows({path!r}, info))
print(f"rows {{rows}} (total_rows {{info.total_rows}}), sniff {{sniffed:.2f}} s, "
      f"sniff + read {{time.perf_counter() - start:.1f}} s, "
      f"baseline {{base:.0f}} MB, peak RSS {{rss('VmHWM:'):.0f}} MB")
"""


def workbook(rows: int, excel_like: bool) -> Path:
    from bench.imports import write_rows, write_xlsx

    path = Path(tempfile.gettempdir()) / f"crm-bench-read-{rows}{'-shared' if excel_like else ''}.xlsx"
    if not path.exists():
        text = path.with_suffix(".csv")
        write_rows(text, rows, [])
        (write_shared if excel_like else write_xlsx)(text, path)
        text.unlink()
    return path


def write_shared(csv_path: Path, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "客户"
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            book.active.append(row)
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--excel-like", action="store_true", help="shared strings and <dimension>, as Excel saves")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose crm.imports.reading reads")
    options = parser.parse_args()
    started = time.perf_counter()
    path = workbook(options.rows, options.excel_like)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, ready in {time.perf_counter() - started:.1f} s)")
    subprocess.run([sys.executable, "-c", READ.format(root=str(options.code), path=str(path))], check=True)
    with open("/proc/loadavg") as handle:
        print("load average", " ".join(handle.read().split()[:3]))


if __name__ == "__main__":
    main()
