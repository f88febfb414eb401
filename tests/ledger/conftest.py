from dataclasses import dataclass
from decimal import Decimal

import pytest

from ledger.models import Account, Entry, Transaction
from ledger.services import account_open
from ledger.verify import ledger_verify
from tests.exporters.factories import BankFactory, FirmFactory


def ledger_state():
    """Everything a refused posting must leave untouched."""
    return (
        Entry.objects.count(),
        Transaction.objects.count(),
        dict(Account.objects.values_list("pk", "balance")),
    )


@pytest.fixture(autouse=True)
def ledger_verified_after(request):
    """Every ledger test that touched the database leaves a ledger that proves itself."""
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


@pytest.fixture
def ledger_corrupted_on_purpose():
    """Requested by the tests that break the ledger to see the checker catch it."""


@dataclass
class Book:
    """One firm's accounts, as a receipt, a conversion and an allocation need them."""

    firm: object
    esfca_usd: Account
    pkr_bank: Account
    fx_usd: Account
    fx_pkr: Account
    proceeds_usd: Account
    tax_pkr: Account
    cloud_usd: Account

    def accounts(self):
        return [
            self.esfca_usd,
            self.pkr_bank,
            self.fx_usd,
            self.fx_pkr,
            self.proceeds_usd,
            self.tax_pkr,
            self.cloud_usd,
        ]

    def balances(self) -> dict[str, Decimal]:
        stored = dict(Account.objects.values_list("pk", "balance"))
        names = [
            "esfca_usd",
            "pkr_bank",
            "fx_usd",
            "fx_pkr",
            "proceeds_usd",
            "tax_pkr",
            "cloud_usd",
        ]
        return {name: stored[getattr(self, name).pk] for name in names}


def open_book() -> Book:
    firm = FirmFactory()
    bank = BankFactory()
    return Book(
        firm=firm,
        esfca_usd=account_open(kind=Account.Kind.ESFCA, currency="USD", owner=firm, bank=bank),
        pkr_bank=account_open(kind=Account.Kind.PKR_BANK, currency="PKR", owner=firm, bank=bank),
        fx_usd=account_open(kind=Account.Kind.FX_TRADING, currency="USD", owner=firm),
        fx_pkr=account_open(kind=Account.Kind.FX_TRADING, currency="PKR", owner=firm),
        proceeds_usd=account_open(kind=Account.Kind.CLIENT_PROCEEDS, currency="USD", owner=firm),
        tax_pkr=account_open(kind=Account.Kind.TAX_WITHHELD, currency="PKR", owner=firm),
        cloud_usd=account_open(
            kind=Account.Kind.PAYEE,
            currency="USD",
            owner=firm,
            category="cloud_infrastructure",
        ),
    )


@pytest.fixture
def book(db) -> Book:
    return open_book()
