"""Loading a month's rows."""

from decimal import Decimal

import pytest
from django.db import connection

from esfca.summaries.loading import RECEIPT_FIELDS, fetch_rows

pytestmark = pytest.mark.django_db


def test_plain_cursor_rows_equal_the_orm_rows(world, monkeypatch):
    """PostgreSQL reads the month on a plain cursor; the ORM path (SQLite) gives the same."""
    from esfca.models import Receipt

    queryset = Receipt.objects.filter(firm=world.firm).order_by("value_date", "id")
    fast = fetch_rows(queryset, RECEIPT_FIELDS, "ReceiptRow")
    monkeypatch.setattr(connection, "vendor", "orm-path")
    slow = fetch_rows(queryset, RECEIPT_FIELDS, "ReceiptRow")
    assert len(fast) == 5
    assert [tuple(r) for r in fast] == [tuple(r) for r in slow]
    assert fast[1].reference == "OCT-1" and fast[1].amount == Decimal("4000.00")
    assert fast[1].converted_on == fast[1].value_date
