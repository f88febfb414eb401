"""`manage.py ledger_verify`: proves a clean ledger, reports a broken one by account."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connection

from ledger.models import Transaction
from ledger.posting import credit, debit, transaction_post
from ledger.verify import ledger_verify

pytestmark = pytest.mark.django_db


def post_receipt(book):
    return transaction_post(
        key="rcpt",
        kind=Transaction.Kind.RECEIPT,
        value_date=dt.date(2025, 3, 14),
        legs=[
            debit(book.esfca_usd, Decimal("500.00")),
            credit(book.proceeds_usd, Decimal("500.00")),
        ],
    )


def test_clean_ledger_passes(book, capsys):
    post_receipt(book)
    call_command("ledger_verify")
    out = capsys.readouterr().out
    assert "ledger consistent: 7 accounts, 1 transactions checked" in out


def test_empty_ledger_passes(db, capsys):
    call_command("ledger_verify")
    assert "ledger consistent: 0 accounts, 0 transactions" in capsys.readouterr().out


def test_corrupted_stored_balance_fails_with_a_report_naming_the_account(
    book, capsys, ledger_corrupted_on_purpose
):
    post_receipt(book)
    # Accounts aren't immutable (their balance moves), so raw SQL can break one: the checker sees.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_account SET balance = balance + 0.01 WHERE id = %s", [book.esfca_usd.pk]
        )

    with pytest.raises(CommandError, match="ledger NOT consistent: 1 problems"):
        call_command("ledger_verify")

    err = capsys.readouterr().err
    assert (
        f"account {book.esfca_usd.pk}: stored balance 500.01 but its entries sum to 500.00" in err
    )
    assert not ledger_verify().ok


def test_corruption_exits_non_zero_from_the_command_line(book, ledger_corrupted_on_purpose):
    post_receipt(book)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_account SET balance = 7 WHERE id = %s", [book.proceeds_usd.pk]
        )
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "ledger_verify"])
    assert exited.value.code != 0
