"""Reads of the ledger: balances (one row each) and dated exchange rates."""

from datetime import date
from decimal import Decimal

from .errors import FxRateMissing
from .models import Account, FxRate

HOME_CURRENCY = "PKR"


def account_balance(*, account_id: int) -> Decimal:
    """The stored balance: one indexed row, whatever the account's history."""
    return Account.objects.values_list("balance", flat=True).get(pk=account_id)


def fx_rate_for(*, currency: str, on: date) -> FxRate:
    """The rate of ``currency`` on exactly ``on``, best source first (SBP-WACR, manual, feeds).

    Never falls back to another day: no rate that day raises ``FxRateMissing``.
    Rates held for review are not used.
    """
    rates = list(FxRate.objects.filter(currency=currency, date=on, status=FxRate.Status.ACTIVE))
    if not rates:
        raise FxRateMissing(
            f"No {currency} rate for {on.isoformat()}.", currency=currency, date=on.isoformat()
        )
    return min(rates, key=lambda r: FxRate.PRIORITY[r.source])


def buying_rate(*, currency: str, on: date) -> Decimal:
    """PKR per unit at which a bank buys ``currency`` on ``on`` (PKR itself: 1)."""
    if currency == HOME_CURRENCY:
        return Decimal(1)
    return fx_rate_for(currency=currency, on=on).buy


def buying_rates(*, currencies, on: date) -> dict[str, Decimal]:
    """Several buying rates of one day in one query; a missing one raises ``FxRateMissing``."""
    asked = set(currencies)  # once: ``currencies`` may be a generator
    wanted = asked - {HOME_CURRENCY}
    best = {
        cur: rate
        for (cur, _), rate in _best_by_priority(
            FxRate.objects.filter(currency__in=wanted, date=on, status=FxRate.Status.ACTIVE)
        ).items()
    }
    missing = sorted(wanted - best.keys())
    if missing:
        raise FxRateMissing(
            f"No {', '.join(missing)} rate for {on.isoformat()}.",
            currency=missing[0],
            date=on.isoformat(),
        )
    result = {cur: rate.buy for cur, rate in best.items()}
    if HOME_CURRENCY in asked:
        result[HOME_CURRENCY] = Decimal(1)
    return result


def _best_by_priority(rates) -> dict[tuple[str, date], FxRate]:
    """Per currency and day, the rate of the best source (SBP-WACR, manual, feeds)."""
    best: dict[tuple[str, date], FxRate] = {}
    for rate in rates:
        current = best.get((rate.currency, rate.date))
        if current is None or FxRate.PRIORITY[rate.source] < FxRate.PRIORITY[current.source]:
            best[rate.currency, rate.date] = rate
    return best


def buying_rates_many(*, currencies, days) -> dict[tuple[str, date], Decimal]:
    """The buying rates of several currencies on several days in one query, keyed by
    ``(currency, day)``; a missing pair is simply absent (``buying_rates`` refuses it)."""
    rates = FxRate.objects.filter(
        currency__in=set(currencies) - {HOME_CURRENCY},
        date__in=set(days),
        status=FxRate.Status.ACTIVE,
    ).only("currency", "date", "source", "buy")
    return {pair: rate.buy for pair, rate in _best_by_priority(rates).items()}


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
