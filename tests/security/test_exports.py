"""Issue 14, "Exports": no CSV or XLSX the app writes carries a live formula, export by
export (receipts and allocations CSV; summary CSV and XLSX on the month page, for the bank
reviewer and through the API; the portfolio CSV and XLSX on the page and the API).

Before: a client named ``=HYPERLINK("http://x","y")`` came back raw in the receipts CSV, and
a firm's name was written as a formula cell in the summary, review and portfolio XLSX."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from esfca.exports import FORMULA_STARTS, CsvWriter, cell, safe_text, xlsx_append
from esfca.services import allocation_create, receipt_record
from esfca.summaries import documents
from esfca.summaries.figures import summary_detail
from esfca.summaries.services import summary_file
from exporters.models import Firm
from tests.esfca.views.world import make_world
from tests.security import clients

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://x","y")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE = (HYPERLINK, DDE, "+1", "-2+3", "\tTabbed Ltd", "\rReturned Ltd")
FIRM_NAME = HYPERLINK


def test_the_rule_quotes_text_that_starts_like_a_formula_and_leaves_numbers_alone():
    for text in HOSTILE:
        assert safe_text(text) == "'" + text
    for text in ("Acme Inc.", "", "1+1", " =x", "'=x", "O'Brien", "12.00"):
        assert safe_text(text) == text
    assert cell(Decimal("-12.00")) == Decimal("-12.00")
    assert cell(-3) == -3
    assert cell(None) == ""
    assert cell("-12.00") == "'-12.00"  # text is text: amounts must be passed as numbers

    out = io.StringIO()
    CsvWriter(out, lineterminator="\n").writerow([Decimal("-12.00"), "-12.00", HYPERLINK, 7])
    assert out.getvalue() == '-12.00,\'-12.00,"\'=HYPERLINK(""http://x"",""y"")",7\n'

    sheet = Workbook().active
    xlsx_append(sheet, [HYPERLINK, "#N/A", Decimal("-12.00"), None])
    first, error_like, number, empty = sheet[1]
    assert (first.data_type, first.value) == ("s", "'" + HYPERLINK)
    assert (error_like.data_type, error_like.value) == ("s", "#N/A")  # not an error cell
    assert (number.data_type, number.value) == ("n", Decimal("-12.00"))
    assert empty.value is None


# --- the files, as downloaded ---------------------------------------------------------------


def csv_cells(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def assert_csv_is_inert(rows: list[list[str]]) -> None:
    """No cell starts like a formula, except a plain number (a negative figure stays one)."""
    for row in rows:
        for value in row:
            if value.startswith(FORMULA_STARTS):
                assert re.fullmatch(r"-\d+(\.\d+)?", value), (row, value)


def assert_xlsx_is_inert(body: bytes) -> list:
    """No formula and no error cell in any sheet; every text cell a string that does not
    start like a formula. Returns every cell's value."""
    book = load_workbook(io.BytesIO(body))
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for c in row:
                assert c.data_type in ("s", "n"), (sheet.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert c.data_type == "s"
                    assert not c.value.startswith(FORMULA_STARTS), (c.coordinate, c.value)
                values.append(c.value)
    return values


@pytest.fixture
def hostile(db):
    """The web world with a firm named like a formula, and last month's receipts and
    allocations naming clients and payees like formulas (references too), filed."""
    world = make_world(file_last_month=False)
    Firm.objects.filter(pk=world.firm.pk).update(name=FIRM_NAME)
    world.firm.refresh_from_db()
    day = world.last_month + timedelta(days=1)
    for n, text in enumerate(HOSTILE):
        receipt_record(
            firm=world.firm, actor=world.officer, reference=f"{text} R{n}", value_date=day,
            amount=Decimal("100.00"), currency="USD", client_name=text, client_country="US",
            purpose_code="9184",
        )  # fmt: skip
        allocation_create(
            firm=world.firm, actor=world.officer, reference=f"{text} A{n}", value_date=day,
            category="cloud_infrastructure", amount=Decimal("1.00"), currency="USD",
            payee_name=text, payee_country="US",
        )  # fmt: skip
    world.summary = summary_file(firm=world.firm, month=world.last_month, actor=world.officer)
    world.review = world.summary.reviews.get(bank=world.bank)
    return world


def _body(response) -> bytes:
    assert response.status_code == 200, response.content[:300]
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def test_receipts_csv(hostile):
    rows = csv_cells(
        _body(clients.web(hostile.officer).get(f"/firms/{hostile.firm.pk}/receipts/export.csv"))
    )
    assert_csv_is_inert(rows)
    header = rows[0]
    by_reference = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    for n, text in enumerate(HOSTILE):
        row = by_reference[safe_text(f"{text} R{n}")]
        assert row["client_name"] == "'" + text
        assert row["amount"] == "100.00"  # a number stays a number


def test_allocations_csv(hostile):
    rows = csv_cells(
        _body(clients.web(hostile.officer).get(f"/firms/{hostile.firm.pk}/allocations/export.csv"))
    )
    assert_csv_is_inert(rows)
    payees = {row[rows[0].index("payee_name")] for row in rows[1:]}
    assert {"'" + text for text in HOSTILE} <= payees


def _summary_downloads(world) -> dict[str, bytes]:
    month = f"{world.last_month:%Y-%m}"
    web = clients.web(world.officer)
    api = clients.api(world.officer)
    base = f"/api/v1/firms/{world.firm.pk}/summaries/{month}/download/"
    review = f"/review/summaries/{world.review.pk}/download."
    return {
        "month page csv": _body(web.get(f"/firms/{world.firm.pk}/months/{month}/download.csv")),
        "month page xlsx": _body(web.get(f"/firms/{world.firm.pk}/months/{month}/download.xlsx")),
        "api csv": _body(api.get(base, {"format": "csv"})),
        "api xlsx": _body(api.get(base, {"format": "xlsx"})),
        "review csv": _body(clients.web(world.reviewer).get(review + "csv")),
        "review xlsx": _body(clients.web(world.reviewer).get(review + "xlsx")),
    }


def test_summary_and_review_csv_and_xlsx(hostile):
    for name, body in _summary_downloads(hostile).items():
        if name.endswith("csv"):
            rows = csv_cells(body)
            assert_csv_is_inert(rows)
            assert ["summary", "", "firm_name", "", "'" + FIRM_NAME] in rows, name
        else:
            values = assert_xlsx_is_inert(body)
            assert "'" + FIRM_NAME in values, name


def test_portfolio_csv_and_xlsx(hostile):
    month = f"{hostile.last_month:%Y-%m}"
    web, api = clients.web(hostile.reviewer), clients.api(hostile.reviewer)
    url = f"/api/v1/banks/{hostile.bank.code}/portfolio/{month}/"
    for body in (
        _body(web.get("/review/portfolio/download.csv", {"month": month})),
        _body(api.get(url, {"format": "csv"})),
    ):
        rows = csv_cells(body)
        assert_csv_is_inert(rows)
        assert "'" + FIRM_NAME in [row[rows[0].index("firm_name")] for row in rows[1:]]
    for body in (
        _body(web.get("/review/portfolio/download.xlsx", {"month": month})),
        _body(api.get(url, {"format": "xlsx"})),
    ):
        assert "'" + FIRM_NAME in assert_xlsx_is_inert(body)


def test_a_negative_figure_stays_a_number(hostile):
    """The summary's figures are numbers, so a negative one is not quoted (CSV) and is a
    number cell (XLSX); the firm's name beside it is."""
    payload = summary_detail(firm=hostile.firm, month=hostile.last_month)
    next(c for c in payload["currencies"] if c["currency"] == "USD")["adjustments"] = "-12.00"
    rows = csv_cells(documents.summary_csv(payload))
    assert_csv_is_inert(rows)
    assert ["currency", "USD", "adjustments", "", "-12.00"] in rows
    book = load_workbook(io.BytesIO(documents.summary_xlsx(payload)))
    sheet = book["Currencies"]
    header = [c.value for c in sheet[1]]
    usd = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "USD")
    figure = usd[header.index("adjustments")]
    assert (figure.data_type, figure.value) == ("n", -12)
