"""The posting service: every refusal leaves the ledger exactly as it was."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from ledger.errors import AlreadyReversed, IdempotencyConflict, InsufficientFunds, InvalidPosting
from ledger.models import Account, Entry, Transaction
from ledger.posting import Leg, credit, debit, transaction_post, transaction_reverse
from tests.ledger.conftest import ledger_state

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 14)


def post(key, legs, kind=Transaction.Kind.RECEIPT, **kwargs):
    return transaction_post(key=key, kind=kind, value_date=DAY, legs=legs, **kwargs)


def fund(book, amount="1000.00", key="fund"):
    """A receipt of ``amount`` USD straight into the ESFCA."""
    amount = Decimal(amount)
    return post(key, [debit(book.esfca_usd, amount), credit(book.proceeds_usd, amount)])


def test_a_receipt_moves_both_stored_balances(book):
    txn = fund(book, "1000.00")

    assert txn.pk is not None
    assert book.balances()["esfca_usd"] == Decimal("1000.00")
    assert book.balances()["proceeds_usd"] == Decimal("1000.00")
    assert list(txn.entries.values_list("account_id", "debit", "credit", "currency")) == [
        (book.esfca_usd.pk, Decimal("1000.00"), Decimal("0.00"), "USD"),
        (book.proceeds_usd.pk, Decimal("0.00"), Decimal("1000.00"), "USD"),
    ]


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        (lambda b: [debit(b.cloud_usd, Decimal("5.00"))], "at least two legs"),
        (lambda b: [], "at least two legs"),
        (
            lambda b: [debit(b.cloud_usd, Decimal("0.00")), credit(b.proceeds_usd, Decimal("0"))],
            "exactly one positive side",
        ),
        (
            lambda b: [debit(b.cloud_usd, Decimal("-5.00")), credit(b.proceeds_usd, Decimal("-5"))],
            "never negative",
        ),
        (
            lambda b: [
                Leg(b.cloud_usd, debit=Decimal("5.00"), credit=Decimal("5.00")),
                credit(b.proceeds_usd, Decimal("5.00")),
                debit(b.esfca_usd, Decimal("5.00")),
            ],
            "exactly one positive side",
        ),
        (
            lambda b: [
                debit(b.cloud_usd, Decimal("5.001")),
                credit(b.proceeds_usd, Decimal("5.001")),
            ],
            "more than two decimal places",
        ),
        (
            lambda b: [debit(b.cloud_usd, Decimal("NaN")), credit(b.proceeds_usd, Decimal("5.00"))],
            "finite",
        ),
        (
            lambda b: [
                debit(b.cloud_usd, Decimal("Infinity")),
                credit(b.proceeds_usd, Decimal("Infinity")),
            ],
            "finite",
        ),
        (
            lambda b: [debit(b.cloud_usd, Decimal("sNaN")), credit(b.proceeds_usd, Decimal("5"))],
            "finite",
        ),
        (lambda b: [debit(b.cloud_usd, 5.0), credit(b.proceeds_usd, 5.0)], "finite"),
        (lambda b: [debit(b.cloud_usd, 5), credit(b.proceeds_usd, 5)], "finite"),
        (
            lambda b: [
                debit(b.cloud_usd, Decimal("1E+30")),
                credit(b.proceeds_usd, Decimal("1E+30")),
            ],
            "too large",
        ),
        (
            lambda b: [
                debit(b.cloud_usd, Decimal("1000000000000.00")),
                credit(b.proceeds_usd, Decimal("1000000000000.00")),
            ],
            "too large",
        ),
        (
            lambda b: [
                debit(b.cloud_usd, Decimal("5.00")),
                credit(b.proceeds_usd, Decimal("4.99")),
            ],
            "differ per currency",
        ),
        (
            # 100 USD against 100 PKR: balanced "in total", not per currency.
            lambda b: [debit(b.cloud_usd, Decimal("100.00")), credit(b.fx_pkr, Decimal("100.00"))],
            "differ per currency",
        ),
        (
            lambda b: [
                debit(b.cloud_usd, Decimal("100.00")),
                debit(b.tax_pkr, Decimal("50.00")),
                credit(b.proceeds_usd, Decimal("50.00")),
                credit(b.fx_pkr, Decimal("100.00")),
            ],
            "differ per currency",
        ),
    ],
    ids=[
        "one-leg",
        "no-legs",
        "zero",
        "negative",
        "both-sides",
        "three-decimals",
        "nan",
        "infinity",
        "signalling-nan",
        "float",
        "int",
        "huge-exponent",
        "over-max-digits",
        "unbalanced",
        "balanced-in-total-not-per-currency",
        "crossed-currencies",
    ],
)
def test_malformed_postings_are_refused_and_change_nothing(book, legs, message):
    fund(book)
    before = ledger_state()

    with pytest.raises(InvalidPosting, match=message):
        post("bad", legs(book))

    assert ledger_state() == before
    assert not Transaction.objects.filter(key="bad").exists()


def test_unbalanced_refusal_names_the_currency_and_the_gap(book):
    with pytest.raises(InvalidPosting) as caught:
        post(
            "bad",
            [debit(book.cloud_usd, Decimal("5.00")), credit(book.proceeds_usd, Decimal("4.99"))],
        )
    assert caught.value.details == {"unbalanced": {"USD": "0.01"}}


def test_a_leg_whose_currency_is_not_its_accounts_is_refused(book):
    fund(book)
    before = ledger_state()
    # The caller's copy of the account claims PKR; the database knows it is USD.
    stale = Account.objects.get(pk=book.cloud_usd.pk)
    stale.currency = "PKR"

    with pytest.raises(InvalidPosting, match="currency differs"):
        post("bad", [debit(stale, Decimal("5.00")), credit(book.tax_pkr, Decimal("5.00"))])

    assert ledger_state() == before


def test_unsaved_account_is_refused(book):
    ghost = Account(kind=Account.Kind.PAYEE, currency="USD", normal_side=Account.Side.DEBIT)
    before = ledger_state()
    with pytest.raises(InvalidPosting, match="saved accounts"):
        post("bad", [debit(ghost, Decimal("5.00")), credit(book.proceeds_usd, Decimal("5.00"))])
    assert ledger_state() == before


def test_overdraft_of_a_non_negative_account_is_refused_and_changes_nothing(book):
    fund(book, "100.00")
    before = ledger_state()

    with pytest.raises(InsufficientFunds) as caught:
        post(
            "spend",
            [debit(book.cloud_usd, Decimal("100.01")), credit(book.esfca_usd, Decimal("100.01"))],
            kind=Transaction.Kind.ALLOCATION,
        )

    assert ledger_state() == before
    assert caught.value.code == "insufficient_funds"
    assert caught.value.details == {
        "account": book.esfca_usd.pk,
        "currency": "USD",
        "balance": "100.00",
        "requested": "100.01",
    }


def test_spending_exactly_the_balance_leaves_zero(book):
    fund(book, "100.00")
    post(
        "spend",
        [debit(book.cloud_usd, Decimal("100.00")), credit(book.esfca_usd, Decimal("100.00"))],
        kind=Transaction.Kind.ALLOCATION,
    )
    assert book.balances()["esfca_usd"] == Decimal("0.00")
    assert book.balances()["cloud_usd"] == Decimal("100.00")


def test_accounts_without_the_flag_may_go_below_zero(book):
    post("fx", [debit(book.pkr_bank, Decimal("10.00")), credit(book.fx_pkr, Decimal("10.00"))])
    assert book.balances()["fx_pkr"] == Decimal("-10.00")


def test_overdraft_is_judged_on_the_net_movement_of_the_account(book):
    """A credit of 150 and a debit of 100 on one account move it by -50, whatever the order."""
    fund(book, "40.00")
    legs = [
        credit(book.esfca_usd, Decimal("150.00")),
        debit(book.esfca_usd, Decimal("100.00")),
        debit(book.cloud_usd, Decimal("50.00")),
    ]
    before = ledger_state()
    with pytest.raises(InsufficientFunds) as caught:
        post("net", legs)
    assert ledger_state() == before
    assert caught.value.details["requested"] == "50.00"

    fund(book, "10.00", key="fund-2")
    post("net", legs)
    assert book.balances()["esfca_usd"] == Decimal("0.00")
    assert book.balances()["cloud_usd"] == Decimal("50.00")


def test_replay_with_the_same_key_returns_the_stored_transaction_and_posts_nothing(book):
    first = fund(book, "250.00", key="rcpt-1")
    before = ledger_state()

    again = fund(book, "250.00", key="rcpt-1")

    assert again.pk == first.pk
    assert ledger_state() == before
    assert book.balances()["esfca_usd"] == Decimal("250.00")


def test_replay_is_judged_on_the_amount_not_how_it_is_written(book):
    first = post(
        "rcpt-1",
        [debit(book.esfca_usd, Decimal("250.0")), credit(book.proceeds_usd, Decimal("250"))],
    )
    before = ledger_state()
    again = post(
        "rcpt-1",
        [credit(book.proceeds_usd, Decimal("250.00")), debit(book.esfca_usd, Decimal("250.00"))],
    )
    assert again.pk == first.pk
    assert ledger_state() == before


def test_replay_wins_over_a_balance_that_no_longer_covers_the_original(book):
    fund(book, "100.00")
    spend = [debit(book.cloud_usd, Decimal("100.00")), credit(book.esfca_usd, Decimal("100.00"))]
    first = post("spend", spend, kind=Transaction.Kind.ALLOCATION)
    before = ledger_state()

    assert post("spend", spend, kind=Transaction.Kind.ALLOCATION).pk == first.pk
    assert ledger_state() == before


@pytest.mark.parametrize(
    "change",
    [
        {"legs": "other-amount"},
        {"legs": "other-account"},
        {"kind": Transaction.Kind.OTHER},
        {"value_date": dt.date(2025, 3, 15)},
        {"memo": "something else"},
        {"fx_rate": Decimal("280.700000")},
    ],
    ids=["amount", "account", "kind", "value-date", "memo", "fx-rate"],
)
def test_same_key_with_other_content_is_a_conflict_and_changes_nothing(book, change):
    fund(book, "250.00", key="rcpt-1")
    before = ledger_state()
    legs = [debit(book.esfca_usd, Decimal("250.00")), credit(book.proceeds_usd, Decimal("250.00"))]
    if change.get("legs") == "other-amount":
        legs = [
            debit(book.esfca_usd, Decimal("250.01")),
            credit(book.proceeds_usd, Decimal("250.01")),
        ]
    elif change.get("legs") == "other-account":
        legs = [
            debit(book.cloud_usd, Decimal("250.00")),
            credit(book.proceeds_usd, Decimal("250.00")),
        ]
    kwargs = {k: v for k, v in change.items() if k != "legs"}
    kwargs.setdefault("kind", Transaction.Kind.RECEIPT)
    kwargs.setdefault("value_date", DAY)

    with pytest.raises(IdempotencyConflict) as caught:
        transaction_post(key="rcpt-1", legs=legs, **kwargs)

    assert caught.value.code == "duplicate_reference"
    assert ledger_state() == before


def test_reversal_posts_the_mirror_and_points_at_the_original(book):
    original = fund(book, "300.00")
    reversal = transaction_reverse(original=original, key="rev-1", value_date=DAY)

    assert reversal.kind == Transaction.Kind.REVERSAL
    assert reversal.reverses_id == original.pk
    assert original.reversed_by == reversal
    mirrored = sorted(reversal.entries.values_list("account_id", "debit", "credit"))
    assert mirrored == sorted((e.account_id, e.credit, e.debit) for e in original.entries.all())
    assert book.balances()["esfca_usd"] == Decimal("0.00")
    assert book.balances()["proceeds_usd"] == Decimal("0.00")
    assert Entry.objects.count() == 4


def test_reversal_replay_returns_the_same_reversal(book):
    original = fund(book, "300.00")
    first = transaction_reverse(original=original, key="rev-1", value_date=DAY)
    before = ledger_state()
    assert transaction_reverse(original=original, key="rev-1", value_date=DAY).pk == first.pk
    assert ledger_state() == before


def test_reversing_twice_is_refused_and_changes_nothing(book):
    original = fund(book, "300.00")
    transaction_reverse(original=original, key="rev-1", value_date=DAY)
    before = ledger_state()

    with pytest.raises(AlreadyReversed) as caught:
        transaction_reverse(original=original, key="rev-2", value_date=DAY)

    assert caught.value.code == "invalid_state"
    assert ledger_state() == before


def test_reversal_that_would_overdraw_is_refused(book):
    receipt = fund(book, "300.00")
    post(
        "spend",
        [debit(book.cloud_usd, Decimal("200.00")), credit(book.esfca_usd, Decimal("200.00"))],
        kind=Transaction.Kind.ALLOCATION,
    )
    before = ledger_state()
    with pytest.raises(InsufficientFunds):
        transaction_reverse(original=receipt, key="rev-1", value_date=DAY)
    assert ledger_state() == before
    assert not Transaction.objects.filter(reverses=receipt).exists()


def test_saved_transactions_and_entries_refuse_save_and_delete(book):
    txn = fund(book)
    entry = txn.entries.first()

    for row in (txn, entry):
        with pytest.raises(TypeError, match="immutable"):
            row.save()
        with pytest.raises(TypeError, match="immutable"):
            row.delete()

    txn.memo = "rewritten"
    with pytest.raises(TypeError, match="immutable"):
        txn.save(update_fields=["memo"])
    assert Transaction.objects.get(pk=txn.pk).memo == ""
    assert Entry.objects.filter(transaction=txn).count() == 2


def test_posting_is_one_statement_on_postgresql(book, django_assert_num_queries):
    """The hot path: SAVEPOINT (we're inside the test's transaction), one statement, RELEASE.
    Outside a transaction it is the statement alone, committed on its own."""
    fund(book, "1000.00")
    legs = [
        debit(book.esfca_usd, Decimal("10.00")),
        debit(book.fx_usd, Decimal("10.00")),
        credit(book.proceeds_usd, Decimal("20.00")),
        debit(book.pkr_bank, Decimal("2792.97")),
        debit(book.tax_pkr, Decimal("14.03")),
        credit(book.fx_pkr, Decimal("2807.00")),
    ]
    post_queries, replay_queries = (3, 4) if connection.vendor == "postgresql" else (7, 4)
    with django_assert_num_queries(post_queries):
        post("hot", legs, fx_rate=Decimal("280.700000"))
    with django_assert_num_queries(replay_queries):  # the statement finds the key; its fingerprint
        post("hot", legs, fx_rate=Decimal("280.700000"))
    assert book.balances()["esfca_usd"] == Decimal("1010.00")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_the_posting_statement_is_prepared_once_per_connection(book):
    """Django turns psycopg's preparing off by default; the settings let a statement that asks
    for it be prepared, and the posting asks (parsed and planned once per connection, not once
    per posting)."""
    fund(book, "1000.00")
    legs = [debit(book.esfca_usd, Decimal("1.00")), credit(book.fx_usd, Decimal("1.00"))]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        before = dict(cursor.fetchall())
        for i in range(3):
            post(f"prep-{i}", legs)
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        after = dict(cursor.fetchall())
    # Only the posting statement is prepared (the ORM's own queries are not) ...
    assert all(sql.lstrip().startswith("WITH txn AS (") for sql in after)
    # ... and its two-leg shape ran three more times as one prepared statement.
    assert sum(after.values()) - sum(before.values()) == 3
