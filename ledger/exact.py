"""Exact money and rate arithmetic, shared by the ledger and the rules (rules.md §1).

Values are ``Fraction``s built from ``Decimal``s, rounded once, at the end, to a number of
decimal places; never a float, never an intermediate rounding.
"""

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction


def _units(value: Fraction | Decimal | int, places: int) -> Fraction:
    return Fraction(value) * 10**places


def _decimal(units: int, places: int) -> Decimal:
    return Decimal(units).scaleb(-places)


def round_down(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Toward minus infinity: a limit is never exceeded by rounding."""
    return _decimal(math.floor(_units(value, places)), places)


def round_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Toward plus infinity."""
    return _decimal(math.ceil(_units(value, places)), places)


def round_half_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Half away from zero: conversions and tax."""
    scaled = _units(value, places)
    units = math.floor(abs(scaled) + Fraction(1, 2))
    return _decimal(-units if scaled < 0 else units, places)


def working_days_between(earlier: date, later: date) -> int:
    """Monday–Friday days d with ``earlier < d <= later`` (0 when ``later <= earlier``).

    Public holidays are not known here, so they count as working days.
    """
    if later <= earlier:
        return 0
    weeks, rest = divmod((later - earlier).days, 7)
    count = weeks * 5
    for i in range(1, rest + 1):
        if (earlier + timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    return count


def add_working_days(day: date, n: int) -> date:
    """``day`` plus ``n`` working days (Monday–Friday)."""
    current = day
    while n > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            n -= 1
    return current
