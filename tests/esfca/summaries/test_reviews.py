"""The bank portfolio: a row per firm of the bank, and what it costs in queries."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from esfca.summaries.reviews import bank_portfolio
from tests.esfca.summaries.conftest import OCTOBER, receipt

pytestmark = pytest.mark.django_db


def test_portfolio_query_count_does_not_grow_with_firms(world, django_assert_num_queries):
    with CaptureQueriesContext(connection) as one:
        bank_portfolio(bank=world.bank, month=OCTOBER)
    from tests.esfca.summaries.conftest import open_firm

    for _ in range(5):
        firm = open_firm(world.bank, currencies=("USD",))
        receipt(firm, "P-1", date(2025, 10, 8), "1000.00")
    with django_assert_num_queries(len(one.captured_queries)):
        data = bank_portfolio(bank=world.bank, month=OCTOBER)
    assert len(data["firms"]) == 6


def test_bank_portfolio_rows(world):
    data = bank_portfolio(bank=world.bank, month=OCTOBER)
    assert data["bank"] == "SCBL"
    assert [f["firm"] for f in data["firms"]] == [world.firm.pk]  # not the other bank's firm
    row = data["firms"][0]
    assert row["status"] == "draft"
    assert row["flag_count"] == 0  # clean data; a draft past its due day is not flagged
    assert row["flag_codes"] == []
    usd = {c["currency"]: c for c in row["currencies"]}["USD"]
    assert usd["closing"] == "12220.82"
    assert usd["retention_ratio"] == "0.5000"
