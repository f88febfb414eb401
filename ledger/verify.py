"""Proof of the ledger's invariants over the whole database (``manage.py ledger_verify``)."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce

from .models import ZERO, Account, Entry, Transaction


@dataclass
class VerifyReport:
    accounts: int = 0
    transactions: int = 0
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # by the proofs registered

    @property
    def ok(self) -> bool:
        return not self.problems


# Proofs of the apps built on the ledger, run after the ledger's own (esfca registers that
# every movement's figures are its entries): each adds its problems to the report.
PROOFS: list[Callable[[VerifyReport], None]] = []


def ledger_proof_register(proof: Callable[[VerifyReport], None]) -> None:
    if proof not in PROOFS:
        PROOFS.append(proof)


def ledger_verify() -> VerifyReport:
    report = VerifyReport()
    zero = Value(ZERO)
    accounts = Account.objects.annotate(
        debits=Coalesce(Sum("entries__debit"), zero),
        credits=Coalesce(Sum("entries__credit"), zero),
    ).values_list("pk", "normal_side", "balance", "debits", "credits", "non_negative")
    for pk, side, balance, debits, credits, non_negative in accounts.iterator():
        report.accounts += 1
        expected = debits - credits if side == Account.Side.DEBIT else credits - debits
        if expected != balance:
            report.problems.append(
                f"account {pk}: stored balance {balance:.2f} but its entries sum to {expected:.2f}"
            )
        if non_negative and balance < 0:
            report.problems.append(f"account {pk}: non-negative account at {balance}")

    # Compared in Python: SQLite sums decimals as floats, exact only after quantizing.
    sums = Entry.objects.values("transaction_id", "currency").annotate(
        d=Sum("debit"), c=Sum("credit")
    )
    for row in sums.iterator():
        if row["d"] == row["c"]:
            continue
        report.problems.append(
            f"transaction {row['transaction_id']}: {row['currency']} debits {row['d']} "
            f"≠ credits {row['c']}"
        )
    report.transactions = Transaction.objects.count()
    short = Transaction.objects.annotate(n=Count("entries")).filter(n__lt=2)
    for pk, n in short.values_list("pk", "n"):
        report.problems.append(f"transaction {pk}: {n} entries (needs at least 2)")
    bad_sides = Entry.objects.filter(
        Q(debit__lte=0, credit__lte=0) | Q(debit__gt=0, credit__gt=0)
    ).values_list("pk", flat=True)
    for pk in bad_sides:
        report.problems.append(f"entry {pk}: needs exactly one positive side")
    for proof in PROOFS:
        proof(report)
    return report
