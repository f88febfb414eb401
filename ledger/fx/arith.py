"""The figures of a rate, and exact rate arithmetic (rules.md §1).

Every rate is PKR per one unit of a currency (PKR itself: 1), with at most ``RATE_PLACES``
decimals and below ``MAX_RATE``; these are the only definitions of those limits, for stored
rates and for the rates given with a movement alike. Arithmetic is on Fractions built from
Decimals, rounded once at the end.
"""

from decimal import Decimal
from fractions import Fraction

from ledger.exact import round_half_up

HOME_CURRENCY = "PKR"
RATE_PLACES = 6
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)  # Decimal("0.000001"), for quantize
# No real PKR rate comes near a million (the dearest, KWD, is about 900), and a
# movement's PKR leg, amount × rate, has to fit the money columns.
MAX_RATE = Decimal(1_000_000)
CENT_PLACES = 2

__all__ = [
    "CENT_PLACES",
    "HOME_CURRENCY",
    "MAX_RATE",
    "RATE_PLACES",
    "RATE_QUANTUM",
    "move_pct",
    "rate_error",
    "rate_text",
    "round_half_up",
]


def rate_error(value) -> str | None:
    """Why ``value`` cannot be a rate (a positive Decimal within the places and the limit)."""
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        return "Enter a positive rate."
    # The limit first: quantizing a huge value would overflow the context's precision.
    if value >= MAX_RATE or value != value.quantize(RATE_QUANTUM):
        return f"A rate has at most {RATE_PLACES} decimal places and is below {MAX_RATE:,}."
    return None


def rate_text(value: Decimal) -> str:
    """A rate as people read it, exactly: at least 4 places (SBP quotes 4), no trailing zeros
    beyond them (280 → "280.0000", 294.000001 → "294.000001")."""
    exponent = value.normalize().as_tuple().exponent
    places = max(4, -exponent) if isinstance(exponent, int) else 4
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def move_pct(old: Decimal, new: Decimal) -> Fraction:
    """How far ``new`` is from ``old``, in percent of ``old`` (exact, unsigned)."""
    return abs(Fraction(new) - Fraction(old)) * 100 / Fraction(old)
