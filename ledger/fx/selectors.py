"""Reads of the rate table for valuation: the latest usable rate, and how old it is."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings

from ledger.errors import FxRateMissing
from ledger.exact import working_days_between
from ledger.models import FxRate

HOME = "PKR"


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
    if currency == HOME:
        return LatestRate(currency, on_or_before, None, 0, False)
    active = FxRate.objects.filter(
        currency=currency, date__lte=on_or_before, status=FxRate.Status.ACTIVE
    )
    newest = active.order_by("-date").values_list("date", flat=True).first()
    if newest is None:
        raise FxRateMissing(
            f"No {currency} rate on or before {on_or_before.isoformat()}.",
            currency=currency,
            date=on_or_before.isoformat(),
        )
    best = min(active.filter(date=newest), key=lambda r: FxRate.PRIORITY[r.source])
    age = working_days_between(newest, on_or_before)
    return LatestRate(currency, on_or_before, best, age, age > limit)


def fx_rate_age(*, currency: str, on: date) -> int:
    """Working days between the latest active rate of ``currency`` and ``on``."""
    return latest_rate(currency=currency, on_or_before=on).age_working_days
