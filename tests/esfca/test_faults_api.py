"""Issue 15, "Resilience": the test command's PostgreSQL stopped, then restarted during
parallel API writes, behind gunicorn (gthread, persistent connections).

Before: a request whose database connection was cut answered 500 (and a connection kept
from before a restart failed the next request on it). Now: a lost or refused connection is
a 503 ``service_unavailable`` (JSON under ``/api/``, a page elsewhere) whose transaction
posted nothing; a persistent connection is checked before reuse; sent again with the same
reference, every receipt and allocation is recorded exactly once, and the books balance."""

import http.client
import io
import json
import sqlite3
import threading
import time
from collections import defaultdict
from decimal import Decimal
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, OperationalError
from django.db.models import Sum
from django.test import Client
from rest_framework.authtoken.models import Token

from esfca.database import UNAVAILABLE_MESSAGE, connection_lost
from esfca.models import Allocation, Receipt
from ledger.models import Account
from ledger.verify import ledger_verify
from tests.esfca.faults import Cluster, gunicorn
from tests.esfca.second_factor import log_in
from tests.esfca.views.world import make_world

THREADS = 8
AFTER_RESTART = 6  # keys each thread sends once the restart is over


class Http:
    """Plain HTTP to the server, one connection per request (as independent clients)."""

    def __init__(self, base: str, token: str = "", cookie: str = ""):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        if cookie:
            self.headers["Cookie"] = cookie

    def __call__(self, method: str, path: str, body=None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            data = json.dumps(body) if body is not None else None
            conn.request(method, path, body=data, headers=self.headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            conn.close()


def unavailable(status: int, headers: dict, text: str) -> bool:
    """A clean 503: the contract's error body, saying what happened and what to do."""
    if status != 503:
        return False
    assert json.loads(text) == {
        "error": {"code": "service_unavailable", "message": UNAVAILABLE_MESSAGE, "details": {}}
    }
    assert headers["Retry-After"] == "5"
    return True


def receipt(world, key: str, n: int) -> dict:
    return {
        "reference": key, "value_date": world.today.isoformat(), "amount": f"{1000 + n}.00",
        "currency": "USD", "client_name": "Acme Inc.", "client_country": "US",
        "purpose_code": "9184",
    }  # fmt: skip


def allocation(world, key: str, n: int) -> dict:
    return {
        "reference": key, "value_date": world.today.isoformat(),
        "category": "cloud_infrastructure", "amount": f"{10 + n % 5}.25", "currency": "USD",
        "payee_name": "Amazon Web Services EMEA SARL", "payee_country": "LU",
    }  # fmt: skip


def esfca_usd(world) -> Account:
    return Account.objects.get(owner=world.firm, kind=Account.Kind.ESFCA, currency="USD")


def raised(wrapper, driver: Exception) -> Exception:
    """``driver`` raised as Django raises it: wrapped, the driver's error as its cause."""
    try:
        raise wrapper(*driver.args) from driver
    except Exception as exc:
        return exc


def test_a_connection_lost_is_told_from_a_refused_statement():
    lost = [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.ConnectionFailure("connection failure"),
    ]
    refused = [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("no such table: esfca_receipt"),
    ]
    assert [connection_lost(raised(OperationalError, e)) for e in lost] == [True] * 4
    assert [connection_lost(raised(OperationalError, e)) for e in refused] == [False] * 4
    assert not connection_lost(raised(IntegrityError, psycopg.errors.UniqueViolation("dup")))
    assert not connection_lost(ValueError("the connection is closed"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_the_database_stopped_answers_503_on_pages_and_the_api(tmp_path):
    cluster = Cluster()
    world = make_world()
    client = log_in(Client(), world.officer)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    token = Token.objects.create(user=world.officer).key
    receipts = f"/api/v1/firms/{world.firm.pk}/receipts/"
    dashboard = f"/firms/{world.firm.pk}/"
    log = tmp_path / "gunicorn.log"
    with gunicorn(log, workers=1, threads=2) as base:
        api, page = Http(base, token=token), Http(base, cookie=cookie)
        assert page("GET", dashboard)[0] == 200  # the workers hold connections from now on
        with cluster.stopped():
            status, headers, text = page("GET", dashboard)
            assert (status, headers["Retry-After"]) == (503, "5"), text
            assert "The database is not answering (it may be restarting)." in text
            assert "Try again in a few seconds." in text
            assert unavailable(*api("POST", receipts, receipt(world, "DOWN-1", 1)))
            assert unavailable(*api("GET", f"/api/v1/firms/{world.firm.pk}/balances/"))
        # Back: the connections broken by the stop are replaced, nothing failed on them.
        assert api("POST", receipts, receipt(world, "DOWN-1", 1))[0] == 201
        assert page("GET", dashboard)[0] == 200
        assert api("POST", receipts, receipt(world, "DOWN-1", 1))[0] == 200  # a replay
    assert "Internal Server Error" not in log.read_text()
    assert Receipt.objects.filter(reference="DOWN-1").count() == 1
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_postgresql_restarted_during_parallel_api_writes(tmp_path):
    """8 clients record receipts and allocations (new references, one after the other),
    each sending a request again after a 503 until it is answered; the cluster restarts
    (``pg_ctl restart -m fast``) once each has some recorded, and they go on for a few keys
    after. Every answer is 201, 200 (the replay of a try that was recorded) or a clean 503;
    every reference is recorded once; the ESFCA's balance is exactly what was recorded."""
    cluster = Cluster()
    world = make_world()
    token = Token.objects.create(user=world.officer).key
    before = esfca_usd(world).balance
    firm = f"/api/v1/firms/{world.firm.pk}"
    answers: dict[str, list[tuple[int, dict, str]]] = defaultdict(list)
    restarted, failures = threading.Event(), []
    counts = [0] * THREADS

    def client(t: int) -> None:
        call = Http(base, token=token)
        n, after = 0, 0
        deadline = time.monotonic() + 90
        try:
            while after < AFTER_RESTART and time.monotonic() < deadline:
                kind, make = ("R", receipt) if n % 2 == 0 else ("A", allocation)
                key = f"{kind}-{t}-{n:03d}"
                path = f"{firm}/receipts/" if kind == "R" else f"{firm}/allocations/"
                while True:  # the same request until it is answered
                    answer = call("POST", path, make(world, key, n))
                    answers[key].append(answer)
                    if answer[0] != 503 or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                n, counts[t] = n + 1, n + 1
                after += restarted.is_set()
        except Exception as exc:  # reported by the test, not lost in a thread
            failures.append(repr(exc))

    log = tmp_path / "gunicorn.log"
    with gunicorn(log) as base:
        threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while min(counts) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        took = cluster.ctl("restart")
        restarted.set()
        for thread in threads:
            thread.join(120)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)

    statuses = defaultdict(int)
    for key, tries in answers.items():
        *retried, (last, _, text) = tries
        assert last in (200, 201), (key, last, text)
        assert all(unavailable(*answer) for answer in retried), (key, retried)
        if last == 200:  # a replay: only of a try that was recorded before its 503
            assert retried, (key, text)
        for status, _, _ in tries:
            statuses[status] += 1
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[503] >= 1, f"no request met the restart ({took:.1f} s): {statuses}"
    assert "Internal Server Error" not in log.read_text()

    # Each reference recorded exactly once, and nothing else.
    receipts = Receipt.objects.filter(firm=world.firm, reference__regex=r"^R-\d+-\d+$")
    allocations = Allocation.objects.filter(firm=world.firm, reference__regex=r"^A-\d+-\d+$")
    assert sorted(receipts.values_list("reference", flat=True)) == sorted(
        k for k in answers if k.startswith("R-")
    )
    assert sorted(allocations.values_list("reference", flat=True)) == sorted(
        k for k in answers if k.startswith("A-")
    )
    # The ESFCA holds exactly what was retained less what was allocated.
    retained = receipts.aggregate(s=Sum("retained"))["s"]
    spent = allocations.aggregate(s=Sum("amount"))["s"]
    assert esfca_usd(world).balance == before + retained - spent
    assert spent == sum(
        Decimal(allocation(world, k, int(k.rsplit("-", 1)[1]))["amount"])
        for k in answers
        if k.startswith("A-")
    )
    report = ledger_verify()
    assert report.ok, report.problems
    out = io.StringIO()
    call_command("esfca_verify", stdout=out)
    assert "consistent" in out.getvalue()
