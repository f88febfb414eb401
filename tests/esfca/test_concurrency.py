"""Real parallel writers on PostgreSQL: a firm's headroom and balance are never shared twice."""

import threading
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection, connections

from esfca.models import Allocation, Receipt
from esfca.services import allocation_create, receipt_record
from ledger.errors import InsufficientFunds

from .conftest import esfca_balance, open_firm

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = date(2025, 11, 30)


def run_in_parallel(n, work):
    """Start ``n`` threads at one barrier; each gets its own database connection."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def target(i):
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # collected and asserted by the caller
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_simultaneous_receipts_never_take_the_same_headroom():
    assert connection.vendor == "postgresql", "run with `make test` (PostgreSQL row locks)"
    firm = open_firm()

    def record(i):
        receipt, _ = receipt_record(
            firm=firm,
            actor=None,
            reference=f"R{i}",
            value_date=date(2025, 11, 4),
            amount=D("4000.00"),
            currency="USD",
            conversion_rate=D("280.7000"),
            client_name="Client",
            client_country="US",
            purpose_code="9184",
            today=TODAY,
        )
        return receipt.retained

    results = run_in_parallel(6, record)
    assert all(isinstance(r, D) for r in results), results
    # Serialised, in whatever order: 3,990.00 (floor, then the tax cap), 1,010.00 (rest of
    # the USD 5,000 floor), 1,000.00 (half of 12,000 minus 5,000), then 2,000.00 each.
    assert sorted(results, reverse=True) == [
        D("3990.00"),
        D("2000.00"),
        D("2000.00"),
        D("2000.00"),
        D("1010.00"),
        D("1000.00"),
    ]
    assert sum(results) == D("12000.00")  # exactly half of the month's USD 24,000
    assert esfca_balance(firm) == sum(results)
    assert Receipt.objects.filter(firm=firm).count() == 6


def test_simultaneous_allocations_spend_the_last_funds_once():
    assert connection.vendor == "postgresql", "run with `make test` (PostgreSQL row locks)"
    firm = open_firm()
    receipt_record(
        firm=firm,
        actor=None,
        reference="FUND",
        value_date=date(2025, 11, 4),
        amount=D("20000.00"),
        currency="USD",
        conversion_rate=D("280.7000"),
        client_name="Client",
        client_country="US",
        today=TODAY,
    )  # 10,000.00 retained

    def spend(i):
        allocation, _ = allocation_create(
            firm=firm,
            actor=None,
            reference=f"A{i}",
            value_date=date(2025, 11, 20),
            category="software_subscriptions",
            amount=D("1500.00"),
            currency="USD",
            payee_name="Vendor",
            payee_country="US",
            today=TODAY,
        )
        return allocation

    results = run_in_parallel(10, spend)
    accepted = [r for r in results if isinstance(r, Allocation)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(accepted) == 6  # 6 x 1,500 = 9,000 <= 10,000 < 7 x 1,500
    assert len(refused) == 4
    assert esfca_balance(firm) == D("1000.00")
    assert sorted(a.balance_after for a in accepted) == [
        D("1000.00"),
        D("2500.00"),
        D("4000.00"),
        D("5500.00"),
        D("7000.00"),
        D("8500.00"),
    ]
