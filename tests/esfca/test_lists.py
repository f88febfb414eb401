"""esfca.lists: a firm's movement lists, as the API's pages and the web's tables show them."""

from datetime import date

import pytest
from django.http import QueryDict

from esfca import lists

from .conftest import open_firm
from .test_allocations import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipts():
    """Three receipts of one firm (two on one day, one in October), one of another firm."""
    firm = open_firm()
    made = [
        fund(firm, amount="100.00", reference="NOV-A", day=date(2025, 11, 4)),
        fund(firm, amount="100.00", reference="OCT", day=date(2025, 10, 30)),
        fund(firm, amount="100.00", reference="NOV-B", day=date(2025, 11, 4)),
    ]
    fund(open_firm(), amount="100.00", reference="OTHER", day=date(2025, 11, 4))
    return firm, made


def references(rows) -> list[str]:
    return [row.reference for row in rows]


def test_oldest_first_by_default_newest_first_when_asked(receipts):
    firm, _ = receipts
    assert references(lists.movements(lists.RECEIPTS, firm)) == ["OCT", "NOV-A", "NOV-B"]
    newest = lists.movements(lists.RECEIPTS, firm, newest_first=True)
    assert references(newest) == ["NOV-B", "NOV-A", "OCT"]


def test_the_month_window(receipts):
    firm, _ = receipts
    november = lists.movements(lists.RECEIPTS, firm, month=(2025, 11))
    assert references(november) == ["NOV-A", "NOV-B"]
    assert references(lists.movements(lists.RECEIPTS, firm, month=(2025, 9))) == []


def test_accounts_and_banks_come_in_the_same_query(receipts, django_assert_num_queries):
    firm, made = receipts
    with django_assert_num_queries(1):
        rows = list(lists.movements(lists.RECEIPTS, firm, with_accounts=True))
        banks = {row.esfca.bank.code for row in rows}
    assert banks == {made[0].esfca.bank.code}


def test_the_web_filters_newest_first(receipts):
    firm, _ = receipts

    def table(query: str) -> list[str]:
        return references(lists.filtered(lists.ReceiptFilter, firm, QueryDict(query)).qs)

    assert table("") == ["NOV-B", "NOV-A", "OCT"]
    assert table("month=2025-11") == ["NOV-B", "NOV-A"]
    assert table("month=2025-1") == []
    assert table("month=November") == []
    assert table("currency=USD&country=US") == ["NOV-B", "NOV-A", "OCT"]
    assert table("client=nobody") == []
