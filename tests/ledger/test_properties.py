"""Property: any sequence of postings, replays and reversals keeps every ledger invariant."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import AlreadyReversed, IdempotencyConflict, InsufficientFunds
from ledger.models import Account, Entry, Transaction
from ledger.posting import credit, debit, transaction_post, transaction_reverse
from ledger.verify import ledger_verify
from tests.ledger.conftest import ledger_state, open_book

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 14)
# The book's accounts by currency (indexes into Book.accounts()).
USD = ["esfca_usd", "fx_usd", "proceeds_usd", "cloud_usd"]
PKR = ["pkr_bank", "fx_pkr", "tax_pkr"]

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000.00"), places=2)


@st.composite
def transfers(draw):
    """One money movement inside one currency: Dr one account, Cr another, same amount."""
    names = draw(st.sampled_from([USD, PKR]))
    to, frm = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
    return to, frm, draw(amounts)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.lists(transfers(), min_size=1, max_size=3)),
        st.tuples(st.just("replay"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("conflict"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50)),
    ),
    min_size=1,
    max_size=25,
)


def expected_move(account: Account, dr: Decimal, cr: Decimal) -> Decimal:
    return dr - cr if account.normal_side == Account.Side.DEBIT else cr - dr


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_postings_replays_and_reversals_keep_every_invariant(ops):
    with transaction.atomic():  # each example starts from an empty ledger
        book = open_book()
        model = {acc.pk: Decimal("0.00") for acc in book.accounts()}
        accounts = {acc.pk: acc for acc in book.accounts()}
        posted = []  # (transaction, legs) of accepted postings, reversals included
        reversed_ids = set()

        def apply(legs) -> bool:
            """Our own model of the rules: accept iff no non-negative account goes below zero."""
            after = dict(model)
            for leg in legs:
                after[leg.account.pk] += expected_move(leg.account, leg.debit, leg.credit)
            if any(accounts[pk].non_negative and after[pk] < 0 for pk in after):
                return False
            model.update(after)
            return True

        for n, (op, arg) in enumerate(ops):
            before = ledger_state()
            if op == "post":
                legs = []
                for to, frm, amount in arg:
                    legs += [debit(getattr(book, to), amount), credit(getattr(book, frm), amount)]
                would_accept = apply(legs)
                try:
                    txn = transaction_post(
                        key=f"op-{n}", kind=Transaction.Kind.OTHER, value_date=DAY, legs=legs
                    )
                except InsufficientFunds:
                    assert not would_accept
                    assert ledger_state() == before
                else:
                    assert would_accept
                    posted.append((txn, legs))
                    assert Entry.objects.filter(transaction=txn).count() == len(legs)
            elif op in ("replay", "conflict") and posted:
                txn, legs = posted[arg % len(posted)]
                if op == "replay":
                    if txn.kind == Transaction.Kind.REVERSAL:
                        again = transaction_reverse(
                            original=txn.reverses, key=txn.key, value_date=DAY
                        )
                    else:
                        again = transaction_post(
                            key=txn.key, kind=txn.kind, value_date=DAY, legs=list(reversed(legs))
                        )
                    assert again.pk == txn.pk
                else:
                    with pytest.raises(IdempotencyConflict):
                        transaction_post(
                            key=txn.key, kind=txn.kind, value_date=DAY, legs=legs, memo="other"
                        )
                assert ledger_state() == before
            elif op == "reverse" and posted:
                original, legs = posted[arg % len(posted)]
                mirror = [
                    credit(leg.account, leg.debit) if leg.debit else debit(leg.account, leg.credit)
                    for leg in legs
                ]
                if original.pk in reversed_ids:
                    with pytest.raises(AlreadyReversed):
                        transaction_reverse(original=original, key=f"op-{n}", value_date=DAY)
                    assert ledger_state() == before
                    continue
                would_accept = apply(mirror)
                try:
                    reversal = transaction_reverse(original=original, key=f"op-{n}", value_date=DAY)
                except InsufficientFunds:
                    assert not would_accept
                    assert ledger_state() == before
                else:
                    assert would_accept
                    reversed_ids.add(original.pk)
                    posted.append((reversal, mirror))

            stored = dict(Account.objects.filter(pk__in=model).values_list("pk", "balance"))
            assert stored == model
            assert all(stored[pk] >= 0 for pk in stored if accounts[pk].non_negative)

        report = ledger_verify()
        assert report.ok, report.problems
        transaction.set_rollback(True)
