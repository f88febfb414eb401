"""A summary as a document: CSV (machine-readable), XLSX (numbers as numbers) and PDF (a
document a bank files). All three render the same payload the API returns, so their
figures are the JSON's figures. CSV and XLSX cells go through ``esfca.exports``: figures
as numbers, every text (a firm's name, a flag's message) safe from formula injection.
"""

import io
from decimal import Decimal

from django.template.loader import render_to_string

from esfca.exports import CsvWriter, xlsx_append

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"

# Per-currency scalar figures, in document order: (key, label, kind).
FIGURES = (
    ("opening", "Opening balance", "money"),
    ("receipts_count", "Receipts (count)", "count"),
    ("receipts", "Receipts (gross)", "money"),
    ("retained", "Retained", "money"),
    ("converted", "Converted", "money"),
    ("pkr_credited", "PKR credited", "pkr"),
    ("tax_withheld", "Tax withheld (PKR)", "pkr"),
    ("allocations_total", "Allocations", "money"),
    ("conversions", "Conversions to PKR", "money"),
    ("transfers_in", "Transfers in (own ESFCAs)", "money"),
    ("transfers_out", "Transfers out (own ESFCAs)", "money"),
    ("adjustments", "Other ledger movements", "money"),
    ("closing", "Closing balance", "money"),
    ("ledger_closing", "Ledger balance at month end", "money"),
    ("allowed_retention", "Allowed retention (at recording)", "money"),
    ("retention_ratio", "Retention ratio achieved", "ratio"),
    ("retention_limit_ratio", "Retention limit ratio", "ratio"),
)
HEADER_FIELDS = (
    ("firm", "Firm id"),
    ("firm_name", "Firm"),
    ("ntn", "NTN"),
    ("banks", "Banks"),
    ("month", "Month"),
    ("revision", "Revision"),
    ("status", "Status"),
    ("sha256", "SHA-256"),
    ("filed_by", "Filed by"),
    ("filed_at", "Filed at"),
    ("due_date", "Filing due"),
)


def filename(payload: dict, extension: str) -> str:
    return f"esfca-summary-{payload['firm']}-{payload['month']}-r{payload['revision']}.{extension}"


def _header_value(payload: dict, key: str) -> str:
    value = payload.get(key)
    if key == "banks":
        return " ".join(value or [])
    return "" if value is None else str(value)


MONEY_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.0000"
COUNT_FORMAT = "0"


def _number(kind: str, value):
    if value is None or value == "":
        return None, None
    if kind == "count":
        return int(value), COUNT_FORMAT
    if kind == "ratio":
        return Decimal(value), RATIO_FORMAT
    return Decimal(value), MONEY_FORMAT


# --- CSV ------------------------------------------------------------------------------------


def summary_rows(payload: dict) -> list[list]:
    """The tidy table: section, currency, metric, key, value (figures as Decimal or int,
    written as plain decimals; everything else text)."""
    rows = [["section", "currency", "metric", "key", "value"]]
    for key, _ in HEADER_FIELDS:
        rows.append(["summary", "", key, "", _header_value(payload, key)])
    for c in payload["currencies"]:
        cur = c["currency"]
        for key, _, kind in FIGURES:
            rows.append(["currency", cur, key, "", _number(kind, c.get(key))[0]])
        for category, amount in c["allocations"].items():
            rows.append(["currency", cur, "allocations", category, Decimal(amount)])
        for item in c["by_client_country"]:
            country = item["country"]
            rows.append(
                ["currency", cur, "receipts_by_client_country", country, Decimal(item["amount"])]
            )
            rows.append(
                ["currency", cur, "receipts_count_by_client_country", country, item["count"]]
            )
        for item in c["by_purpose_code"]:
            code = item["purpose_code"]
            rows.append(
                ["currency", cur, "receipts_by_purpose_code", code, Decimal(item["amount"])]
            )
            rows.append(["currency", cur, "receipts_count_by_purpose_code", code, item["count"]])
    for f in payload["flags"]:
        rows.append(["flag", "", f["code"], f["object"], f["message"]])
    return rows


def summary_csv(payload: dict) -> bytes:
    out = io.StringIO()
    CsvWriter(out, lineterminator="\r\n").writerows(summary_rows(payload))
    return out.getvalue().encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------------


