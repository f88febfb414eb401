"""The refresh task: a real Celery worker on Redis, retries with backoff, isolation of providers."""

from datetime import date
from decimal import Decimal

import pytest
from celery.signals import task_retry
from django.core.management import call_command
from django.core.management.base import CommandError

from config.celery_app import app as celery_app
from ledger.fx.errors import FxFeedUnavailable
from ledger.models import FxRate, FxRefreshLog
from ledger.tasks import fx_refresh
from tests.ledger.fx_support import FxServer, Route

OXR_DAY = date(2025, 11, 4)
ECB_DAY = date(2026, 10, 2)


@pytest.fixture
def feed(settings):
    with FxServer() as server:
        settings.FX_FEED_URL = server.url("/oxr.json")
        settings.ECB_FEED_URL = server.url("/ecb.xml")
        settings.FX_FEED_TIMEOUT = 2
        # The payloads are recorded ones, dated long before today: the feed age limit
        # (rules.md §10) is lifted here and has its own tests (test_fx_rules.py).
        settings.FX_FEED_MAX_AGE_WORKING_DAYS = 100_000
        yield server


@pytest.fixture
def retries():
    """Countdowns of the retries Celery schedules, as its ``task_retry`` signal reports them.

    Eager tasks retry at once (no waiting), and only when eager exceptions don't propagate.
    """
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    seen = []

    def record(sender=None, reason=None, **kwargs):
        seen.append(reason.when)

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)
    celery_app.conf.task_eager_propagates = propagates


def test_beat_runs_the_ledger_task_on_working_days(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["fx-refresh-working-days"]
    assert entry["task"] == "ledger.tasks.fx_refresh" == fx_refresh.name
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"].day_of_week == {1, 2, 3, 4, 5}


@pytest.mark.django_db(transaction=True)
def test_refresh_runs_through_a_real_worker_on_redis(feed, celery_worker):
    result = fx_refresh.delay("oxr")
    summary = result.get(timeout=30)

    assert summary["ok"] is True and summary["created"] == 10
    assert FxRate.objects.get(currency="EUR", source="OXR").buy == Decimal("323.571429")
    assert feed.hits["/oxr.json"] == 1

    # Twice is harmless: the store is idempotent.
    again = fx_refresh.delay("oxr").get(timeout=30)
    assert again["created"] == 0 and FxRate.objects.count() == 10
    assert FxRefreshLog.objects.get(pk=again["log"]).unchanged == 10


@pytest.mark.django_db
def test_a_failing_feed_is_retried_with_exponential_backoff(feed, retries):
    """retry_backoff=2, no jitter, max_retries=5: countdowns 2, 4, 8, 16, 32 s, then it gives up."""
    feed.routes["/oxr.json"] = Route(b"down", status=500)

    result = fx_refresh.apply(args=["oxr"], throw=False)  # eager: retries run at once

    assert result.failed() and isinstance(result.result, FxFeedUnavailable)
    assert "HTTP 500" in str(result.result)

    assert retries == [2, 4, 8, 16, 32]
    assert feed.hits["/oxr.json"] == 6
    logs = FxRefreshLog.objects.filter(provider="oxr")
    assert logs.count() == 6 and not logs.filter(ok=True).exists()
    assert all(log.retryable for log in logs)
    assert FxRate.objects.count() == 0


@pytest.mark.django_db
def test_a_retry_that_succeeds_stores_the_rates(feed, retries):
    calls = {"n": 0}
    good = feed.routes["/oxr.json"]

    class FlakyOnce(Route):  # the first GET fails, the next one gets the real payload
        @property
        def status(self):
            calls["n"] += 1
            return 503 if calls["n"] == 1 else 200

        @status.setter
        def status(self, value):
            pass

    feed.routes["/oxr.json"] = FlakyOnce(good.body)
    result = fx_refresh.apply(args=["oxr"], throw=False)

    assert retries == [2]
    assert result.get()["created"] == 10
    assert list(FxRefreshLog.objects.order_by("id").values_list("ok", flat=True)) == [False, True]


@pytest.mark.django_db
def test_a_malformed_payload_is_not_retried(feed, retries):
    feed.routes["/oxr.json"] = Route(b"{not json")
    result = fx_refresh.apply(args=["oxr"])
    assert result.get()["ok"] is False
    assert retries == []


@pytest.mark.django_db
def test_one_provider_failing_never_stops_the_others(feed, retries):
    feed.routes["/oxr.json"] = Route(b"", status=500)
    FxRate.objects.create(
        currency="USD", date=ECB_DAY, source="MANUAL", buy=Decimal("280.5"), sell=Decimal("281")
    )

    assert fx_refresh.apply().get() == ["oxr", "ecb"]

    assert len(retries) == 5  # OXR tried six times and gave up
    assert FxRate.objects.filter(source="ECB").count() == 4
    assert FxRate.objects.filter(source="OXR").count() == 0
    assert FxRefreshLog.objects.filter(provider="ecb", ok=True).count() == 1


@pytest.mark.django_db
def test_without_a_feed_url_only_the_ecb_is_configured(feed, settings):
    settings.FX_FEED_URL = ""
    FxRate.objects.create(
        currency="USD", date=ECB_DAY, source="MANUAL", buy=Decimal("280.5"), sell=Decimal("281")
    )
    assert fx_refresh.apply().get() == ["ecb"]


@pytest.mark.django_db
def test_refresh_command_runs_every_provider_and_reports(feed, capsys):
    feed.routes["/ecb.xml"] = Route(b"", status=502)
    with pytest.raises(CommandError, match="FX refresh failed for ecb"):
        call_command("fx_refresh")
    captured = capsys.readouterr()
    assert "oxr: 2025-11-04 — 10 new (0 held), 0 updated, 0 unchanged." in captured.out
    assert "ecb: FAILED (transient), nothing stored: HTTP 502" in captured.err
    assert FxRate.objects.filter(source="OXR").count() == 10

    call_command("fx_refresh", "--provider", "oxr")
    assert "10 unchanged" in capsys.readouterr().out
