"""Reading uploaded customer files: real CSV and XLSX files written here, read the way an import reads them."""
import codecs
import datetime
import io
import os
import zipfile

import openpyxl
import pytest

from crm.errors import Invalid
from crm.imports.reading import open_rows, sniff

CAP = 1024 * 1024


def write(tmp_path, content: bytes, name="upload"):
    path = tmp_path / name  # no extension: the kind comes from the bytes
    path.write_bytes(content)
    return path


def read(path, **options):
    info = sniff(path, max_bytes=options.pop("max_bytes", CAP), **options)
    return info, list(open_rows(path, info))


def refusal(path, **options) -> str:
    with pytest.raises(Invalid) as refused:
        sniff(path, max_bytes=options.pop("max_bytes", CAP), **options)
    return refused.value.errors["file"]


def test_utf8_csv_with_and_without_bom(tmp_path):
    text = "姓名,手机\n张伟,13800138000\nJohn Smith,13900139000\n"
    for content, encoding in ((text.encode(), "utf-8"), (text.encode("utf-8-sig"), "utf-8-sig")):
        info, rows = read(write(tmp_path, content))
        assert (info.kind, info.encoding, info.encoding_sure, info.delimiter) == ("csv", encoding, True, ",")
        assert info.headers == ["姓名", "手机"]
        assert rows == info.sample == [["张伟", "13800138000"], ["John Smith", "13900139000"]]


def test_gbk_csv_as_excel_saves_it_in_china_is_detected(tmp_path):
    text = "客户名称,联系电话,地址,备注\n" + "".join(
        f"上海华桂科技有限公司{i},1380013{i:04d},上海市浦东新区张江路{i}号,老客户，请优先联系\n" for i in range(30))
    info, rows = read(write(tmp_path, text.encode("gbk")))
    assert (info.encoding, info.encoding_sure) == ("gb18030", True)
    assert info.headers == ["客户名称", "联系电话", "地址", "备注"]
    assert rows[0] == ["上海华桂科技有限公司0", "13800130000", "上海市浦东新区张江路0号", "老客户，请优先联系"]
    assert len(rows) == 30


def test_a_few_lines_of_gbk_are_chinese_too(tmp_path):
    for text in ("姓名,城市\n张伟,北京\n", "名称\n小米\n", "姓名,备注\n王芳,老客户\n"):
        info, rows = read(write(tmp_path, text.encode("gbk")))
        assert (info.encoding, info.encoding_sure) == ("gb18030", True)
        assert [info.headers, *rows] == [line.split(",") for line in text.splitlines()]


def test_other_legacy_encodings_are_a_guess_to_confirm(tmp_path):
    info, rows = read(write(tmp_path, "name,city\nJosé,Málaga\n".encode("cp1252")))
    assert not info.encoding_sure and rows == [["José", "Málaga"]]


def test_the_user_chooses_the_encoding_and_a_wrong_one_is_refused(tmp_path):
    path = write(tmp_path, "姓名,城市\n张伟,北京\n".encode("gb18030"))
    info, rows = read(path, encoding="gb18030")
    assert rows == [["张伟", "北京"]] and info.encoding_sure
    assert "utf-8" in refusal(path, encoding="utf-8")
    assert "latin-9000" in refusal(path, encoding="latin-9000")


def test_bytes_past_the_sniffed_start_that_do_not_decode_refuse_the_file(tmp_path):
    path = write(tmp_path, ("name\n" + "ascii only\n" * 10000).encode() + "张伟\n".encode("gbk"))
    info = sniff(path, max_bytes=CAP)
    assert info.encoding == "utf-8"
    with pytest.raises(Invalid) as refused:
        list(open_rows(path, info))
    assert "choose another encoding" in refused.value.errors["file"]


def test_semicolon_and_tab_delimiters(tmp_path):
    for delimiter in (";", "\t"):
        text = delimiter.join(["name", "phone", "company"]) + "\n" + delimiter.join(["Li Lei", "1, 2", "Acme"]) + "\n"
        info, rows = read(write(tmp_path, text.encode()))
        assert info.delimiter == delimiter
        assert info.headers == ["name", "phone", "company"] and rows == [["Li Lei", "1, 2", "Acme"]]


def test_utf16_tab_text_as_excel_saves_unicode_text(tmp_path):
    info, rows = read(write(tmp_path, "姓名\t手机\n张伟\t138\n".encode("utf-16")))
    assert (info.encoding, info.delimiter, rows) == ("utf-16", "\t", [["张伟", "138"]])


def test_quoted_cells_keep_delimiters_quotes_and_newlines(tmp_path):
    content = 'name,address,notes\r\n"Wang, Fang","Line 1\nLine 2","He said ""hi"""\r\nZhao,,\r\n'.encode()
    info, rows = read(write(tmp_path, content))
    assert rows == [["Wang, Fang", "Line 1\nLine 2", 'He said "hi"'], ["Zhao", "", ""]]


