"""The touched accounts under their row locks: the one lock order, the currency check, the
balances after a posting and the overdraft refusal. Shared by the ORM path and the
PostgreSQL batch path."""

from collections.abc import Iterable, Sequence
from decimal import Decimal

from ledger.errors import InsufficientFunds, InvalidPosting
from ledger.models import Account

from .legs import Leg, deltas


def lock_accounts(ids: Iterable[int], *, no_key: bool = False) -> dict[int, Account]:
    """Lock the accounts in id order (the one lock order: no deadlocks between posters)."""
    return {
        acc.pk: acc
        for acc in Account.objects.select_for_update(no_key=no_key)
        .filter(pk__in=ids)
        .order_by("pk")
        .only("pk", "currency", "non_negative", "balance", "normal_side")
    }


def check_currencies(legs: Sequence[Leg], stored: dict[int, str]) -> None:
    for leg in legs:
        if stored.get(leg.account.pk) != leg.currency:
            raise InvalidPosting("A leg's currency differs from its account's.")


def new_balances(
    locked: dict[int, Account], net: dict[int, Decimal], legs: Sequence[Leg]
) -> dict[int, Decimal]:
    """The balances after ``net`` in each account's normal sign; refuses an overdraft."""
    balances = {}
    for pk, move in net.items():
        account = locked[pk]
        balances[pk] = account.balance + (
            move if account.normal_side == Account.Side.DEBIT else -move
        )
        if account.non_negative and balances[pk] < 0:
            raise insufficient(legs)
    return balances


def insufficient(legs: Sequence[Leg]) -> InsufficientFunds:
    """The refusal, described from the balances as they are now (the posting was rolled back)."""
    net = deltas(legs)
    accounts = Account.objects.filter(pk__in=net, non_negative=True).only(
        "pk", "currency", "balance", "normal_side"
    )
    for account in accounts:
        move = net[account.pk]
        move = move if account.normal_side == Account.Side.DEBIT else -move
        if move < 0 and account.balance + move < 0:
            return InsufficientFunds(
                account=account.pk,
                currency=account.currency,
                balance=str(account.balance),
                requested=str(-move),
            )
    return InsufficientFunds()
