"""The database itself guards the ledger (PostgreSQL: `make test`). Fails loudly elsewhere."""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from ledger.errors import IdempotencyConflict, InsufficientFunds
from ledger.models import Account, Entry, Transaction
from ledger.posting import Posting, credit, debit, transaction_post, transactions_post_many
from ledger.selectors import account_balance
from ledger.verify import ledger_verify
from tests.ledger.conftest import ledger_state, open_book

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_postgresql")]

DAY = dt.date(2025, 3, 14)


def fund(book, amount, key="fund"):
    return transaction_post(
        key=key,
        kind=Transaction.Kind.RECEIPT,
        value_date=DAY,
        legs=[debit(book.esfca_usd, amount), credit(book.proceeds_usd, amount)],
    )


@pytest.mark.django_db(transaction=True)
def test_racing_debits_never_overdraw_and_every_accepted_one_is_accounted_for():
    book = open_book()
    amount = Decimal("100.00")
    fund(book, Decimal("1050.00"))  # covers 10 of the 16 racers, with 50.00 left
    racers = 16
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            try:
                transaction_post(
                    key=f"spend-{n}",
                    kind=Transaction.Kind.ALLOCATION,
                    value_date=DAY,
                    legs=[debit(book.cloud_usd, amount), credit(book.esfca_usd, amount)],
                )
                result = "accepted"
            except InsufficientFunds:
                result = "refused"
            except Exception as exc:  # recorded, so the test fails with the reason
                result = f"error: {exc!r}"
            with lock:
                outcomes.append(result)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(set(outcomes)) == ["accepted", "refused"], outcomes
    accepted = outcomes.count("accepted")
    assert accepted == 10
    final = account_balance(account_id=book.esfca_usd.pk)
    assert final == Decimal("50.00")
    assert final >= 0
    assert accepted * amount == Decimal("1050.00") - final
    assert account_balance(account_id=book.cloud_usd.pk) == accepted * amount
    assert Transaction.objects.filter(kind=Transaction.Kind.ALLOCATION).count() == accepted
    report = ledger_verify()
    assert report.ok, report.problems


