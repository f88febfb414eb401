"""How the summaries write their values: money and ratios as the contract's strings,
months as ``YYYY-MM``, moments in local time, and the canonical JSON a filed snapshot's
SHA-256 is taken of."""

import json
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from django.utils import timezone

from esfca import policy
from esfca.errors import InvalidInput

CENT = policy.CENT
RATIO = Decimal("0.0001")


def money(value) -> str:
    """A Decimal as the contract's 2-place string."""
    return format(Decimal(value or 0).quantize(CENT), "f")


def ratio(numerator: Decimal, denominator: Decimal) -> str:
    if not denominator:
        return format(Decimal(0).quantize(RATIO), "f")
    percent = policy.round_half_up(Fraction(numerator) * 100 / Fraction(denominator))
    return format((percent / 100).quantize(RATIO), "f")


def canonical_json(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def month_parse(text: str) -> date:
    """ "2025-11" → date(2025, 11, 1); anything else is a validation error."""
    try:
        year, month = (int(part) for part in text.split("-"))
        if len(text) != 7:
            raise ValueError
        return date(year, month, 1)
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(
            "Give the month as YYYY-MM.", month=["Give the month as YYYY-MM."]
        ) from None


def month_label(first: date) -> str:
    return f"{first:%Y-%m}"


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def local_iso(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None
