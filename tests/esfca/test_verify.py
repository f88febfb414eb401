"""ledger_verify proves every movement's figures are its entries: a ledger rewritten
consistently (both legs and both balances, the immutability trigger off) still balances,
and is caught at the movement it no longer matches."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from esfca.services import conversion_create, movement_reverse, transfer_create
from ledger.models import Account
from ledger.verify import ledger_verify

from .conftest import open_firm, set_rate
from .test_allocations import allocate, fund

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("require_postgresql", "ledger_corrupted_on_purpose"),
]
DAY, TODAY = date(2025, 11, 4), date(2025, 11, 30)


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def trigger(table, state):
    """The tables' owner turns a trigger off (or on); the deferred checks run first."""
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql(f"ALTER TABLE {table} {state} TRIGGER USER")


def every_kind(firm):
    set_rate("EUR", DAY, "300.0000")
    receipt = fund(firm)
    allocation, _ = allocate(firm)
    conversion, _ = conversion_create(
        firm=firm, actor=None, reference="CONV-1", value_date=DAY, currency="USD",
        amount=D("100.00"), today=TODAY,
    )  # fmt: skip
    usd = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="USD")
    eur = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="EUR")
    transfer, _ = transfer_create(
        firm=firm, actor=None, reference="TR-1", value_date=DAY, from_account_id=usd.pk,
        to_account_id=eur.pk, amount=D("200.00"), today=TODAY,
    )  # fmt: skip
    reversal, _ = movement_reverse(
        firm=firm, actor=None, kind="transfer", movement_id=transfer.pk, reference="REV-1",
        reason="wrong account", today=TODAY,
    )  # fmt: skip
    return receipt, allocation, conversion, transfer, reversal


def test_every_kind_of_movement_and_a_reversal_prove_their_entries(capsys):
    set_rate("USD", DAY, "280.0000")
    firm = open_firm(currencies=("USD", "EUR"))
    every_kind(firm)
    report = ledger_verify()
    assert report.ok, report.problems
    assert report.checked["movements"] == 5
    call_command("ledger_verify")
    assert "transactions checked; 5 movements proved" in capsys.readouterr().out


def test_a_receipt_rewritten_consistently_is_named():
    set_rate("USD", DAY, "280.0000")
    firm = open_firm()
    receipt = fund(firm)  # 20,000 USD: 10,000 retained in the ESFCA
    esfca = Account.objects.get(pk=receipt.esfca_id)
    proceeds = Account.objects.get(owner=firm, kind=Account.Kind.CLIENT_PROCEEDS)
    # What the owner of the tables (here the test's superuser) could do: both legs and both
    # balances moved by 9,000, the trigger off, every ledger invariant kept.
    trigger("ledger_entry", "DISABLE")
    sql(
        "UPDATE ledger_entry SET debit = debit - 9000 WHERE transaction_id = %s "
        "AND account_id = %s",
        [receipt.transaction_id, esfca.pk],
    )
    sql(
        "UPDATE ledger_entry SET credit = credit - 9000 WHERE transaction_id = %s "
        "AND account_id = %s",
        [receipt.transaction_id, proceeds.pk],
    )
    sql(
        "UPDATE ledger_account SET balance = balance - 9000 WHERE id IN (%s, %s)",
        [esfca.pk, proceeds.pk],
    )
    trigger("ledger_entry", "ENABLE")

    problems = ledger_verify().problems
    name = f"receipt {receipt.pk} (R1, firm {firm.pk})"
    debits = receipt.amount.amount + receipt.pkr_credited + receipt.tax_withheld
    assert problems == [
        f"{name}: the ESFCA: the entries move 1000.00, the receipt says 10000.00",
        f"{name}: client proceeds: the entries move -11000.00, the receipt says -20000.00",
        f"{name}: debits: the entries move {debits - 9000}, the receipt says {debits}",
    ]
    with pytest.raises(CommandError, match="ledger NOT consistent: 3 problems"):
        call_command("ledger_verify")


def test_a_reversal_no_longer_the_negation_of_its_original_is_named():
    set_rate("USD", DAY, "280.0000")
    firm = open_firm(currencies=("USD", "EUR"))
    *_, reversal = every_kind(firm)
    trigger("ledger_transaction", "DISABLE")
    sql(
        "UPDATE ledger_transaction SET value_date = %s WHERE id = %s",
        [TODAY, reversal.transaction_id],
    )
    trigger("ledger_transaction", "ENABLE")
    assert ledger_verify().problems == [
        f"transfer {reversal.pk} (REV-1, firm {firm.pk}): its transaction is dated otherwise"
    ]
