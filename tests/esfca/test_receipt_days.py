"""The stored receipt days behind a month's §2 position: a receipt reads the same few rows
at the first and the hundredth of its month, and the days always equal a recompute from
the receipts (every esfca test checks that too, after it ran: see conftest)."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from esfca.models import ReceiptDay
from esfca.services import movement_reverse, receipt_record, receipts_record_many
from esfca.services.days import receipt_days_verify

from .conftest import open_firm, set_rate

pytestmark = pytest.mark.django_db
TODAY = date(2025, 11, 30)


def record(firm, reference, day, amount="1000.00", currency="USD", **more):
    return receipt_record(
        firm=firm, actor=None, reference=reference, value_date=day, amount=D(amount),
        currency=currency, conversion_rate=D("280.5"), client_name="Gulf Retail LLC",
        client_country="AE", today=TODAY, **more,
    )[0]  # fmt: skip


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_a_receipt_costs_the_same_queries_at_the_second_and_the_hundred_and_second():
    firm = open_firm()
    record(firm, "R-0", date(2025, 11, 3))
    early = queries_of(lambda: record(firm, "R-1", date(2025, 11, 3)))
    row = {"amount": D("250"), "currency": "USD", "conversion_rate": D("280.5"),
           "client_name": "Acme", "client_country": "US"}  # fmt: skip
    rows = [
        {**row, "reference": f"B-{n}", "value_date": date(2025, 11, 3 + n % 20)} for n in range(100)
    ]
    receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)
    late = queries_of(lambda: record(firm, "R-2", date(2025, 11, 25)))
    assert late == early
    assert ReceiptDay.objects.filter(firm=firm).count() <= 21


def test_the_days_follow_records_imports_backdating_and_reversals():
    firm = open_firm(currencies=("USD", "EUR"))
    for day in (date(2025, 11, 3), date(2025, 11, 10)):
        set_rate("EUR", day, "301.2")
        set_rate("USD", day, "280.1")
    record(firm, "R-1", date(2025, 11, 10))
    eur = record(firm, "R-2", date(2025, 11, 10), amount="900.00", currency="EUR")
    record(firm, "R-3", date(2025, 11, 3))  # backdated: before R-1 in its month
    movement_reverse(
        firm=firm, actor=None, kind="receipt", movement_id=eur.pk, reference="REV-1",
        reason="typed twice", today=TODAY,
    )  # fmt: skip
    assert receipt_days_verify() == []
    usd = ReceiptDay.objects.filter(firm=firm, currency="USD")
    assert sorted(usd.values_list("value_date", "receipts", "amount")) == [
        (date(2025, 11, 3), 1, D("1000.00")),
        (date(2025, 11, 10), 1, D("1000.00")),
    ]
    assert not ReceiptDay.objects.filter(firm=firm, currency="EUR").exists()  # reversed away


def test_a_tampered_day_is_reported_by_the_check_and_its_command():
    firm = open_firm()
    record(firm, "R-1", date(2025, 11, 10))
    call_command("esfca_verify")
    day = ReceiptDay.objects.get(firm=firm)
    ReceiptDay.objects.filter(pk=day.pk).update(retained=D("1.00"))
    problems = receipt_days_verify()
    assert len(problems) == 1 and f"firm {firm.pk}, 2025-11-10" in problems[0]
    with pytest.raises(CommandError, match="1 problems"):
        call_command("esfca_verify")
    ReceiptDay.objects.filter(pk=day.pk).update(retained=day.retained)
    assert receipt_days_verify() == []
