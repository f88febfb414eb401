"""A worked month for the summaries: October 2025 of a PSEB-registered IT company.

Money moves only through the services (``receipt_record``, ``allocation_create``,
``conversion_create``, ``transfer_create``). The clock is the only thing mocked: each
movement is *booked* on a chosen day (``booked_on``), as if the officer recorded it then.

The worked figures (rules.md §2–§3, rule of 2023-10-23: 50 %, USD 5,000 floor; tax 0.25 %):

- 2025-09-15 USD 4,000.00: floor → 4,000, tax cap → retained 3,990.00 (October opens at it).
- 2025-10-06 USD 4,000.00 at the bank's 280.5000: retained 3,990.00, converted 10.00,
  PKR 2,805.00 gross − tax 2,805.00 = 0.00 credited.
- 2025-10-08 USD 20,000.00 at the table's 280.6469: P = 24,000 → 12,000 − 3,990 =
  8,010.00 retained, 11,990.00 converted: PKR 3,364,956.33 − tax 14,032.35 = 3,350,923.98.
- 2025-10-10 EUR 5,000.00 retaining 1,000.00 at 325.1234: converted 4,000.00,
  PKR 1,300,493.60 − tax 4,064.04 = 1,296,429.56.
- 2025-10-20 USD 2,500.00 cloud (LU); 2025-10-21 USD 1,000.50 software (US).
- 2025-10-22 USD 500.00 converted at 280.9000 (PKR 140,450.00).
- 2025-10-23 EUR 200.00 to the USD ESFCA at 325.0000 / 281.0000 = USD 231.32.
- USD closing 3,990 + 12,000 − 3,500.50 − 500 + 231.32 = 12,220.82; EUR 1,000 − 200 = 800.00.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from esfca import services
from exporters.models import Bank, Firm, Membership, User
from exporters.services import user_create
from exporters.validators import iban_pk
from ledger.models import Account, FxRate
from tests.exporters.factories import BankFactory, FirmFactory

KARACHI = ZoneInfo("Asia/Karachi")
OCTOBER = date(2025, 10, 1)


@contextmanager
def booked_on(day: date, hour: int = 11):
    """The clock reads ``day`` (Karachi time): records are created and filed then."""
    moment = datetime.combine(day, time(hour), tzinfo=KARACHI)
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def rate(currency: str, day: date, buy: str, source=FxRate.Source.SBP_WACR) -> FxRate:
    return FxRate.objects.create(
        currency=currency, date=day, source=source, buy=Decimal(buy), sell=Decimal(buy)
    )


def open_firm(bank: Bank, *, currencies=("USD", "EUR"), **fields) -> Firm:
    firm = FirmFactory(**fields)
    for n, currency in enumerate(("PKR", *currencies)):
        services.firm_account_open(
            firm=firm, bank=bank, currency=currency, iban=iban_pk(bank.code, firm.pk * 100 + n)
        )
    return firm


def esfca(firm: Firm, currency: str) -> Account:
    return Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency=currency)


def receipt(firm, ref, day, amount, currency="USD", *, booked=None, **fields):
    fields.setdefault("client_name", "Client")
    fields.setdefault("client_country", "AE")
    fields.setdefault("purpose_code", "9184")
    with booked_on(booked or day):
        r, _ = services.receipt_record(
            firm=firm,
            actor=None,
            reference=ref,
            value_date=day,
            amount=Decimal(amount),
            currency=currency,
            **fields,
        )
    return r


def allocation(firm, ref, day, amount, category, payee_country, currency="USD", **fields):
    with booked_on(day):
        a, _ = services.allocation_create(
            firm=firm,
            actor=None,
            reference=ref,
            value_date=day,
            category=category,
            amount=Decimal(amount),
            currency=currency,
            payee_name=fields.pop("payee_name", "Payee"),
            payee_country=payee_country,
            **fields,
        )
    return a


def conversion(firm, ref, day, amount, currency="USD", rate=None, booked=None):
    with booked_on(booked or day):
        c, _ = services.conversion_create(
            firm=firm,
            actor=None,
            reference=ref,
            value_date=day,
            amount=Decimal(amount),
            currency=currency,
            rate=Decimal(rate) if rate else None,
        )
    return c


def october_rates():
    """SBP-WACR buying rates for every day the worked month uses."""
    for day, usd, eur in [
        (date(2025, 9, 15), "280.1000", None),
        (date(2025, 10, 6), "280.4000", None),
        (date(2025, 10, 8), "280.6469", None),
        (date(2025, 10, 10), "280.7000", "325.1234"),
        (date(2025, 10, 20), "280.8000", None),
        (date(2025, 10, 21), "280.8000", None),
        (date(2025, 10, 22), "280.9000", None),
        (date(2025, 10, 23), "281.0000", "325.0000"),
        (date(2025, 10, 28), "281.1000", "325.2000"),
        (date(2025, 11, 3), "281.2000", None),
    ]:
        rate("USD", day, usd)
        if eur:
            rate("EUR", day, eur)


@dataclass
class World:
    bank: Bank
    firm: Firm
    officer: User
    viewer: User
    reviewer: User
    other_bank: Bank
    other_firm: Firm
    other_officer: User
    other_reviewer: User


def make_world(*, worked_month: bool = True) -> World:
    bank = BankFactory(code="SCBL", name="Standard Chartered Bank (Pakistan)")
    other_bank = BankFactory(code="HABB", name="Habib Bank Limited")
    firm = open_firm(bank, name="Karachi Code Works", ntn="1234567-8")
    other_firm = open_firm(other_bank, name="Lahore Pixels", ntn="7654321-0")
    pw = "a long test password 1"

    def user(name, role, **scope):
        return user_create(
            username=name, password=pw, email=f"{name}@example.com", role=role, **scope
        )

    world = World(
        bank=bank,
        firm=firm,
        officer=user("officer", Membership.Role.FINANCE_OFFICER, firm=firm),
        viewer=user("viewer", Membership.Role.FIRM_VIEWER, firm=firm),
        reviewer=user("reviewer", Membership.Role.BANK_REVIEWER, bank=bank),
        other_bank=other_bank,
        other_firm=other_firm,
        other_officer=user("other_officer", Membership.Role.FINANCE_OFFICER, firm=other_firm),
        other_reviewer=user("other_reviewer", Membership.Role.BANK_REVIEWER, bank=other_bank),
    )
    october_rates()
    if worked_month:
        record_worked_month(firm)
    return world


def record_worked_month(firm: Firm) -> None:
    receipt(firm, "SEP-1", date(2025, 9, 15), "4000.00", client_country="US")
    receipt(firm, "OCT-1", date(2025, 10, 6), "4000.00", conversion_rate=Decimal("280.5000"))
    receipt(firm, "OCT-2", date(2025, 10, 8), "20000.00", client_country="US", purpose_code="9182")
    receipt(
        firm, "OCT-3", date(2025, 10, 10), "5000.00", "EUR", retain=Decimal("1000.00"),
        client_country="DE",
    )  # fmt: skip
    allocation(firm, "AWS-1", date(2025, 10, 20), "2500.00", "cloud_infrastructure", "LU")
    allocation(firm, "GH-1", date(2025, 10, 21), "1000.50", "software_subscriptions", "US")
    conversion(firm, "CONV-1", date(2025, 10, 22), "500.00")
    with booked_on(date(2025, 10, 23)):
        services.transfer_create(
            firm=firm,
            actor=None,
            reference="TR-1",
            value_date=date(2025, 10, 23),
            from_account_id=esfca(firm, "EUR").pk,
            to_account_id=esfca(firm, "USD").pk,
            amount=Decimal("200.00"),
        )
    receipt(firm, "NOV-1", date(2025, 11, 3), "1000.00")  # next month: not October's


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.fixture
def bare_world(db) -> World:
    """The same tenants and rates, no movements."""
    return make_world(worked_month=False)


@pytest.fixture
def artifacts():
    """Where sample documents go (``make test`` sets ESFCA_ARTIFACTS); None: not kept."""
    folder = os.environ.get("ESFCA_ARTIFACTS")
    if not folder:
        return None
    path = Path(folder) / "summaries"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """The worked world creates five users per test: skip the slow key stretching."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
