"""Exact rate arithmetic: Fractions built from Decimals, rounded once at the end (rules.md §1)."""

import math
from decimal import Decimal
from fractions import Fraction

RATE_PLACES = 6
CENT_PLACES = 2


def round_half_up(value: Fraction | Decimal | int, places: int) -> Decimal:
    """``value`` rounded half away from zero to ``places`` decimals, exactly (no float)."""
    value = Fraction(value)
    scaled = abs(value) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    if value < 0:
        units = -units
    return Decimal(units).scaleb(-places)


def move_pct(old: Decimal, new: Decimal) -> Fraction:
    """How far ``new`` is from ``old``, in percent of ``old`` (exact, unsigned)."""
    return abs(Fraction(new) - Fraction(old)) * 100 / Fraction(old)
