"""CSV, XLSX and PDF of a summary, each read back and compared with the JSON."""

import csv
import io
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from esfca.models import Allocation
from esfca.summaries import documents, services
from esfca.summaries.figures import summary_detail
from esfca.summaries.reviews import bank_portfolio
from tests.esfca.summaries.conftest import OCTOBER, booked_on, receipt

pytestmark = pytest.mark.django_db


@pytest.fixture
def payload(world):
    """A filed October with a flag, so every section of the documents has content."""
    receipt(world.firm, "NOCODE", date(2025, 10, 28), "1234567.89", purpose_code="")
    Allocation.objects.filter(reference="AWS-1").update(payee_country="LU")
    with booked_on(date(2025, 11, 12)):
        services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    return summary_detail(firm=world.firm, month=OCTOBER)


def keep(artifacts, name: str, content: bytes) -> None:
    if artifacts is not None:
        (artifacts / name).write_bytes(content)


def xlsx_decimal(value) -> Decimal:
    """openpyxl reads numbers back as int/float; its shortest repr is the text written."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_csv_reads_back_to_the_json(payload, artifacts):
    content = documents.summary_csv(payload)
    keep(artifacts, "summary-2025-10.csv", content)
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    meta = {r["metric"]: r["value"] for r in rows if r["section"] == "summary"}
    assert meta["firm"] == str(payload["firm"])
    assert meta["month"] == "2025-10"
    assert meta["sha256"] == payload["sha256"]
    assert meta["status"] == "filed"
    figures = [r for r in rows if r["section"] == "currency"]
    for c in payload["currencies"]:
        mine = [r for r in figures if r["currency"] == c["currency"]]
        scalars = {r["metric"]: r["value"] for r in mine if not r["key"]}
        for key, _, _ in documents.FIGURES:
            assert scalars[key] == str(c[key])
        assert {r["key"]: r["value"] for r in mine if r["metric"] == "allocations"} == c[
            "allocations"
        ]
        by_country = {
            r["key"]: r["value"] for r in mine if r["metric"] == "receipts_by_client_country"
        }
        assert by_country == {i["country"]: i["amount"] for i in c["by_client_country"]}
        by_code = {r["key"]: r["value"] for r in mine if r["metric"] == "receipts_by_purpose_code"}
        assert by_code == {i["purpose_code"]: i["amount"] for i in c["by_purpose_code"]}
    usd = {r["metric"]: r["value"] for r in figures if r["currency"] == "USD" and not r["key"]}
    assert usd["receipts"] == "1258567.89"  # plain decimal: no thousands separator
    flags = [(r["metric"], r["key"]) for r in rows if r["section"] == "flag"]
    assert flags == [(f["code"], f["object"]) for f in payload["flags"]]
    assert ("purpose_code_missing", "receipt:NOCODE") in flags


def test_xlsx_reads_back_to_the_json(payload, artifacts):
    content = documents.summary_xlsx(payload)
    keep(artifacts, "summary-2025-10.xlsx", content)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == [
        "Summary", "Currencies", "Allocations", "By client country", "By purpose code", "Flags"
    ]  # fmt: skip
    meta = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert meta["SHA-256"] == payload["sha256"]
    assert meta["Revision"] == "1"
    sheet = book["Currencies"]
    assert sheet.freeze_panes == "B2"
    header = [c.value for c in sheet[1]]
    rows = {
        row[0]: dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    for c in payload["currencies"]:
        row = rows[c["currency"]]
        for key, _, kind in documents.FIGURES:
            if kind == "count":
                assert row[key] == c[key] and isinstance(row[key], int)
            elif kind == "ratio":
                assert Decimal(str(row[key])).quantize(Decimal("0.0001")) == Decimal(c[key])
            else:
                assert isinstance(row[key], int | float)  # a number, not text
                assert xlsx_decimal(row[key]) == Decimal(c[key])
    assert sheet["B2"].number_format == "#,##0.00"  # opening: money
    assert sheet["C2"].number_format == "0"  # receipts_count
    allocations = {
        (cur, cat): xlsx_decimal(amount)
        for cur, cat, amount in book["Allocations"].iter_rows(min_row=2, values_only=True)
    }
    assert allocations == {
        (c["currency"], k): Decimal(v)
        for c in payload["currencies"]
        for k, v in c["allocations"].items()
    }
    assert book["Allocations"].freeze_panes == "A2"
    flags = [row[1] for row in book["Flags"].iter_rows(min_row=2, values_only=True)]
    assert flags == [f["code"] for f in payload["flags"]]


def test_pdf_reads_back_to_the_json(payload, artifacts):
    content = documents.summary_pdf(payload)
    keep(artifacts, "summary-2025-10.pdf", content)
    assert content.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode("utf-8")
    flat = " ".join(text.split())
    for needle in (
        "Karachi Code Works",
        "1234567-8",  # NTN
        "SCBL",
        "2025-10",
        payload["sha256"],
        "filed",
    ):
        assert needle in flat
    pages = int(subprocess.run(
        ["pdfinfo", "-"], input=content, capture_output=True, check=True
    ).stdout.decode().split("Pages:")[1].split()[0])  # fmt: skip
    assert pages >= 1
    for n in range(1, pages + 1):
        assert f"Page {n} of {pages}" in flat
    for c in payload["currencies"]:
        for key, label, kind in documents.FIGURES:
            value = str(c[key]) if kind in ("count", "ratio") else documents.grouped(c[key])
            assert f"{label} {value}" in flat, (label, value)
        for category, amount in c["allocations"].items():
            assert f"{category} {documents.grouped(amount)} {c['currency']}" in flat
    assert "1,258,567.89 USD" in flat
    for f in payload["flags"]:
        assert f["code"] in flat


def test_grouped_is_text_to_text():
    assert documents.grouped("1234567.50") == "1,234,567.50"
    assert documents.grouped("-1000.00") == "-1,000.00"
    assert documents.grouped("999.99") == "999.99"
    assert documents.grouped("0.00") == "0.00"


def test_portfolio_documents(world, artifacts):
    data = bank_portfolio(bank=world.bank, month=OCTOBER)
    content = documents.portfolio_csv(data)
    keep(artifacts, "portfolio-SCBL-2025-10.csv", content)
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [(r["firm"], r["currency"]) for r in rows] == [
        (str(world.firm.pk), "EUR"),
        (str(world.firm.pk), "USD"),
    ]
    usd = rows[1]
    assert (usd["closing"], usd["retention_ratio"], usd["status"]) == (
        "12220.82",
        "0.5000",
        "draft",
    )
    book = load_workbook(io.BytesIO(documents.portfolio_xlsx(data)))
    keep(artifacts, "portfolio-SCBL-2025-10.xlsx", documents.portfolio_xlsx(data))
    sheet = book["Portfolio"]
    header = [c.value for c in sheet[1]]
    values = [
        dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert xlsx_decimal(values[1]["closing"]) == Decimal("12220.82")
    assert values[1]["receipts_count"] == 2
