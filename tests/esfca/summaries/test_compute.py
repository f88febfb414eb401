"""The figures of a month (rules.md §5), to the cent, and what they cost in queries."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from esfca.summaries import selectors
from ledger.models import Account, Entry
from tests.esfca.summaries.conftest import OCTOBER, allocation, receipt

pytestmark = pytest.mark.django_db


def by_currency(data):
    return {c["currency"]: c for c in data["currencies"]}


def ledger_balance_at(firm, currency: str, day: date) -> Decimal:
    """The ESFCA balance at the end of ``day``, summed straight from the ledger's entries."""
    sums = Entry.objects.filter(
        account__owner=firm,
        account__kind=Account.Kind.ESFCA,
        currency=currency,
        transaction__value_date__lte=day,
    ).aggregate(dr=Sum("debit"), cr=Sum("credit"))
    return (sums["dr"] or 0) - (sums["cr"] or 0)


def test_worked_month_figures_to_the_cent(world):
    data = selectors.summary_compute(firm=world.firm, month=OCTOBER)
    assert data["firm"] == world.firm.pk
    assert data["month"] == "2025-10"
    assert data["banks"] == ["SCBL"]
    usd, eur = by_currency(data)["USD"], by_currency(data)["EUR"]
    assert {k: usd[k] for k in usd if k not in ("by_client_country", "by_purpose_code")} == {
        "currency": "USD",
        "opening": "3990.00",
        "receipts_count": 2,
        "receipts": "24000.00",
        "retained": "12000.00",
        "converted": "12000.00",
        "pkr_credited": "3350923.98",
        "tax_withheld": "16837.35",
        "allocations": {"cloud_infrastructure": "2500.00", "software_subscriptions": "1000.50"},
        "allocations_total": "3500.50",
        "conversions": "500.00",
        "transfers_in": "231.32",
        "transfers_out": "0.00",
        "adjustments": "0.00",
        "closing": "12220.82",
        "ledger_closing": "12220.82",
        "allowed_retention": "12000.00",
        "retention_ratio": "0.5000",
        "allowed_ratio": "0.5000",
        "retention_limit_ratio": "0.5000",
        "retention_limit_basis": "calendar_month",
        "retention_limit_floor_usd": "5000.00",
    }
    assert usd["by_client_country"] == [
        {"country": "AE", "count": 1, "amount": "4000.00"},
        {"country": "US", "count": 1, "amount": "20000.00"},
    ]
    assert usd["by_purpose_code"] == [
        {"purpose_code": "9182", "count": 1, "amount": "20000.00"},
        {"purpose_code": "9184", "count": 1, "amount": "4000.00"},
    ]
    assert eur["opening"] == "0.00"
    assert eur["receipts"] == "5000.00"
    assert eur["retained"] == "1000.00"
    assert eur["converted"] == "4000.00"
    assert eur["pkr_credited"] == "1296429.56"
    assert eur["tax_withheld"] == "4064.04"
    assert eur["allocations"] == {}
    assert eur["transfers_out"] == "200.00"
    assert eur["closing"] == "800.00"
    assert eur["retention_ratio"] == "0.2000"
    assert data["flags"] == []


def test_closing_equals_the_ledger_balance_at_month_end(world):
    data = selectors.summary_compute(firm=world.firm, month=OCTOBER)
    for c in data["currencies"]:
        assert Decimal(c["closing"]) == ledger_balance_at(
            world.firm, c["currency"], date(2025, 10, 31)
        )
        # closing = opening + retained − allocations − conversions ± own transfers
        assert Decimal(c["closing"]) == (
            Decimal(c["opening"])
            + Decimal(c["retained"])
            - sum((Decimal(v) for v in c["allocations"].values()), Decimal(0))
            - Decimal(c["conversions"])
            + Decimal(c["transfers_in"])
            - Decimal(c["transfers_out"])
        )
    # The opening of the next month is this closing (November's receipt moved it on).
    november = by_currency(selectors.summary_compute(firm=world.firm, month=date(2025, 11, 1)))
    assert november["USD"]["opening"] == "12220.82"
    assert november["USD"]["receipts_count"] == 1


