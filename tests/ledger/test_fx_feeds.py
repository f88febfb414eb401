"""The OXR and ECB providers against real payloads served locally, and every way a feed fails."""

import time
from datetime import date
from decimal import Decimal

import pytest

from ledger.fx.providers import EcbProvider, OxrProvider
from ledger.fx.selectors import fx_rate_for
from ledger.fx.services import fx_refresh
from ledger.models import FxRate, FxRefreshLog
from tests.ledger.fx_support import OXR_BYTES, FxServer, Route, ecb_variant, oxr_variant

pytestmark = pytest.mark.django_db

OXR_DAY = date(2025, 11, 4)  # timestamp 1762250400 = 2025-11-04 10:00 UTC
ECB_DAY = date(2026, 10, 2)


@pytest.fixture
def feed(settings):
    with FxServer() as server:
        settings.FX_FEED_URL = server.url("/oxr.json?app_id=secret-app-id")
        settings.ECB_FEED_URL = server.url("/ecb.xml")
        settings.FX_FEED_TIMEOUT = 0.3
        # The payloads are recorded ones, dated long before today: the feed age limit
        # (rules.md §10) is lifted here and has its own tests (test_fx_rules.py).
        settings.FX_FEED_MAX_AGE_WORKING_DAYS = 100_000
        yield server


def usd_manual(on=ECB_DAY, buy="280.5000", sell="281.0000", status=FxRate.Status.ACTIVE):
    return FxRate.objects.create(
        currency="USD",
        date=on,
        source=FxRate.Source.MANUAL,
        buy=Decimal(buy),
        sell=Decimal(sell),
        status=status,
    )


def stored():
    return sorted(FxRate.objects.values_list("currency", "date", "source", "buy", "sell", "status"))


# --- OXR -------------------------------------------------------------------------------------


def test_oxr_payload_gives_pkr_per_unit_exactly(feed):
    """PKR per X = rates.PKR / rates.X = 280.86 / X, half up to 6 places:

    USD 280.86/1 = 280.860000; EUR 280.86/0.8680 = 2265/7 = 323.571428571… → 323.571429;
    GBP 280.86/0.7655 = 366.897452645… → 366.897453; JPY 280.86/153.61 = 1.828396588… →
    1.828397; AED 280.86/3.6725 = 76.476514635… → 76.476515. Buy = sell (no spread).
    """
    log = fx_refresh(provider="oxr")

    assert log.ok and log.rate_date == OXR_DAY and log.created == 10 and log.held == 0
    rates = {r.currency: r for r in FxRate.objects.filter(source="OXR", date=OXR_DAY)}
    assert sorted(rates) == ["AED", "AUD", "CAD", "CHF", "CNY", "EUR", "GBP", "JPY", "SAR", "USD"]
    expected = {
        "USD": "280.860000",
        "EUR": "323.571429",
        "GBP": "366.897453",
        "JPY": "1.828397",
        "AED": "76.476515",
    }
    for code, value in expected.items():
        assert (rates[code].buy, rates[code].sell) == (Decimal(value), Decimal(value)), code
    assert all(r.status == FxRate.Status.ACTIVE for r in rates.values())
    assert fx_rate_for(currency="EUR", on=OXR_DAY).buy == Decimal("323.571429")


def test_oxr_spread_splits_around_the_mid(feed):
    """Spread 1%: buy = 280.86 × 0.995 = 279.4557, sell = 280.86 × 1.005 = 282.2643 (USD)."""
    (rate_set,) = OxrProvider(spread_pct="1").fetch()
    assert rate_set.rates["USD"] == (Decimal("279.455700"), Decimal("282.264300"))


def test_oxr_get_rates_has_django_money_backend_shape(feed):
    rates = OxrProvider().get_rates()
    assert rates["USD"] == (Decimal("280.860000"), Decimal("280.860000"))
    assert OxrProvider().get_rates(date=date(2020, 1, 1)) == {}
    assert FxRate.objects.count() == 0  # get_rates only reads the feed


# --- ECB -------------------------------------------------------------------------------------


