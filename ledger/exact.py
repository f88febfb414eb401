"""Exact money and rate arithmetic, shared by the ledger and the rules (rules.md §1).

Values are exact: products of ``Decimal``s in a context that traps any rounding, quotients
as ``Fraction``s built from ``Decimal``s; rounded once, at the end, to a number of decimal
places; never a float, never an intermediate rounding.
"""

import functools
import math
from datetime import date, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)
from fractions import Fraction

# Products of Decimals are exact, so they need no Fraction: this context has room for every
# digit of the money and rate columns multiplied together and traps any rounding, so a
# product it could not hold exactly raises instead of being rounded.
_EXACT = Context(prec=200, traps=[Inexact, Rounded, InvalidOperation, Overflow])
# Rounding a Decimal to places is one quantize, with room for any digits before the point.
_ROUND = Context(prec=200, traps=[InvalidOperation, Overflow])


def product(*factors: Decimal) -> Decimal:
    """The exact product of Decimals (``Inexact`` if it had more than 200 digits)."""
    result = Decimal(1)
    for factor in factors:
        result = _EXACT.multiply(result, factor)
    return result


@functools.cache
def _exponent(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _units(value: Fraction | Decimal | int, places: int) -> Fraction:
    return Fraction(value) * 10**places


def _decimal(units: int, places: int) -> Decimal:
    return Decimal(units).scaleb(-places)


def _quantized(value: Decimal, places: int, rounding: str) -> Decimal:
    """A finite Decimal rounded once, as the Fraction path would (no negative zero)."""
    result = value.quantize(_exponent(places), rounding=rounding, context=_ROUND)
    return result.copy_abs() if result.is_zero() else result


def round_down(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Toward minus infinity: a limit is never exceeded by rounding."""
    if type(value) is Decimal and value.is_finite():
        return _quantized(value, places, ROUND_FLOOR)
    if type(value) is Fraction:  # floor(n·10^p / d) in integers
        return _decimal(value.numerator * 10**places // value.denominator, places)
    return _decimal(math.floor(_units(value, places)), places)


def round_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Toward plus infinity."""
    if type(value) is Decimal and value.is_finite():
        return _quantized(value, places, ROUND_CEILING)
    if type(value) is Fraction:  # ceil(n·10^p / d) = -floor(-n·10^p / d)
        return _decimal(-(-value.numerator * 10**places // value.denominator), places)
    return _decimal(math.ceil(_units(value, places)), places)


def round_half_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Half away from zero: conversions and tax."""
    if type(value) is Decimal and value.is_finite():
        return _quantized(value, places, ROUND_HALF_UP)
    if type(value) is Fraction:  # floor(|n|·10^p / d + 1/2) = (2·|n|·10^p + d) // 2d
        n, d = value.numerator, value.denominator
        units = (2 * abs(n) * 10**places + d) // (2 * d)
        return _decimal(-units if n < 0 else units, places)
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


def working_days_window_start(day: date, n: int) -> date:
    """The earliest day ``d`` with ``working_days_between(d, day) <= n``: the first day of the
    ``n`` working days up to ``day`` (a rate dated ``d`` is at most ``n`` working days old on
    ``day``). Ten working days up to Monday 2025-11-17 start on Monday 2025-11-03."""
    start, count = day, 0
    while start > date.min:
        count += start.weekday() < 5  # stepping back one day passes over ``start``
        if count > n:
            return start
        start -= timedelta(days=1)
    return start
