"""Cells of the files the app writes for spreadsheets (CSV and XLSX), safe to open.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a
tab or a carriage return) as a formula: a client named ``=HYPERLINK("http://x","y")`` or
``@SUM(1+1)*cmd|' /C calc'!A0`` would run in the reviewer's spreadsheet. OWASP's rule
("CSV injection"): such a cell gets a leading single quote, which makes it text.

The rule is decided by type, once, here: every ``str`` is text and is neutralised; numbers
(``Decimal``, ``int``) are written as numbers and never touched, so a negative amount stays
``-12.00``. Exports therefore pass amounts, rates and counts as numbers, never as text,
and every text field (names, references, payees, purposes, messages) as ``str``. XLSX
cells holding text are written as strings (``data_type "s"``), so that not even a quote
the spreadsheet strips can turn them into a formula or an error value.
"""

import csv
from datetime import date, datetime
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Text that no spreadsheet reads as a formula: a leading quote when it would."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(value):
    """One cell's value: text neutralised, numbers as they are, dates as ISO, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return safe_text(str(value))  # any other value is written as its text: as text


class CsvWriter:
    """``csv.writer`` whose every cell goes through ``cell``."""

    def __init__(self, out, **options):
        self._writer = csv.writer(out, **options)

    def writerow(self, row):
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


def xlsx_append(sheet, row) -> None:
    """Append ``row`` to an openpyxl sheet: numbers as numbers, text as (safe) strings,
    nothing for None or empty text."""
    values = [None if value is None or value == "" else cell(value) for value in row]
    sheet.append(values)
    line = sheet.max_row
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            sheet.cell(row=line, column=column).data_type = "s"
