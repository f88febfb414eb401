"""Real parallel writers on PostgreSQL: a firm's headroom and balance are never shared twice."""

import json
import threading
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection, connections

from esfca.errors import InvalidState
from esfca.models import Allocation, Receipt
from esfca.services import allocation_create, movement_reverse, receipt_record
from ledger.errors import InsufficientFunds

from .conftest import esfca_balance, open_firm, sqlite_manage

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


# --- reversals (rules.md §9): a movement is reversed once -----------------------------------


def fund_and_reverse_in_parallel(n: int, *, same_reference: bool):
    firm = open_firm()
    receipt, _ = receipt_record(
        firm=firm, actor=None, reference="FUND", value_date=date(2025, 11, 4),
        amount=D("20000.00"), currency="USD", conversion_rate=D("280.7000"),
        client_name="Client", client_country="US", today=TODAY,
    )  # fmt: skip

    def reverse(i):
        reference = "REV" if same_reference else f"REV-{i}"
        return movement_reverse(
            firm=firm, actor=None, kind="receipt", movement_id=receipt.pk, reference=reference,
            reason="recorded twice", today=TODAY,
        )  # fmt: skip

    return firm, run_in_parallel(n, reverse)


def test_simultaneous_reversals_of_one_movement_exactly_one_succeeds():
    assert connection.vendor == "postgresql", "run with `make test` (PostgreSQL row locks)"
    firm, results = fund_and_reverse_in_parallel(6, same_reference=False)
    reversed_ = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, InvalidState)]
    assert len(reversed_) == 1 and len(refused) == 5, results
    assert esfca_balance(firm) == D("0.00")
    assert Receipt.objects.filter(firm=firm, reverses__isnull=False).count() == 1


def test_the_same_reversal_sent_at_once_is_recorded_once():
    assert connection.vendor == "postgresql", "run with `make test` (PostgreSQL row locks)"
    firm, results = fund_and_reverse_in_parallel(6, same_reference=True)
    assert all(isinstance(r, tuple) for r in results), results
    assert len({reversal.pk for reversal, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert esfca_balance(firm) == D("0.00")


SQLITE_REVERSALS = """
import json, threading
from django.db import connections
from tests.esfca.test_concurrency import fund_and_reverse_in_parallel
from esfca.errors import InvalidState
from ledger.verify import ledger_verify
firm, results = fund_and_reverse_in_parallel(6, same_reference=False)
print("RESULT" + json.dumps({
    "reversed": sum(isinstance(r, tuple) for r in results),
    "refused": sum(isinstance(r, InvalidState) for r in results),
    "other": [repr(r) for r in results if not isinstance(r, tuple | InvalidState)],
    "verified": ledger_verify().ok,
}))
"""


def test_simultaneous_reversals_on_sqlite(tmp_path):
    """The same race on SQLite (IMMEDIATE write transactions), in a process of its own."""
    _, manage = sqlite_manage(tmp_path / "reversals.sqlite3")
    migrated = manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    run = manage("shell", "-c", SQLITE_REVERSALS)
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout.split("RESULT", 1)[1])
    assert outcome == {"reversed": 1, "refused": 5, "other": [], "verified": True}