@pytest.mark.django_db(transaction=True)
def test_racing_replays_of_one_key_post_once():
    book = open_book()
    results: list[int | str] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(fund(book, Decimal("10.00"), key="same-key").pk)
        except Exception as exc:
            results.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert account_balance(account_id=book.esfca_usd.pk) == Decimal("10.00")
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entry SET debit = debit + 1 WHERE debit > 0",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_transaction SET memo = 'rewritten'",
        "DELETE FROM ledger_transaction",
    ],
)
def test_raw_update_or_delete_of_entries_and_transactions_is_refused(book, sql):
    fund(book, Decimal("100.00"))
    before = ledger_state()
    with (
        pytest.raises(IntegrityError, match="not allowed; post a reversal"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert ledger_state() == before
    assert Transaction.objects.get().memo == ""


@pytest.mark.django_db(transaction=True)
def test_raw_insert_of_an_unbalanced_transaction_fails_at_commit():
    book = open_book()
    with (
        pytest.raises(IntegrityError, match="does not balance in USD"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO ledger_transaction (key, fingerprint, kind, value_date, posted_at,"
            " memo) VALUES ('raw', '', 'other', %s, now(), '') RETURNING id",
            [DAY],
        )
        txn_id = cursor.fetchone()[0]
        cursor.executemany(
            "INSERT INTO ledger_entry (transaction_id, account_id, debit, credit, currency)"
            " VALUES (%s, %s, %s, %s, 'USD')",
            [
                (txn_id, book.cloud_usd.pk, Decimal("10.00"), Decimal("0")),
                (txn_id, book.proceeds_usd.pk, Decimal("0"), Decimal("9.99")),
            ],
        )
        # Accepted so far: the zero sum is a deferred trigger, checked at COMMIT.
        cursor.execute("SELECT count(*) FROM ledger_entry WHERE transaction_id = %s", [txn_id])
        assert cursor.fetchone()[0] == 2
    assert not Transaction.objects.filter(key="raw").exists()
    assert Entry.objects.count() == 0


def test_check_constraint_refuses_an_entry_with_both_sides(book):
    txn = fund(book, Decimal("100.00"))
    before = ledger_state()
    with (
        pytest.raises(IntegrityError, match="entry_exactly_one_positive_side"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, debit, credit, currency)"
            " VALUES (%s, %s, 5.00, 5.00, 'USD')",
            [txn.pk, book.cloud_usd.pk],
        )
    assert ledger_state() == before


def test_check_constraint_refuses_a_negative_balance_on_a_non_negative_account(book):
    fund(book, Decimal("100.00"))
    before = ledger_state()
    with (
        pytest.raises(IntegrityError, match="account_non_negative_balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE ledger_account SET balance = -0.01 WHERE id = %s", [book.esfca_usd.pk]
        )
    assert ledger_state() == before
    # Accounts without the flag may go below zero (FX trading accounts do).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET balance = -0.01 WHERE id = %s", [book.fx_usd.pk])
    assert Account.objects.get(pk=book.fx_usd.pk).balance == Decimal("-0.01")
    with connection.cursor() as cursor:  # put it back so the ledger proves itself again
        cursor.execute("UPDATE ledger_account SET balance = 0 WHERE id = %s", [book.fx_usd.pk])


@pytest.mark.django_db(transaction=True)
def test_raw_insert_of_a_transaction_without_entries_fails_at_commit():
    with (
        pytest.raises(IntegrityError, match="fewer than two entries"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO ledger_transaction (key, fingerprint, kind, value_date, posted_at,"
            " memo) VALUES ('empty', '', 'other', %s, now(), '')",
            [DAY],
        )
    assert not Transaction.objects.filter(key="empty").exists()


@pytest.mark.django_db(transaction=True)
def test_a_key_taken_while_a_batch_copies_is_judged_like_any_taken_key():
    """transactions_post_many writes the keys it found free by COPY; should a concurrent
    poster take one of them meanwhile, the batch waits for it, then judges the key as taken
    (here: other content, a conflict) instead of failing on the unique key."""
    mine, theirs = open_book(), open_book()
    taken, committed = threading.Event(), threading.Event()
    errors: list[str] = []

    def concurrent_poster() -> None:
        try:
            with transaction.atomic():
                fund(theirs, Decimal("10.00"), key="shared-key")
                taken.set()
                with connection.cursor() as cursor:
                    for _ in range(500):  # until the batch waits for this transaction
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.02)
                    else:
                        errors.append("the batch never waited for the concurrent key")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            committed.set()
            connections.close_all()

    thread = threading.Thread(target=concurrent_poster)
    thread.start()
    assert taken.wait(timeout=30)
    before = Entry.objects.filter(account__owner=mine.firm).count()
    postings = [
        Posting(
            key=key,
            kind=Transaction.Kind.RECEIPT,
            value_date=DAY,
            legs=[
                debit(mine.esfca_usd, Decimal("5.00")),
                credit(mine.proceeds_usd, Decimal("5.00")),
            ],
        )
        for key in ("new-key", "shared-key")
    ]
    with pytest.raises(IdempotencyConflict):
        transactions_post_many(postings)
    thread.join(timeout=60)

    assert committed.is_set() and not errors, errors
    assert Entry.objects.filter(account__owner=mine.firm).count() == before
    assert not Transaction.objects.filter(key="new-key").exists()
    assert (
        Transaction.objects.get(key="shared-key").entries.filter(account=theirs.esfca_usd).exists()
    )


def prepared_statements() -> dict[str, tuple[str, int]]:
    """This connection's server-side prepared statements: name -> (text, times run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement, generic_plans + custom_plans FROM pg_prepared_statements"
        )
        return {name: (statement, runs) for name, statement, runs in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_the_posting_statement_is_prepared_on_each_connection_and_reused():
    """Parsed and planned once per connection, then run by name; Django's own queries, however
    often repeated, are never prepared; the query log still shows the posting's text."""
    book = open_book()
    fund(book, Decimal("100.00"))
    legs = [debit(book.cloud_usd, Decimal("1.00")), credit(book.esfca_usd, Decimal("1.00"))]

    for attempt in ("first", "second"):
        connection.close()  # a new connection starts with nothing prepared
        assert prepared_statements() == {}
        with CaptureQueriesContext(connection) as log:
            transaction_post(
                key=f"{attempt}-a", kind=Transaction.Kind.ALLOCATION, value_date=DAY, legs=legs
            )
        after_one = prepared_statements()
        for _ in range(10):  # past psycopg's default threshold (5) for automatic preparing
            Account.objects.get(pk=book.esfca_usd.pk)
        transaction_post(
            key=f"{attempt}-b", kind=Transaction.Kind.ALLOCATION, value_date=DAY, legs=legs
        )
        after_two = prepared_statements()

        [(name, (text, runs))] = after_one.items()
        assert text.lstrip().startswith("WITH txn AS (") and runs == 1
        assert after_two == {name: (text, 2)}  # the same statement ran again, nothing else
        [logged] = log.captured_queries
        assert "INSERT INTO ledger_transaction" in logged["sql"]
    assert account_balance(account_id=book.esfca_usd.pk) == Decimal("96.00")
