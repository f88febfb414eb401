import importlib
import os

import pytest
from django.db import connection
from django.db.backends.postgresql.operations import DatabaseOperations

from config.celery_app import app as celery_app


@pytest.fixture(autouse=True)
def celery_eager():
    """Tasks run in-process unless a test asks for the real worker (``celery_worker``)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def celery_worker(celery_eager):
    """A real Celery worker thread consuming from the Redis broker of the test command."""
    from celery.contrib.testing.worker import start_worker

    broker = os.environ.get("CELERY_BROKER_URL")
    assert broker and broker.startswith("redis://"), (
        "this test needs the Redis broker that `make test` starts (CELERY_BROKER_URL)"
    )
    celery_app.conf.task_always_eager = False
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield celery_app


@pytest.fixture(autouse=True)
def seeded_rules(request):
    """Transactional tests flush every table, data-migration rows included: re-seed the
    rule versions and parameters of rules.md (the same function the migration runs)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    transactional = marker.kwargs.get("transaction", False)
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.apps import apps

    from esfca.models import RetentionRuleVersion

    if not RetentionRuleVersion.objects.exists():
        importlib.import_module("esfca.migrations.0002_seed_rules").seed(apps, None)
    yield


@pytest.fixture
def require_postgresql():
    """`make test` runs on PostgreSQL; these tests check its triggers and row locks."""
    assert connection.vendor == "postgresql", (
        "PostgreSQL-only test (triggers, row locks): run it with `make test`"
    )


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin client, past the second factor a superuser must pass
    (esfca/second_factor.py; tests/esfca/second_factor.py)."""
    from tests.esfca.second_factor import log_in

    return log_in(client, admin_user)


@pytest.fixture(autouse=True, scope="session")
def flush_past_the_append_only_audit():
    """The audit table refuses TRUNCATE (its trigger), and a transactional test's flush
    truncates every table: the flush runs in replica mode, where ordinary triggers do not
    fire, a setting only a superuser (the test command's) may make."""
    sql_flush = DatabaseOperations.sql_flush

    def flush_in_replica_mode(self, style, tables, **kwargs):
        statements = sql_flush(self, style, tables, **kwargs)
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else []

    DatabaseOperations.sql_flush = flush_in_replica_mode
    yield
    DatabaseOperations.sql_flush = sql_flush


@pytest.fixture(autouse=True)
def audit_verified_after(request):
    """Every test that touched the database leaves audit chains that prove themselves."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or "audit_tampered_on_purpose" in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    yield
    if connection.closed_in_transaction:  # a command line ran (it closes the connection)
        return
    from esfca.audit_verify import audit_verify

    report = audit_verify()
    assert report.ok, report.problems


@pytest.fixture
def audit_tampered_on_purpose():
    """Requested by the tests that break the audit chains to see the checker catch it."""