def _sheet(workbook, title: str, header: list[str], rows: list[list], formats: dict | None = None):
    from openpyxl.styles import Font

    sheet = workbook.create_sheet(title)
    xlsx_append(sheet, header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        xlsx_append(sheet, row)
    for col, fmt in (formats or {}).items():
        for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = fmt
    sheet.freeze_panes = "A2"
    for idx, name in enumerate(header, start=1):
        width = max([len(str(name))] + [len(str(r[idx - 1] or "")) for r in rows] + [8])
        sheet.column_dimensions[sheet.cell(row=1, column=idx).column_letter].width = min(
            width + 2, 60
        )
    return sheet


def summary_xlsx(payload: dict) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(
        workbook,
        "Summary",
        ["Field", "Value"],
        [[label, _header_value(payload, key)] for key, label in HEADER_FIELDS],
    )
    sheet = workbook.create_sheet("Currencies")
    xlsx_append(sheet, ["currency", *(key for key, _, _ in FIGURES)])
    for c in payload["currencies"]:
        xlsx_append(sheet, [c["currency"], *(_number(k, c.get(key))[0] for key, _, k in FIGURES)])
    for col, (_, _, kind) in enumerate(FIGURES, start=2):
        fmt = {"count": COUNT_FORMAT, "ratio": RATIO_FORMAT}.get(kind, MONEY_FORMAT)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = fmt
        sheet.column_dimensions[sheet.cell(row=1, column=col).column_letter].width = 18
    sheet.freeze_panes = "B2"
    _sheet(
        workbook,
        "Allocations",
        ["currency", "category", "amount"],
        [
            [c["currency"], category, Decimal(amount)]
            for c in payload["currencies"]
            for category, amount in c["allocations"].items()
        ],
        {3: MONEY_FORMAT},
    )
    _sheet(
        workbook,
        "By client country",
        ["currency", "country", "receipts_count", "amount"],
        [
            [c["currency"], i["country"], i["count"], Decimal(i["amount"])]
            for c in payload["currencies"]
            for i in c["by_client_country"]
        ],
        {3: COUNT_FORMAT, 4: MONEY_FORMAT},
    )
    _sheet(
        workbook,
        "By purpose code",
        ["currency", "purpose_code", "receipts_count", "amount"],
        [
            [c["currency"], i["purpose_code"], i["count"], Decimal(i["amount"])]
            for c in payload["currencies"]
            for i in c["by_purpose_code"]
        ],
        {3: COUNT_FORMAT, 4: MONEY_FORMAT},
    )
    _sheet(
        workbook,
        "Flags",
        ["rule", "code", "object", "message"],
        [[f.get("rule"), f["code"], f["object"], f["message"]] for f in payload["flags"]],
    )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------------


def grouped(value: str) -> str:
    """``"1234567.50"`` → ``"1,234,567.50"`` (text to text: no float on the way)."""
    if value is None or value == "":
        return ""
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    whole, _, cents = digits.partition(".")
    parts = []
    while len(whole) > 3:
        parts.insert(0, whole[-3:])
        whole = whole[:-3]
    parts.insert(0, whole)
    return sign + ",".join(parts) + (f".{cents}" if cents else "")


def pdf_context(payload: dict) -> dict:
    currencies = []
    for c in payload["currencies"]:
        currencies.append(
            {
                "currency": c["currency"],
                "figures": [
                    {
                        "label": label,
                        "value": str(c.get(key))
                        if kind in ("count", "ratio")
                        else grouped(c.get(key)),
                        "unit": "PKR"
                        if kind == "pkr"
                        else ("" if kind != "money" else c["currency"]),
                    }
                    for key, label, kind in FIGURES
                    if c.get(key) is not None
                ],
                "allocations": [(k, grouped(v)) for k, v in c["allocations"].items()],
                "by_client_country": [
                    {**i, "amount": grouped(i["amount"])} for i in c["by_client_country"]
                ],
                "by_purpose_code": [
                    {**i, "amount": grouped(i["amount"])} for i in c["by_purpose_code"]
                ],
            }
        )
    return {"s": payload, "currencies": currencies, "banks": " ".join(payload.get("banks") or [])}


def summary_pdf(payload: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string("esfca/summary_pdf.html", pdf_context(payload))
    return HTML(string=html).write_pdf()


# --- bank portfolio -------------------------------------------------------------------------

PORTFOLIO_COLUMNS = (
    ("opening", "money"),
    ("receipts_count", "count"),
    ("receipts", "money"),
    ("retained", "money"),
    ("converted", "money"),
    ("allocations_total", "money"),
    ("conversions", "money"),
    ("closing", "money"),
    ("retention_ratio", "ratio"),
    ("retention_limit_ratio", "ratio"),
)
PORTFOLIO_HEADER = (
    "bank",
    "month",
    "firm",
    "firm_name",
    "ntn",
    "status",
    "revision",
    "flag_count",
    "flag_codes",
    "currency",
    *(key for key, _ in PORTFOLIO_COLUMNS),
)


def portfolio_rows(data: dict) -> list[list]:
    """One row per firm and currency (a firm without ESFCA activity: one row, no currency);
    figures as Decimal or int."""
    rows = []
    for firm in data["firms"]:
        head = [
            data["bank"],
            data["month"],
            firm["firm"],
            firm["firm_name"],
            firm["ntn"],
            firm["status"],
            firm["revision"],
            firm["flag_count"],
            " ".join(firm["flag_codes"]),
        ]
        for c in firm["currencies"] or [{"currency": ""}]:
            figures = (_number(kind, c.get(key))[0] for key, kind in PORTFOLIO_COLUMNS)
            rows.append([*head, c["currency"], *figures])
    return rows


def portfolio_csv(data: dict) -> bytes:
    out = io.StringIO()
    writer = CsvWriter(out, lineterminator="\r\n")
    writer.writerow(PORTFOLIO_HEADER)
    writer.writerows(portfolio_rows(data))
    return out.getvalue().encode("utf-8")


def portfolio_xlsx(data: dict) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    offset = len(PORTFOLIO_HEADER) - len(PORTFOLIO_COLUMNS)
    rows = portfolio_rows(data)
    formats = {
        offset + i: {"count": COUNT_FORMAT, "ratio": RATIO_FORMAT}.get(kind, MONEY_FORMAT)
        for i, (_, kind) in enumerate(PORTFOLIO_COLUMNS, start=1)
    }
    sheet = _sheet(workbook, "Portfolio", list(PORTFOLIO_HEADER), rows, formats)
    sheet.freeze_panes = "E2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
