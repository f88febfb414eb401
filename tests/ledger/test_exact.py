"""ledger.exact: a Decimal is rounded by one quantize, exactly as its Fraction would be."""

import math
from decimal import Decimal as D
from decimal import Inexact
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.exact import product, round_down, round_half_up, round_up

decimals = st.decimals(
    min_value=D("-99999999999999"), max_value=D("99999999999999"), places=12, allow_nan=False
)


@settings(max_examples=500, deadline=None)
@given(value=decimals, places=st.integers(0, 8))
def test_decimal_rounding_is_the_fraction_rounding(value, places):
    for rounding in (round_down, round_up, round_half_up):
        fast = rounding(value, places)
        exact = rounding(Fraction(value), places)
        # Same number and same digits (no negative zero, same exponent).
        assert (fast, str(fast)) == (exact, str(exact)), rounding.__name__


@settings(max_examples=300, deadline=None)
@given(factors=st.lists(decimals, min_size=1, max_size=4))
def test_products_are_exact(factors):
    expected = Fraction(1)
    for factor in factors:
        expected *= Fraction(factor)
    assert Fraction(product(*factors)) == expected


def test_a_product_too_long_to_hold_exactly_is_refused_not_rounded():
    with pytest.raises(Inexact):
        product(*[D("1.234567890123456789012345678901234567890123456789")] * 5)


def test_halves_round_away_from_zero_and_limits_toward_minus_infinity():
    assert round_half_up(D("0.005")) == D("0.01")
    assert round_half_up(D("-0.005")) == D("-0.01")
    assert str(round_half_up(D("-0.004"))) == "0.00"
    assert round_down(D("-0.001")) == D("-0.01")
    assert round_up(D("30.001")) == D("30.01")


def _reference(value: Fraction, places: int, mode: str) -> D:
    """Rounding by its definition, in Fractions (how the helpers were first written)."""
    scaled = value * 10**places
    if mode == "down":
        units = math.floor(scaled)
    elif mode == "up":
        units = math.ceil(scaled)
    else:
        units = math.floor(abs(scaled) + Fraction(1, 2)) * (-1 if scaled < 0 else 1)
    return D(units).scaleb(-places)


@settings(max_examples=500, deadline=None)
@given(
    value=st.fractions(min_value=-(10**14), max_value=10**14, max_denominator=10**9),
    places=st.integers(0, 8),
)
def test_fraction_rounding_in_integers_is_rounding_by_definition(value, places):
    for mode, rounding in (("down", round_down), ("up", round_up), ("half", round_half_up)):
        fast, exact = rounding(value, places), _reference(value, places, mode)
        assert (fast, str(fast)) == (exact, str(exact)), mode
