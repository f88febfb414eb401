"""Accounting scenarios checked to the cent at the ledger level (domain/rules.md worked example).

A firm receives USD 20,000.00. It retains 10,000.00 in its ESFCA and converts 10,000.00 at
280.7000 PKR/USD through its per-currency FX trading accounts: PKR 2,807,000.00 gross. Tax of
0.25 % is withheld on the gross proceeds (20,000.00 × 280.70 = 5,614,000.00 → 14,035.00), so the
PKR bank account is credited 2,792,965.00. Each currency sums to zero on its own.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from ledger.errors import AlreadyReversed, InsufficientFunds
from ledger.models import Entry, Transaction
from ledger.posting import credit, debit, transaction_post, transaction_reverse
from tests.ledger.conftest import ledger_state

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 14)
RATE = Decimal("280.7000")
CENT = Decimal("0.01")


def receipt_split(book):
    gross_usd = Decimal("20000.00")
    retained = Decimal("10000.00")
    converted = gross_usd - retained
    pkr_gross = (converted * RATE).quantize(CENT, rounding=ROUND_HALF_UP)
    tax = (gross_usd * RATE * Decimal("0.0025")).quantize(CENT, rounding=ROUND_HALF_UP)
    assert (pkr_gross, tax, pkr_gross - tax) == (
        Decimal("2807000.00"),
        Decimal("14035.00"),
        Decimal("2792965.00"),
    )
    return transaction_post(
        key="firm-1/receipt/INV-2025-031",
        kind=Transaction.Kind.RECEIPT,
        value_date=DAY,
        fx_rate=RATE,
        memo="Invoice INV-2025-031, Acme Corp",
        legs=[
            debit(book.esfca_usd, retained),
            debit(book.fx_usd, converted),
            credit(book.proceeds_usd, gross_usd),
            debit(book.pkr_bank, pkr_gross - tax),
            debit(book.tax_pkr, tax),
            credit(book.fx_pkr, pkr_gross),
        ],
    )


AFTER_RECEIPT = {
    "esfca_usd": Decimal("10000.00"),
    "fx_usd": Decimal("10000.00"),
    "proceeds_usd": Decimal("20000.00"),
    "pkr_bank": Decimal("2792965.00"),
    "tax_pkr": Decimal("14035.00"),
    "fx_pkr": Decimal("-2807000.00"),
    "cloud_usd": Decimal("0.00"),
}


def test_receipt_split_through_fx_trading_accounts(book):
    txn = receipt_split(book)

    assert book.balances() == AFTER_RECEIPT
    assert Transaction.objects.get(pk=txn.pk).fx_rate == Decimal("280.700000")
    per_currency = {}
    for entry in Entry.objects.filter(transaction=txn):
        dr, cr = per_currency.get(entry.currency, (Decimal(0), Decimal(0)))
        per_currency[entry.currency] = (dr + entry.debit, cr + entry.credit)
    assert per_currency == {
        "USD": (Decimal("20000.00"), Decimal("20000.00")),
        "PKR": (Decimal("2807000.00"), Decimal("2807000.00")),
    }
    # The trading accounts carry the conversion at the stored rate: 10,000.00 × 280.70.
    assert AFTER_RECEIPT["fx_usd"] * RATE == -AFTER_RECEIPT["fx_pkr"]


def test_allocation_then_its_reversal(book):
    receipt_split(book)

    allocation = transaction_post(
        key="firm-1/allocation/AWS-0425",
        kind=Transaction.Kind.ALLOCATION,
        value_date=DAY,
        memo="AWS invoice 0425",
        legs=[
            debit(book.cloud_usd, Decimal("2500.00")),
            credit(book.esfca_usd, Decimal("2500.00")),
        ],
    )
    assert book.balances() == {
        **AFTER_RECEIPT,
        "esfca_usd": Decimal("7500.00"),
        "cloud_usd": Decimal("2500.00"),
    }

    reversal = transaction_reverse(
        original=allocation, key="firm-1/reversal/AWS-0425", value_date=DAY
    )
    assert book.balances() == AFTER_RECEIPT
    assert reversal.reverses_id == allocation.pk
    assert Transaction.objects.count() == 3
    assert Entry.objects.count() == 10

    before = ledger_state()
    with pytest.raises(AlreadyReversed):
        transaction_reverse(original=allocation, key="firm-1/reversal/AWS-0425-bis", value_date=DAY)
    assert ledger_state() == before


def test_allocation_beyond_the_esfca_balance_is_refused_to_the_cent(book):
    receipt_split(book)
    before = ledger_state()

    with pytest.raises(InsufficientFunds) as caught:
        transaction_post(
            key="firm-1/allocation/too-much",
            kind=Transaction.Kind.ALLOCATION,
            value_date=DAY,
            legs=[
                debit(book.cloud_usd, Decimal("10000.01")),
                credit(book.esfca_usd, Decimal("10000.01")),
            ],
        )

    assert caught.value.details["balance"] == "10000.00"
    assert ledger_state() == before
    assert book.balances() == AFTER_RECEIPT


def test_reversing_the_receipt_restores_every_account_to_zero(book):
    receipt = receipt_split(book)
    transaction_reverse(original=receipt, key="firm-1/reversal/INV-2025-031", value_date=DAY)
    assert set(book.balances().values()) == {Decimal("0.00")}
    assert Transaction.objects.get(reverses=receipt).fx_rate == Decimal("280.700000")
