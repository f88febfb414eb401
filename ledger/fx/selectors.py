"""Reads of the rate table: the rate of a day, the latest usable rate and how old it is.

Only *active* rates are ever returned: held and rejected ones are used by nothing. When
several sources have a rate for the same day the best one wins (``FxRate.PRIORITY``:
SBP-WACR, then manual, then the feeds). PKR itself is always 1.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from ledger.errors import FxRateMissing
from ledger.exact import working_days_between, working_days_window_start
from ledger.models import FxRate

from .arith import HOME_CURRENCY


def _best(rates) -> FxRate | None:
    """The rate of the best source among ``rates`` (None when there is none)."""
    return min(rates, key=lambda r: FxRate.PRIORITY[r.source], default=None)


def _best_per_day(rates) -> dict[tuple[str, date], FxRate]:
    """Per currency and day, the rate of the best source."""
    by_day: dict[tuple[str, date], list[FxRate]] = {}
    for rate in rates:
        by_day.setdefault((rate.currency, rate.date), []).append(rate)
    return {key: _best(found) for key, found in by_day.items()}


def _active(**lookups) -> QuerySet[FxRate]:
    return FxRate.objects.filter(status=FxRate.Status.ACTIVE, **lookups)


def fx_rates(
    *, currency: str | None = None, on: date | None = None, source: str | None = None
) -> QuerySet[FxRate]:
    """Every stored rate, whatever its status, newest day first (the API's list)."""
    rates = FxRate.objects.all()
    if currency:
        rates = rates.filter(currency=currency)
    if on:
        rates = rates.filter(date=on)
    if source:
        rates = rates.filter(source=source)
    return rates.order_by("-date", "currency", "source", "id")


def fx_rate_for(*, currency: str, on: date) -> FxRate:
    """The rate of ``currency`` on exactly ``on``, best source first (SBP-WACR, manual, feeds).

    Never falls back to another day: no rate that day raises ``FxRateMissing``.
    Rates held for review are not used.
    """
    rate = _best(_active(currency=currency, date=on))
    if rate is None:
        raise FxRateMissing(
            f"No {currency} rate for {on.isoformat()}.", currency=currency, date=on.isoformat()
        )
    return rate


def fx_rate_better_than(*, source: str, currency: str, on: date) -> FxRate | None:
    """The best active rate of ``currency`` on ``on`` from a source ranked above ``source``."""
    better = [s for s, p in FxRate.PRIORITY.items() if p < FxRate.PRIORITY[source]]
    return _best(_active(currency=currency, date=on, source__in=better))


def fx_rate_guarding(*, currency: str, on: date) -> FxRate | None:
    """The rate the move guard compares a new rate of ``currency`` dated ``on`` with (rules.md
    §10): the latest *active* rate of that currency from any source dated on or before ``on``
    and at most ``FX_GUARD_WINDOW_WORKING_DAYS`` working days before it (10: a rate dated
    Monday 2025-11-03 still counts for one dated Monday 2025-11-17, Friday 2025-10-31 no
    longer does). Several sources on that day: the best one (the one the selectors use).
    Rates of other sources on ``on`` itself count; None when the window has no active rate.
    """
    since = working_days_window_start(on, settings.FX_GUARD_WINDOW_WORKING_DAYS)
    window = _active(currency=currency, date__range=(since, on))
    newest = window.order_by("-date").values_list("date", flat=True).first()
    return None if newest is None else _best(window.filter(date=newest))


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
        cur: rate for (cur, _), rate in _best_per_day(_active(currency__in=wanted, date=on)).items()
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


def buying_rates_many(*, currencies, days) -> dict[tuple[str, date], Decimal]:
    """The buying rates of several currencies on several days in one query, keyed by
    ``(currency, day)``; a missing pair is simply absent (``buying_rates`` refuses it)."""
    rates = _active(currency__in=set(currencies) - {HOME_CURRENCY}, date__in=set(days)).only(
        "currency", "date", "source", "buy"
    )
    return {pair: rate.buy for pair, rate in _best_per_day(rates).items()}


@dataclass(frozen=True)
class LatestRate:
    """The rate valuation uses for ``currency`` as of ``on``: best source of the latest day."""

    currency: str
    on: date
    rate: FxRate | None  # None for PKR itself
    age_working_days: int
    stale: bool

    @property
    def buy(self) -> Decimal:
        return Decimal(1) if self.rate is None else self.rate.buy

    @property
    def sell(self) -> Decimal:
        return Decimal(1) if self.rate is None else self.rate.sell

    @property
    def date(self) -> date:
        return self.on if self.rate is None else self.rate.date


def latest_rate(*, currency: str, on_or_before: date, stale_after: int | None = None) -> LatestRate:
    """The latest *active* rate dated on or before ``on_or_before``, best source of that day.

    ``stale`` is true when it is more than ``FX_STALE_WORKING_DAYS`` working
    days old. Held and rejected rates are never returned. No rate at all
    raises ``FxRateMissing``.
    """
    limit = settings.FX_STALE_WORKING_DAYS if stale_after is None else stale_after
    if currency == HOME_CURRENCY:
        return LatestRate(currency, on_or_before, None, 0, False)
    active = _active(currency=currency, date__lte=on_or_before)
    newest = active.order_by("-date").values_list("date", flat=True).first()
    if newest is None:
        raise FxRateMissing(
            f"No {currency} rate on or before {on_or_before.isoformat()}.",
            currency=currency,
            date=on_or_before.isoformat(),
        )
    best = _best(active.filter(date=newest))
    age = working_days_between(newest, on_or_before)
    return LatestRate(currency, on_or_before, best, age, age > limit)


def fx_rate_age(*, currency: str, on: date) -> int:
    """Working days between the latest active rate of ``currency`` and ``on``."""
    return latest_rate(currency=currency, on_or_before=on).age_working_days
