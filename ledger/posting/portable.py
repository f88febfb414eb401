"""Posting through the ORM, for databases other than PostgreSQL (SQLite): the caller holds
the write lock (``BEGIN IMMEDIATE``), so the checks below and the writes can't interleave
with another poster."""

from collections.abc import Sequence

from django.db.models import Case, F, Value, When

from ledger.models import Account, Entry, Transaction

from .balances import check_currencies, lock_accounts, new_balances
from .legs import Leg, deltas


def post_one(row: dict, legs: Sequence[Leg]) -> int | None:
    """Write ``row`` and its entries and move the balances; ``None`` when the key is taken."""
    if Transaction.objects.filter(key=row["key"]).exists():
        return None
    net = deltas(legs)
    locked = lock_accounts(net)
    check_currencies(legs, {pk: acc.currency for pk, acc in locked.items()})
    balances = new_balances(locked, net, legs)
    txn = Transaction.objects.create(**row)
    Entry.objects.bulk_create(
        Entry(
            transaction=txn,
            account_id=leg.account.pk,
            debit=leg.debit,
            credit=leg.credit,
            currency=leg.currency,
        )
        for leg in legs
    )
    # Exact Decimal sums computed here under the lock, not ``F() + x`` (SQLite adds in floats).
    Account.objects.filter(pk__in=balances).update(
        balance=Case(
            *(When(pk=pk, then=Value(balance)) for pk, balance in balances.items()),
            default=F("balance"),
            output_field=Account._meta.get_field("balance"),
        )
    )
    return txn.pk
