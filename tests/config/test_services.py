"""The suite runs on the real services the test command starts."""

import os

import pytest
from django.db import connection

from config.celery_app import ping

pytestmark = pytest.mark.django_db


def test_database_vendor_matches_database_url():
    url = os.environ.get("DATABASE_URL", "sqlite")
    expected = "postgresql" if url.startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    if os.environ.get("ESFCA_REQUIRE_SERVICES") == "1":
        assert connection.vendor == "postgresql"
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            assert cursor.fetchone()[0].startswith("15")


def test_task_runs_eagerly_without_a_broker():
    result = ping.delay("eager")
    assert result.get(timeout=1) == "eager"
    assert type(result).__name__ == "EagerResult"


@pytest.mark.django_db(transaction=True)
def test_task_round_trips_through_a_real_worker_on_redis(celery_worker):
    result = ping.delay("through-redis")
    assert type(result).__name__ == "AsyncResult"
    assert result.get(timeout=20) == "through-redis"