def test_ecb_crosses_through_the_stored_usd_rate(feed):
    """USD/PKR of 2026-10-02 (manual) 280.5000 buy / 281.0000 sell; 1 EUR = 1.1225 USD.

    EUR: 280.5 × 1.1225 = 314.86125, 281 × 1.1225 = 315.4225;
    GBP: × 1.1225/0.85033 → 370.28124375… → 370.281244 and 370.94128162… → 370.941282;
    CHF: × 1.1225/0.9279 → 339.326705 / 339.931566; JPY: × 1.1225/176.99 → 1.778978 / 1.782149.
    USD is never stored from the ECB (it would only echo its own input); TRY is not wanted.
    """
    usd_manual()
    log = fx_refresh(provider="ecb")

    assert log.ok and log.rate_date == ECB_DAY and log.created == 4
    ecb = {r.currency: (r.buy, r.sell) for r in FxRate.objects.filter(source="ECB", date=ECB_DAY)}
    assert ecb == {
        "EUR": (Decimal("314.861250"), Decimal("315.422500")),
        "GBP": (Decimal("370.281244"), Decimal("370.941282")),
        "CHF": (Decimal("339.326705"), Decimal("339.931566")),
        "JPY": (Decimal("1.778978"), Decimal("1.782149")),
    }


def test_ecb_without_a_better_usd_rate_stores_nothing(feed):
    usd_manual(status=FxRate.Status.HELD)  # held rates don't count
    log = fx_refresh(provider="ecb")

    assert not log.ok and log.retryable
    assert "No active USD/PKR rate for 2026-10-02" in log.message
    assert FxRate.objects.filter(source="ECB").count() == 0


def test_ecb_parse_reads_the_first_dated_cube(feed):
    day, per_eur = EcbProvider().parse(feed.routes["/ecb.xml"].body)
    assert day == ECB_DAY
    assert per_eur == {
        "USD": Decimal("1.1225"),
        "JPY": Decimal("176.99"),
        "GBP": Decimal("0.85033"),
        "TRY": Decimal("55.1650"),
        "CHF": Decimal("0.9279"),
    }


# --- failures: nothing stored, a log row that says why ----------------------------------------

