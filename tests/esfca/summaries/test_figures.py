"""The figures of a month (rules.md §5), to the cent, and what they cost in queries."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from esfca.summaries.figures import summary_compute, summary_detail
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
    data = summary_compute(firm=world.firm, month=OCTOBER)
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
    data = summary_compute(firm=world.firm, month=OCTOBER)
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
    november = by_currency(summary_compute(firm=world.firm, month=date(2025, 11, 1)))
    assert november["USD"]["opening"] == "12220.82"
    assert november["USD"]["receipts_count"] == 1


def test_a_month_without_activity_shows_the_balances_carried(world):
    data = summary_compute(firm=world.firm, month=date(2025, 12, 1))
    usd = by_currency(data)["USD"]
    assert usd["opening"] == usd["closing"] == usd["ledger_closing"]
    assert usd["receipts_count"] == 0
    assert usd["allocations"] == {}
    assert usd["retention_ratio"] == "0.0000"


def test_another_firm_s_movements_never_count(world):
    data = summary_compute(firm=world.other_firm, month=OCTOBER)
    assert all(c["receipts_count"] == 0 and c["closing"] == "0.00" for c in data["currencies"])


def test_query_count_does_not_grow_with_receipts(world, django_assert_num_queries):
    with CaptureQueriesContext(connection) as small:
        summary_compute(firm=world.firm, month=OCTOBER)
    for n in range(30):
        receipt(world.firm, f"BULK-{n}", date(2025, 10, 28), "100.00", client_country="GB")
        allocation(world.firm, f"BULK-A-{n}", date(2025, 10, 28), "10.00", "marketing_abroad", "GB")
    with django_assert_num_queries(len(small.captured_queries)):
        data = summary_compute(firm=world.firm, month=OCTOBER)
    assert by_currency(data)["USD"]["receipts_count"] == 32
    assert len(small.captured_queries) <= 12


def test_detail_carries_the_pkr_value_at_month_end(world):
    detail = summary_detail(firm=world.firm, month=OCTOBER, with_revaluation=True)
    usd = {r["currency"]: r for r in detail["revaluation"]}["USD"]
    assert usd["balance"] == "12220.82"
    # Latest USD buying rate on or before 31 October: 281.1000 of the 28th.
    assert (usd["rate"], usd["rate_date"]) == ("281.100000", "2025-10-28")
    assert usd["pkr_value"] == "3435272.50"  # 12,220.82 × 281.1, half up
    assert Decimal(usd["unrealised_gain"]) == Decimal(usd["pkr_value"]) - Decimal(usd["pkr_cost"])
