"""transactions_post_many: the result of transaction_post posting by posting, all or nothing."""

import datetime as dt
from decimal import Decimal

import pytest

from ledger.errors import IdempotencyConflict, InsufficientFunds, InvalidPosting
from ledger.models import Transaction
from ledger.posting import Posting, credit, debit, postings_prepare, transactions_post_many
from tests.ledger.conftest import ledger_state

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 14)


def receipt(book, key, amount):
    amount = Decimal(amount)
    return Posting(
        key=key,
        kind=Transaction.Kind.RECEIPT,
        value_date=DAY,
        legs=[debit(book.esfca_usd, amount), credit(book.proceeds_usd, amount)],
    )


def spend(book, key, amount):
    amount = Decimal(amount)
    return Posting(
        key=key,
        kind=Transaction.Kind.ALLOCATION,
        value_date=DAY,
        legs=[debit(book.cloud_usd, amount), credit(book.esfca_usd, amount)],
    )


def test_many_postings_move_each_balance_by_its_total(book):
    posted = transactions_post_many(
        [receipt(book, "r1", "100.00"), receipt(book, "r2", "250.50"), spend(book, "a1", "50.25")]
    ).transactions

    assert [t.key for t in posted] == ["r1", "r2", "a1"]
    assert all(t.pk for t in posted)
    assert book.balances()["esfca_usd"] == Decimal("300.25")
    assert book.balances()["proceeds_usd"] == Decimal("350.50")
    assert book.balances()["cloud_usd"] == Decimal("50.25")
    assert [t.entries.count() for t in posted] == [2, 2, 2]


def test_replays_post_nothing_and_return_the_stored_transaction(book):
    first = transactions_post_many([receipt(book, "r1", "100.00")]).transactions[0]
    before = ledger_state()

    again = transactions_post_many(
        [receipt(book, "r1", "100.00"), receipt(book, "r1", "100.00")]
    ).transactions

    assert [t.pk for t in again] == [first.pk, first.pk]
    assert ledger_state() == before


def test_a_key_twice_in_one_batch_is_posted_once(book):
    posted = transactions_post_many(
        [receipt(book, "r1", "100.00"), receipt(book, "r1", "100.00")]
    ).transactions

    assert posted[0].pk == posted[1].pk
    assert book.balances()["esfca_usd"] == Decimal("100.00")


@pytest.mark.parametrize("stored_first", [True, False])
def test_a_key_with_other_content_refuses_the_whole_batch(book, stored_first):
    if stored_first:
        transactions_post_many([receipt(book, "r1", "100.00")])
    before = ledger_state()
    batch = [
        receipt(book, "r0", "5.00"),
        receipt(book, "r1", "100.00"),
        receipt(book, "r1", "1.00"),
    ]
    if stored_first:
        batch = batch[::2]

    with pytest.raises(IdempotencyConflict):
        transactions_post_many(batch)

    assert ledger_state() == before


def test_an_unbalanced_posting_refuses_the_whole_batch(book):
    before = ledger_state()
    unbalanced = Posting(
        key="bad",
        kind=Transaction.Kind.OTHER,
        value_date=DAY,
        legs=[debit(book.esfca_usd, Decimal("10.00")), credit(book.proceeds_usd, Decimal("9.99"))],
    )

    with pytest.raises(InvalidPosting):
        transactions_post_many([receipt(book, "r1", "100.00"), unbalanced])

    assert ledger_state() == before


def test_an_overdraft_refuses_the_whole_batch(book):
    transactions_post_many([receipt(book, "r0", "100.00")])
    before = ledger_state()

    with pytest.raises(InsufficientFunds) as refused:
        transactions_post_many([receipt(book, "r1", "20.00"), spend(book, "a1", "120.01")])

    assert refused.value.details["account"] == book.esfca_usd.pk
    assert ledger_state() == before


def test_what_the_batch_funds_itself_may_be_spent(book):
    transactions_post_many([receipt(book, "r1", "20.00"), spend(book, "a1", "20.00")])

    assert book.balances()["esfca_usd"] == Decimal("0.00")


def test_an_empty_batch_posts_nothing(book):
    before = ledger_state()

    assert transactions_post_many([]).transactions == []
    assert ledger_state() == before


def test_prepared_for_copy_posts_what_the_plain_call_posts(book, require_postgresql):
    batch = [receipt(book, "r1", "100.00"), spend(book, "a1", "40.00")]
    prepared = postings_prepare(batch, copy=True)
    assert prepared.copy is not None

    posted = transactions_post_many(prepared)

    assert posted.copied and posted.transactions is prepared.copy.transactions
    assert [t.pk for t in posted.transactions] == list(
        Transaction.objects.filter(key__in=["r1", "a1"]).order_by("pk").values_list("pk", flat=True)
    )
    assert book.balances()["esfca_usd"] == Decimal("60.00")
    assert [t.entries.count() for t in posted.transactions] == [2, 2]


@pytest.mark.parametrize("amount", ["100.00", "99.00"])
def test_a_key_taken_after_it_was_prepared_is_judged_like_any_taken_key(
    book, require_postgresql, amount
):
    prepared = postings_prepare(
        [receipt(book, "r0", "5.00"), receipt(book, "r1", "100.00")], copy=True
    )
    assert prepared.copy is not None
    taken = transactions_post_many([receipt(book, "r1", amount)]).transactions[0]  # meanwhile
    before = ledger_state()

    if amount != "100.00":  # other content under the key: a conflict, nothing written
        with pytest.raises(IdempotencyConflict):
            transactions_post_many(prepared)
        assert ledger_state() == before
        return
    posted = transactions_post_many(prepared)  # the same content: a replay

    assert posted.transactions[1].pk == taken.pk and not posted.copied
    assert book.balances()["esfca_usd"] == Decimal("105.00")


def test_a_batch_that_repeats_a_key_is_not_prepared_for_copy(book, require_postgresql):
    batch = [receipt(book, "r1", "100.00"), receipt(book, "r1", "100.00")]

    assert postings_prepare(batch, copy=True).copy is None
    assert postings_prepare([receipt(book, "r2", "1.00")]).copy is None  # not asked for
