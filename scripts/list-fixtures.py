#!/usr/bin/env python3
"""Writes the legacy-format list files the importer's tests read:
dialer/tests/fixtures/arrears.xls (Excel 97-2003, BIFF8) and arrears.ods
(OpenDocument), both with the payment_reminder campaign's Chinese headers, an
Excel date cell, a number cell holding a phone number, and rows the importer
must reject or filter, each at a known row number.

The .xls needs the `xlwt` package (pip install xlwt); the .ods is written with
the standard library. Run from the repository root:
    python3 scripts/list-fixtures.py
"""
import datetime
import pathlib
import zipfile

OUT = pathlib.Path("dialer/tests/fixtures")
HEADER = ["手机号码", "客户姓名", "欠费金额", "缴费截止日", "号码状态", "拒绝提醒"]
DUE = datetime.date(2026, 12, 7)
# Row 2 typed cells; 3 text forms; 4 no phone; 5 an amount in words; 6 filtered (< 10).
ROWS = [
    [13800138000, "张三", 1234.5, DUE, "正常", "否"],
    ["+86 139 0013 9000", "李四", 88, "2026/12/08", "正常", "N"],
    ["", "王五", 50, DUE, "正常", "否"],
    [13700137000, "赵六", "五十", DUE, "正常", "否"],
    [13600136000, "钱七", 5, DUE, "正常", "否"],
]


def write_xls(path):
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("欠费")
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for col, text in enumerate(HEADER):
        sheet.write(0, col, text)
    for r, row in enumerate(ROWS, start=1):
        for col, value in enumerate(row):
            if isinstance(value, datetime.date):
                sheet.write(r, col, value, dates)
            else:
                sheet.write(r, col, value)
    book.save(str(path))


def ods_cell(value):
    if isinstance(value, datetime.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                f"<text:p>{value.isoformat()}</text:p></table:table-cell>")
    if isinstance(value, (int, float)):
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    if value == "":
        return "<table:table-cell/>"
    return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'


def write_ods(path):
    rows = [HEADER] + ROWS
    body = "".join("<table:table-row>" + "".join(ods_cell(v) for v in row) + "</table:table-row>"
                   for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="欠费">'
        f"{body}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.2"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write_xls(OUT / "arrears.xls")
    write_ods(OUT / "arrears.ods")
