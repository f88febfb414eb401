"""Reads of the ledger's accounts: balances (one row each). Rates are read in ``ledger.fx``."""

from datetime import date
from decimal import Decimal

from .models import Account


def account_balance(*, account_id: int) -> Decimal:
    """The stored balance: one indexed row, whatever the account's history."""
    return Account.objects.values_list("balance", flat=True).get(pk=account_id)


def lowest_balance_from(*, account_id: int, on: date) -> Decimal:
    """The lowest end-of-day balance of a debit-normal account from ``on`` onwards.

    A backdated debit must be covered on its own value date *and* every day after it;
    otherwise a past month would close below zero. One query over the movements dated
    after ``on`` (none at all when nothing is backdated).
    """
    from django.db.models import Sum

    from .models import Entry

    current = account_balance(account_id=account_id)
    later = list(
        Entry.objects.filter(account_id=account_id, transaction__value_date__gt=on)
        .values("transaction__value_date")
        .annotate(d=Sum("debit"), c=Sum("credit"))
        .order_by("transaction__value_date")
    )
    running = current - sum((row["d"] - row["c"] for row in later), Decimal(0))
    lowest = running
    for row in later:
        running += row["d"] - row["c"]
        lowest = min(lowest, running)
    return lowest