FAILURES = [
    ("oxr", Route(b"internal error", status=500), True, "HTTP 500"),
    ("oxr", Route(b"", status=503), True, "HTTP 503"),
    ("oxr", Route(b"nope", status=404), False, "HTTP 404"),
    (
        "oxr",
        Route(b'{"timestamp": 1762250400, "base": "USD", "rates": {"PKR": 280.8'),
        False,
        "Malformed JSON",
    ),
    ("oxr", Route(b"<html>maintenance</html>"), False, "Malformed JSON"),
    ("oxr", Route(oxr_variant(EUR=None)), False, "missing EUR"),
    ("oxr", Route(oxr_variant(PKR=None)), False, "missing PKR"),
    ("oxr", Route(oxr_variant(EUR=0)), False, "OXR rate of EUR must be positive, got 0"),
    ("oxr", Route(oxr_variant(GBP="-0.7655")), False, "must be positive, got -0.7655"),
    ("oxr", Route(oxr_variant(PKR="0.0")), False, "OXR rate of PKR must be positive"),
    ("oxr", Route(oxr_variant(EUR='"0.868"')), False, "EUR is not a number"),
    # PKR 280.86 per 0.0001 JPY: 2,808,600 PKR a yen, beyond MAX_RATE.
    ("oxr", Route(oxr_variant(JPY="0.0001")), False, "oxr gives JPY 2025-11-04 at 2808600"),
    # 280.86 / 10^9 rounds to 0.000000 at 6 places: not a rate either.
    ("oxr", Route(oxr_variant(JPY="1000000000")), False, "Enter a positive rate."),
    ("oxr", Route(oxr_variant(EUR="NaN")), False, "Malformed JSON"),
    ("ecb", Route(b"", status=500), True, "HTTP 500"),
    ("ecb", Route(ecb_variant("</Cube>\n\t</Cube>", "")), False, "Malformed XML"),
    ("ecb", Route(ecb_variant("rate='0.85033'", "rate='0'")), False, "GBP must be positive"),
    ("ecb", Route(ecb_variant("rate='0.9279'", "rate='-0.9279'")), False, "not a plain decimal"),
    ("ecb", Route(ecb_variant("rate='1.1225'", "rate='1,1225'")), False, "not a plain decimal"),
    ("ecb", Route(ecb_variant("<Cube currency='USD' rate='1.1225'/>", "")), False, "missing USD"),
    (
        "ecb",
        Route(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>"),
        False,
        "DTD",
    ),
]


@pytest.mark.parametrize(("provider", "route", "retryable", "message"), FAILURES)
def test_a_failing_feed_stores_nothing_and_says_why(
    feed, caplog, provider, route, retryable, message
):
    usd_manual()  # so that the ECB has what it needs to cross
    before = stored()
    feed.routes["/oxr.json" if provider == "oxr" else "/ecb.xml"] = route

    log = fx_refresh(provider=provider)

    assert stored() == before
    log.refresh_from_db()
    assert (log.ok, log.retryable) == (False, retryable)
    assert message in log.message
    assert log.finished_at is not None and log.created == 0
    assert FxRefreshLog.objects.filter(ok=False).count() == 1
    assert any(message in r.getMessage() for r in caplog.records)
    assert "secret-app-id" not in log.message  # the app id in the URL never reaches a log


def test_a_timeout_stores_nothing_and_is_retryable(feed):
    feed.routes["/oxr.json"] = Route(feed.routes["/oxr.json"].body, delay=1.5)
    log = fx_refresh(provider="oxr")
    assert (log.ok, log.retryable) == (False, True)
    assert "Timed out after 0.3s" in log.message
    assert FxRate.objects.count() == 0


def test_a_trickling_feed_fails_within_its_timeout_and_stores_nothing(feed, settings):
    """A feed sending its answer a byte at a time held the refresh 61 s despite a 10 s
    timeout (a socket timeout bounds each read, issue 14). The real payload, one byte every
    0.2 s (401 bytes: 80 s), timeout 1 s: the refresh fails after about 1 s."""
    settings.FX_FEED_TIMEOUT = 1
    feed.routes["/oxr.json"] = Route(OXR_BYTES, trickle=0.2)

    started = time.monotonic()
    log = fx_refresh(provider="oxr")
    elapsed = time.monotonic() - started

    assert elapsed < 2.5, elapsed
    assert (log.ok, log.retryable) == (False, True)
    assert log.message.startswith("Timed out after 1s waiting for the whole answer of http://")
    assert FxRate.objects.count() == 0


def test_a_feed_answer_over_the_size_cap_is_refused_unread(feed, settings):
    settings.FX_FEED_TIMEOUT = 1
    settings.FX_FEED_MAX_BYTES = 100  # the real payload has 401 bytes
    # Trickled: reading it would time out, refusing it by its Content-Length does not.
    feed.routes["/oxr.json"] = Route(OXR_BYTES, trickle=0.2)

    log = fx_refresh(provider="oxr")

    assert (log.ok, log.retryable) == (False, False)
    assert f"is larger than 100 bytes ({len(OXR_BYTES)})" in log.message
    assert FxRate.objects.count() == 0


def test_an_unreachable_feed_is_retryable(settings):
    with FxServer() as server:
        url = server.url("/oxr.json")
    settings.FX_FEED_URL = url  # server gone: connection refused
    log = fx_refresh(provider="oxr")
    assert (log.ok, log.retryable) == (False, True)
    assert "Could not read" in log.message


def test_only_http_urls_are_fetched(settings):
    settings.FX_FEED_URL = "file:///etc/passwd"
    log = fx_refresh(provider="oxr")
    assert (log.ok, log.retryable) == (False, False)
    assert "must be http(s)" in log.message


def test_an_oversized_payload_is_refused(feed):
    feed.routes["/oxr.json"] = Route(b" " * 1_000_001 + feed.routes["/oxr.json"].body)
    log = fx_refresh(provider="oxr")
    assert not log.ok and "larger than" in log.message
    assert FxRate.objects.count() == 0
