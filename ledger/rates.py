"""One rate entered through the API by a platform admin or a bank reviewer.

Feeds and CSV imports go through ``ledger.fx.services`` (idempotent upserts behind the
move guard). A rate posted by hand is different: a person with the authority to publish
rates states it, so it is stored active at once, and a second rate for the same
currency, day and source is refused (``duplicate_reference``): a published rate is never
silently replaced (design.md, FX rates).
"""

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction

from .errors import IdempotencyConflict, InvalidPosting
from .models import FxRate

RATE_PLACES = Decimal("0.000001")
MAX_RATE = Decimal("1000000000000")  # 12 digits before the point (RATE: 18 digits, 6 places)


class DuplicateRate(IdempotencyConflict):
    default_message = "A rate for this currency, date and source already exists."


def _check(name: str, value: Decimal) -> dict[str, list[str]]:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        return {name: ["Enter a positive rate."]}
    if value != value.quantize(RATE_PLACES) or value >= MAX_RATE:
        return {name: ["A rate has at most 6 decimal places and 12 digits before the point."]}
    return {}


def fx_rate_record(
    *, currency: str, on: date, buy: Decimal, sell: Decimal, source: str, note: str = ""
) -> FxRate:
    """Store one active rate (PKR per unit); refuse a second one for the same key."""
    errors = {**_check("buy", buy), **_check("sell", sell)}
    if source not in FxRate.Source.values:
        errors["source"] = [f"Use one of {', '.join(FxRate.Source.values)}."]
    if errors:
        raise InvalidPosting("Some fields are invalid.", **errors)
    try:
        with transaction.atomic():
            if FxRate.objects.filter(currency=currency, date=on, source=source).exists():
                raise DuplicateRate(
                    f"A {source} rate for {currency} on {on.isoformat()} already exists.",
                    currency=currency,
                    date=on.isoformat(),
                    source=source,
                )
            return FxRate.objects.create(
                currency=currency,
                date=on,
                source=source,
                buy=buy,
                sell=sell,
                status=FxRate.Status.ACTIVE,
                note=note,
            )
    except IntegrityError as exc:  # a concurrent writer stored the same key first
        raise DuplicateRate(
            f"A {source} rate for {currency} on {on.isoformat()} already exists.",
            currency=currency,
            date=on.isoformat(),
            source=source,
        ) from exc