def test_a_month_without_activity_shows_the_balances_carried(world):
    data = selectors.summary_compute(firm=world.firm, month=date(2025, 12, 1))
    usd = by_currency(data)["USD"]
    assert usd["opening"] == usd["closing"] == usd["ledger_closing"]
    assert usd["receipts_count"] == 0
    assert usd["allocations"] == {}
    assert usd["retention_ratio"] == "0.0000"


def test_another_firm_s_movements_never_count(world):
    data = selectors.summary_compute(firm=world.other_firm, month=OCTOBER)
    assert all(c["receipts_count"] == 0 and c["closing"] == "0.00" for c in data["currencies"])


def test_query_count_does_not_grow_with_receipts(world, django_assert_num_queries):
    with CaptureQueriesContext(connection) as small:
        selectors.summary_compute(firm=world.firm, month=OCTOBER)
    for n in range(30):
        receipt(world.firm, f"BULK-{n}", date(2025, 10, 28), "100.00", client_country="GB")
        allocation(world.firm, f"BULK-A-{n}", date(2025, 10, 28), "10.00", "marketing_abroad", "GB")
    with django_assert_num_queries(len(small.captured_queries)):
        data = selectors.summary_compute(firm=world.firm, month=OCTOBER)
    assert by_currency(data)["USD"]["receipts_count"] == 32
    assert len(small.captured_queries) <= 12


def test_portfolio_query_count_does_not_grow_with_firms(world, django_assert_num_queries):
    with CaptureQueriesContext(connection) as one:
        selectors.bank_portfolio(bank=world.bank, month=OCTOBER)
    from tests.esfca.summaries.conftest import open_firm

    for _ in range(5):
        firm = open_firm(world.bank, currencies=("USD",))
        receipt(firm, "P-1", date(2025, 10, 8), "1000.00")
    with django_assert_num_queries(len(one.captured_queries)):
        data = selectors.bank_portfolio(bank=world.bank, month=OCTOBER)
    assert len(data["firms"]) == 6


def test_bank_portfolio_rows(world):
    data = selectors.bank_portfolio(bank=world.bank, month=OCTOBER)
    assert data["bank"] == "SCBL"
    assert [f["firm"] for f in data["firms"]] == [world.firm.pk]  # not the other bank's firm
    row = data["firms"][0]
    assert row["status"] == "draft"
    assert row["flag_count"] == 0  # clean data; a draft past its due day is not flagged
    assert row["flag_codes"] == []
    usd = {c["currency"]: c for c in row["currencies"]}["USD"]
    assert usd["closing"] == "12220.82"
    assert usd["retention_ratio"] == "0.5000"


def test_month_parse():
    assert selectors.month_parse("2025-11") == date(2025, 11, 1)
    for bad in ("2025-13", "2025-1", "25-11", "2025-11-01", "abc", ""):
        with pytest.raises(Exception) as caught:
            selectors.month_parse(bad)
        assert getattr(caught.value, "code", None) == "validation_error"


def test_detail_carries_the_pkr_value_at_month_end(world):
    detail = selectors.summary_detail(firm=world.firm, month=OCTOBER, with_revaluation=True)
    usd = {r["currency"]: r for r in detail["revaluation"]}["USD"]
    assert usd["balance"] == "12220.82"
    # Latest USD buying rate on or before 31 October: 281.1000 of the 28th.
    assert (usd["rate"], usd["rate_date"]) == ("281.100000", "2025-10-28")
    assert usd["pkr_value"] == "3435272.50"  # 12,220.82 × 281.1, half up
    assert Decimal(usd["unrealised_gain"]) == Decimal(usd["pkr_value"]) - Decimal(usd["pkr_cost"])


def test_plain_cursor_rows_equal_the_orm_rows(world, monkeypatch):
    """PostgreSQL reads the month on a plain cursor; the ORM path (SQLite) gives the same."""
    from esfca.models import Receipt

    queryset = Receipt.objects.filter(firm=world.firm).order_by("value_date", "id")
    fast = selectors._rows(queryset, selectors.RECEIPT_FIELDS, "ReceiptRow")
    monkeypatch.setattr(connection, "vendor", "orm-path")
    slow = selectors._rows(queryset, selectors.RECEIPT_FIELDS, "ReceiptRow")
    assert len(fast) == 5
    assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
    assert fast[1].reference == "OCT-1" and fast[1].amount == Decimal("4000.00")
    assert fast[1].converted_on == fast[1].value_date