def test_blank_rows_are_yielded_and_short_rows_padded(tmp_path):
    info, rows = read(write(tmp_path, b"name,phone,email\nZhang\n\nLi,1,a@b.c,extra\n"))
    assert rows == [["Zhang", "", ""], ["", "", ""], ["Li", "1", "a@b.c", "extra"]]
    assert info.sample == [["Zhang", "", ""], ["Li", "1", "a@b.c", "extra"]]


def test_sample_is_the_first_five_rows(tmp_path):
    info, rows = read(write(tmp_path, ("n\n" + "".join(f"{i}\n" for i in range(12))).encode()))
    assert info.sample == [["0"], ["1"], ["2"], ["3"], ["4"]] and len(rows) == 12


def test_blank_and_repeated_headers_are_named(tmp_path):
    info, rows = read(write(tmp_path, " 姓名 ,,手机,手机,Phone,phone\n张伟,x,1,2,3,4\n".encode()))
    assert info.headers == ["姓名", "Column 2", "手机", "手机 (2)", "Phone", "phone (2)"]
    assert rows == [["张伟", "x", "1", "2", "3", "4"]]


def test_a_header_only_file_has_no_rows(tmp_path):
    info, rows = read(write(tmp_path, b"name,phone\n"))
    assert info.headers == ["name", "phone"] and rows == [] and info.sample == []


def test_a_very_long_cell_passes_through_unchanged(tmp_path):
    long = "长" * 100_000
    info, rows = read(write(tmp_path, f"name,notes\nZhang,{long}\n".encode()))
    assert rows == [["Zhang", long]]


def test_a_cell_past_what_csv_reads_or_an_unclosed_quote_refuses_the_file_at_its_line(tmp_path):
    path = write(tmp_path, b"name,notes\nZhang,short\nLi," + b"x" * 200_000 + b"\n")
    with pytest.raises(Invalid) as refused:
        list(open_rows(path, sniff(path, max_bytes=CAP)))
    assert refused.value.errors["file"].startswith("Line 3 cannot be read")
    path = write(tmp_path, b'name,notes\nZhang,"never closed\n' + b"Li,more\n" * 20_000)
    with pytest.raises(Invalid):
        list(open_rows(path, sniff(path, max_bytes=CAP)))


def test_a_bom_left_by_a_chosen_utf8_is_not_part_of_the_header(tmp_path):
    info, rows = read(write(tmp_path, "姓名\n张伟\n".encode("utf-8-sig")), encoding="utf-8")
    assert info.headers == ["姓名"] and rows == [["张伟"]]


def test_refused_files_say_why(tmp_path):
    assert refusal(write(tmp_path, b"")) == "The file is empty."
    assert refusal(write(tmp_path, codecs.BOM_UTF8)) == "The file is empty."
    assert "first row" in refusal(write(tmp_path, b",,\nZhang,1,2\n"))
    assert "over 1 MB" in refusal(write(tmp_path, b"name\n" + b"x\n" * CAP))
    assert "not a CSV or XLSX" in refusal(write(tmp_path, os.urandom(20_000)))
    assert "not a CSV or XLSX" in refusal(write(tmp_path, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10))


def test_the_cap_is_configured_in_megabytes():
    from config import Config

    assert Config({}).IMPORT_MAX_BYTES == 50 * 1024 * 1024
    assert Config({"IMPORT_MAX_MB": "5"}).IMPORT_MAX_BYTES == 5 * 1024 * 1024


def workbook(tmp_path, name="book.xlsx"):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "客户"
    sheet.append(["姓名", "手机", "数量", "金额", "生日", "创建时间", "公式", "VIP"])
    sheet.append(["张伟", 13800138000, 3, 12.5, datetime.date(1990, 5, 1), datetime.datetime(2024, 5, 1, 13, 30, 5),
                  "=1+1", True])
    sheet.append(["李娜", "+86 139 0013 9000", 0.1, 1e-5, None, None, None, False])
    other = book.create_sheet("Leads")
    other.append(["name", "email"])
    other.append(["Ann", "ann@example.com"])
    book.create_sheet("Hidden").sheet_state = "hidden"
    path = tmp_path / name
    book.save(path)
    return path


def test_xlsx_cells_come_back_as_the_text_people_typed(tmp_path):
    info, rows = read(workbook(tmp_path))
    assert (info.kind, info.sheets, info.sheet, info.total_rows) == ("xlsx", ["客户", "Leads", "Hidden"], "客户", 2)
    assert info.headers == ["姓名", "手机", "数量", "金额", "生日", "创建时间", "公式", "VIP"]
    assert rows == [
        ["张伟", "13800138000", "3", "12.5", "1990-05-01", "2024-05-01 13:30:05", "", "TRUE"],
        ["李娜", "+86 139 0013 9000", "0.1", "0.00001", "", "", "", "FALSE"],
    ]
    assert info.sample == rows


