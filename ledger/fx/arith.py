"""Exact rate arithmetic: Fractions built from Decimals, rounded once at the end (rules.md §1)."""

from decimal import Decimal
from fractions import Fraction

from ledger.exact import round_half_up

RATE_PLACES = 6
CENT_PLACES = 2

__all__ = ["CENT_PLACES", "RATE_PLACES", "move_pct", "round_half_up"]


def move_pct(old: Decimal, new: Decimal) -> Fraction:
    """How far ``new`` is from ``old``, in percent of ``old`` (exact, unsigned)."""
    return abs(Fraction(new) - Fraction(old)) * 100 / Fraction(old)
