"""Dated FX rates: exactly that day, best source first, held rates never used."""

import datetime as dt
from decimal import Decimal

import pytest

from ledger.errors import FxRateMissing
from ledger.fx.selectors import buying_rate, buying_rates, fx_rate_for
from ledger.models import FxRate
from tests.ledger.factories import FxRateFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 14)


def test_rate_of_the_exact_day():
    FxRateFactory(date=DAY, buy=Decimal("280.700000"))
    assert fx_rate_for(currency="USD", on=DAY).buy == Decimal("280.700000")
    assert buying_rate(currency="USD", on=DAY) == Decimal("280.700000")


def test_no_fallback_to_another_day():
    FxRateFactory(date=DAY - dt.timedelta(days=1))
    FxRateFactory(date=DAY + dt.timedelta(days=1))
    with pytest.raises(FxRateMissing, match="No USD rate for 2025-03-14") as caught:
        fx_rate_for(currency="USD", on=DAY)
    assert caught.value.code == "fx_rate_missing"
    assert caught.value.details == {"currency": "USD", "date": "2025-03-14"}
    with pytest.raises(FxRateMissing):
        buying_rate(currency="USD", on=DAY)
    with pytest.raises(FxRateMissing):
        buying_rates(currencies=["USD"], on=DAY)


def test_no_rate_of_another_currency_stands_in():
    FxRateFactory(currency="EUR", date=DAY)
    with pytest.raises(FxRateMissing):
        fx_rate_for(currency="USD", on=DAY)


@pytest.mark.parametrize(
    ("sources", "winner"),
    [
        (["ECB", "OXR", "MANUAL", "SBP-WACR"], "SBP-WACR"),
        (["ECB", "OXR", "MANUAL"], "MANUAL"),
        (["ECB", "OXR"], "OXR"),
        (["ECB"], "ECB"),
    ],
)
def test_source_priority(sources, winner):
    for n, source in enumerate(sources):
        FxRateFactory(source=source, buy=Decimal("280.000000") + n, sell=Decimal("290.000000"))
    chosen = fx_rate_for(currency="USD", on=DAY)
    assert chosen.source == winner
    assert buying_rate(currency="USD", on=DAY) == chosen.buy
    assert buying_rates(currencies=["USD"], on=DAY) == {"USD": chosen.buy}


@pytest.mark.parametrize("status", [FxRate.Status.HELD, FxRate.Status.REJECTED])
def test_held_or_rejected_rates_are_never_used(status):
    FxRateFactory(source=FxRate.Source.SBP_WACR, buy=Decimal("400.000000"), status=status)
    with pytest.raises(FxRateMissing):
        fx_rate_for(currency="USD", on=DAY)
    FxRateFactory(source=FxRate.Source.ECB, buy=Decimal("281.000000"))
    assert buying_rate(currency="USD", on=DAY) == Decimal("281.000000")
    assert buying_rates(currencies=["USD"], on=DAY) == {"USD": Decimal("281.000000")}


def test_pkr_is_one():
    assert buying_rate(currency="PKR", on=DAY) == Decimal(1)


def test_buying_rates_of_several_currencies_in_one_query(django_assert_num_queries):
    FxRateFactory(currency="USD", source="OXR", buy=Decimal("280.100000"))
    FxRateFactory(currency="USD", source="SBP-WACR", buy=Decimal("280.700000"))
    FxRateFactory(currency="EUR", source="ECB", buy=Decimal("305.250000"))
    with django_assert_num_queries(1):
        rates = buying_rates(currencies=("USD", "EUR", "PKR"), on=DAY)
    assert rates == {
        "USD": Decimal("280.700000"),
        "EUR": Decimal("305.250000"),
        "PKR": Decimal(1),
    }


def test_buying_rates_accepts_a_generator():
    FxRateFactory(currency="USD")
    rates = buying_rates(currencies=(c for c in ["USD", "PKR"]), on=DAY)
    assert rates == {"USD": Decimal("280.700000"), "PKR": Decimal(1)}


def test_buying_rates_names_the_missing_currency():
    FxRateFactory(currency="USD")
    with pytest.raises(FxRateMissing, match="No GBP rate for 2025-03-14") as caught:
        buying_rates(currencies=["USD", "GBP"], on=DAY)
    assert caught.value.details["currency"] == "GBP"
