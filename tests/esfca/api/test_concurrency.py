"""Twenty allocations at once against funds for only some of them, over real HTTP.

rules.md §4: "the ESFCA balance ... checked and debited atomically (two concurrent
allocations can never both pass on the same last funds)". Once on PostgreSQL (row
locks) behind pytest-django's threaded live server, once on SQLite behind a threaded
``runserver`` in a subprocess (IMMEDIATE transactions): no client ever sees a 5xx or
"database is locked".
"""

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from esfca.services import receipt_record
from ledger.models import Account
from ledger.verify import ledger_verify

from ..conftest import ROOT, sqlite_manage
from .conftest import make_world

REQUESTS = 20
AMOUNT = Decimal("700.00")
RETAINED = Decimal("10000.00")  # USD 20,000.00, PSEB, first of the month: 50%
FUNDED = int(RETAINED // AMOUNT)  # 14 fit; 6 must be refused


def allocation(n: int) -> dict:
    return {
        "reference": f"PAR-{n:02d}",
        "value_date": "2025-11-20",
        "category": "cloud_infrastructure",
        "amount": str(AMOUNT),
        "currency": "USD",
        "payee_name": "Amazon Web Services EMEA SARL",
        "payee_country": "LU",
    }


def fire(base_url: str, path: str, token: str) -> list[tuple[int, str]]:
    """POST the 20 allocations from 20 threads released together; (status, body) each."""
    parts = urlsplit(base_url)
    barrier = threading.Barrier(REQUESTS)
    results: list[tuple[int, str] | None] = [None] * REQUESTS

    def one(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        body = json.dumps(allocation(n))
        headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        barrier.wait()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            results[n] = (response.status, response.read().decode())
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert all(r is not None for r in results), results
    return results  # type: ignore[return-value]


def check_outcomes(results: list[tuple[int, str]]) -> None:
    for status, body in results:
        assert status < 500, body
        assert "database is locked" not in body
    created = [json.loads(body) for status, body in results if status == 201]
    refused = [json.loads(body) for status, body in results if status != 201]
    assert len(created) == FUNDED, results
    assert len(refused) == REQUESTS - FUNDED, results
    assert {r["error"]["code"] for r in refused} == {"insufficient_funds"}
    assert {status for status, _ in results} == {201, 400}
    # Each success saw the balance its own debit left: all distinct, none below zero.
    after = sorted(Decimal(a["balance_after"]) for a in created)
    expected = [RETAINED - AMOUNT * k for k in range(1, FUNDED + 1)]
    assert after == sorted(expected)


@pytest.mark.django_db(transaction=True)
def test_parallel_allocations_on_postgresql(live_server):
    assert connection.vendor == "postgresql", "run with `make test` (PostgreSQL)"
    world = make_world()
    own = world.own
    receipt_record(
        firm=own.firm,
        actor=own.officer,
        reference="FUND-1",
        value_date=date(2025, 11, 4),
        amount=Decimal("20000.00"),
        currency="USD",
        conversion_rate=Decimal("280.7000"),
        client_name="Gulf Retail LLC",
        client_country="AE",
    )
    esfca = Account.objects.get(pk=own.esfca_usd.pk)
    assert esfca.balance == RETAINED
    token = Token.objects.create(user=own.officer).key

    results = fire(live_server.url, f"/api/v1/firms/{own.firm.pk}/allocations/", token)

    check_outcomes(results)
    esfca.refresh_from_db()
    assert esfca.balance == RETAINED - AMOUNT * FUNDED
    assert esfca.balance >= 0
    report = ledger_verify()
    assert report.ok, report.problems


# --- SQLite, threaded runserver in a subprocess -----------------------------------------------

SETUP = """
import json
from datetime import date
from decimal import Decimal
from rest_framework.authtoken.models import Token
from esfca.services import receipt_record
from tests.esfca.api.conftest import make_world
world = make_world()
own = world.own
receipt_record(firm=own.firm, actor=own.officer, reference="FUND-1", value_date=date(2025, 11, 4),
    amount=Decimal("20000.00"), currency="USD", conversion_rate=Decimal("280.7000"),
    client_name="Gulf Retail LLC", client_country="AE")
print("SETUP" + json.dumps({"firm": own.firm.pk, "esfca": own.esfca_usd.pk,
    "token": Token.objects.create(user=own.officer).key}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"runserver did not start:\n{log.read_text()}")


def test_parallel_allocations_on_sqlite_threaded_server(tmp_path):
    env, manage = sqlite_manage(tmp_path / "race.sqlite3")
    migrated = manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    setup = manage("shell", "-c", SETUP)
    assert setup.returncode == 0, setup.stderr
    ids = json.loads(setup.stdout.split("SETUP", 1)[1])

    port = _free_port()
    log = tmp_path / "runserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(port, server, log)
        results = fire(
            f"http://127.0.0.1:{port}", f"/api/v1/firms/{ids['firm']}/allocations/", ids["token"]
        )
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "GET",
            f"/api/v1/firms/{ids['firm']}/balances/",
            headers={"Authorization": f"Token {ids['token']}"},
        )
        balances = json.loads(conn.getresponse().read())
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    server_log = log.read_text()
    assert "database is locked" not in server_log, server_log
    assert "Traceback" not in server_log, server_log
    check_outcomes(results)
    usd = next(a for a in balances["accounts"] if a["id"] == ids["esfca"])
    assert Decimal(usd["balance"]) == RETAINED - AMOUNT * FUNDED
    verified = manage("ledger_verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
