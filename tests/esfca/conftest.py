import os
import secrets
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from esfca.models import AuditEvent, Receipt
from esfca.services import firm_account_open
from esfca.services.days import client_months_verify, receipt_days_verify
from esfca.services.tallies import receipt_tallies_verify
from exporters.models import Firm
from exporters.validators import iban_pk
from ledger.models import Account, Entry, FxRate, Transaction
from ledger.verify import ledger_verify
from tests.exporters.factories import BankFactory, FirmFactory, UserFactory


def open_firm(
    *,
    kind: str = Firm.Kind.IT_COMPANY,
    registration_body: str = Firm.RegistrationBody.PSEB,
    currencies=("USD",),
    **fields,
) -> Firm:
    firm = FirmFactory(kind=kind, registration_body=registration_body, **fields)
    bank = BankFactory()
    for n, currency in enumerate(("PKR", *currencies)):
        firm_account_open(
            firm=firm, bank=bank, currency=currency, iban=iban_pk(bank.code, firm.pk * 100 + n)
        )
    return firm


ROOT = Path(__file__).resolve().parents[2]


def sqlite_manage(db_file: Path):
    """``manage.py`` run in processes of their own on the SQLite file ``db_file`` (the
    embedded setup, without PostgreSQL or Redis): ``(env, manage)`` where
    ``manage(*args)`` returns the completed process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{db_file}",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )

    def manage(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip

    return env, manage


def set_rate(currency: str, day: date, buy: str, sell: str | None = None, source="SBP-WACR"):
    return FxRate.objects.create(
        currency=currency, date=day, source=source, buy=Decimal(buy), sell=Decimal(sell or buy)
    )


def esfca_balance(firm: Firm, currency: str = "USD") -> Decimal:
    return Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency=currency).balance


def snapshot():
    """Everything a refused request must leave untouched."""
    return (
        Entry.objects.count(),
        Transaction.objects.count(),
        Receipt.objects.count(),
        AuditEvent.objects.count(),
        dict(Account.objects.values_list("pk", "balance")),
    )


@pytest.fixture
def officer():
    return UserFactory()


@pytest.fixture(autouse=True)
def ledger_proves_itself(request):
    """Every test that moved money leaves a ledger that `ledger_verify` accepts."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    transactional = marker.kwargs.get("transaction", False)
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    if "ledger_corrupted_on_purpose" in request.fixturenames:
        return
    report = ledger_verify()
    assert report.ok, report.problems
    assert receipt_days_verify() == []
    assert receipt_tallies_verify() == []
    assert client_months_verify() == []


@pytest.fixture
def ledger_corrupted_on_purpose():
    """Requested by the tests that break the ledger to see the checker catch it."""