def test_a_formula_is_read_as_excel_cached_it_never_evaluated(tmp_path):
    path = workbook(tmp_path)
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    assert "<f>1+1</f><v />" in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace("<f>1+1</f><v />", "<f>1+1</f><v>7</v>").encode()
    cached = tmp_path / "cached"
    with zipfile.ZipFile(cached, "w") as book:
        for name, content in parts.items():
            book.writestr(name, content)
    info, rows = read(cached)
    assert rows[0][:2] == ["张伟", "13800138000"]
    assert rows[0][6] == "7"  # what Excel would have saved; 1+1 was not worked out


def test_a_chosen_sheet_is_read(tmp_path):
    info, rows = read(workbook(tmp_path), sheet="Leads")
    assert (info.sheet, info.headers, rows) == ("Leads", ["name", "email"], [["Ann", "ann@example.com"]])
    assert "Nope" in refusal(workbook(tmp_path), sheet="Nope")


def test_the_kind_comes_from_the_content_not_the_name(tmp_path):
    xlsx = workbook(tmp_path, name="customers.csv")
    assert sniff(xlsx, max_bytes=CAP).kind == "xlsx"
    assert sniff(write(tmp_path, b"name\nZhang\n", name="customers.xlsx"), max_bytes=CAP).kind == "csv"


def test_broken_workbooks_are_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "not a CSV or XLSX" in refusal(write(tmp_path, buffer.getvalue()))
    damaged = workbook(tmp_path).read_bytes()[:3000]
    assert "cannot be read" in refusal(write(tmp_path, damaged))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "not xml at all <<<")
    assert "cannot be read" in refusal(write(tmp_path, buffer.getvalue()))


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            zeros = bytes(1024 * 1024)
            for _ in range(25):  # 25 MB of zeros, a few KB packed: over 20 times the 1 MB cap
                entry.write(zeros)
    path = write(tmp_path, buffer.getvalue())
    assert path.stat().st_size < CAP
    assert "unpacks to more than 20 MB" in refusal(path)


def test_an_empty_sheet_has_no_header(tmp_path):
    book = openpyxl.Workbook()
    path = tmp_path / "empty.xlsx"
    book.save(path)
    assert refusal(path) == "The file is empty."


def test_refusals_and_column_names_are_in_the_readers_language(app, tmp_path):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh_Hans_CN"):
        assert refusal(write(tmp_path, b"")) == "文件是空的。"
        assert "2 MB" in refusal(write(tmp_path, b"x" * 3 * CAP), max_bytes=2 * CAP)
        assert sniff(write(tmp_path, b"name,\nZhang,1\n"), max_bytes=CAP).headers == ["name", "第 2 列"]


def test_the_first_visible_sheet_is_read_by_default(tmp_path):
    path = workbook(tmp_path)
    book = openpyxl.load_workbook(path)
    book["客户"].sheet_state = "hidden"
    book.active = 1
    book.save(path)
    info = sniff(path, max_bytes=CAP)
    assert (info.sheet, info.headers) == ("Leads", ["name", "email"])


def rewritten(path, sheet_xml) -> str:
    """The workbook at `path` with its first sheet's XML passed through `sheet_xml`."""
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet_xml(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w") as book:
        for name, content in parts.items():
            book.writestr(name, content)
    return path


def test_a_sheet_broken_midway_refuses_the_file_where_it_breaks(tmp_path):
    book = openpyxl.Workbook()
    for number in range(2000):
        book.active.append(["name", number] if number else ["姓名", "编号"])
    book.save(tmp_path / "cut.xlsx")
    path = rewritten(tmp_path / "cut.xlsx", lambda xml: xml[:len(xml) // 2])
    info = sniff(path, max_bytes=CAP)
    assert info.headers == ["姓名", "编号"]
    with pytest.raises(Invalid) as refused:
        list(open_rows(path, info))
    assert "cannot be read" in refused.value.errors["file"]


def test_rows_start_at_the_first_that_is_not_blank_and_a_wrong_dimension_cuts_nothing(tmp_path):
    book = openpyxl.Workbook()
    book.active["A3"], book.active["B3"] = "姓名", "手机"
    book.active.append(["张伟", 13800138000])
    book.active.append(["李娜", 13900139000])
    book.save(tmp_path / "book.xlsx")
    path = rewritten(tmp_path / "book.xlsx", lambda xml: xml.replace(b'ref="A3:B5"', b'ref="A3:B4"'))
    info, rows = read(path)
    assert (info.headers, info.total_rows) == (["姓名", "手机"], 1)  # the count is the file's claim
    assert rows == [["张伟", "13800138000"], ["李娜", "13900139000"]]
