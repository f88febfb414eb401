"""Proof that every movement's figures are its ledger entries (part of ``ledger_verify``).

The ledger proves itself (balances equal entries, transactions balance); this proves that
the books say what the records say: each receipt, allocation, conversion and transfer (and
each reversal, the exact negation) moved exactly its own figures on exactly its own
accounts, dated its value date, in a transaction of its kind. One aggregate query per kind
of movement, whatever their number: a movement is named only when a figure differs.

The legs are those the services post (``receipts.receipt_judge``,
``allocations._allocation_write``, ``conversions.conversion_create``,
``conversions._transfer_legs``); each is a condition on the entry's account ``a`` given the
movement ``m`` and the net figure (debit − credit) the original moves there.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from ledger.models import Account, Entry
from ledger.models import Transaction as LedgerTransaction
from ledger.verify import VerifyReport

from .models import Allocation, Conversion, Receipt, Transfer

CENT = Decimal("0.01")
FX, PKR = Account.Kind.FX_TRADING.value, "PKR"


@dataclass(frozen=True)
class Leg:
    name: str  # as a problem names it
    accounts: str  # SQL: the entry's account ``a`` is this leg's, for movement ``m``
    net: str  # SQL: debit − credit of the original movement on those accounts


@dataclass(frozen=True)
class Shape:
    """What one kind of movement must have posted."""

    model: type
    kind: str  # the ledger transaction's kind (a reversal's is "reversal")
    legs: tuple[Leg, ...]
    debits: str  # SQL: the transaction's total debits (a reversal's too: sides swap)
    joins: str = ""  # SQL: joins the legs read (one row per movement)
    rate: str = ""  # SQL: the rate the transaction carries, when it carries one
    figures: str = ""  # SQL: a condition the record's own figures meet


SHAPES = (
    Shape(
        Receipt,
        LedgerTransaction.Kind.RECEIPT.value,
        (
            Leg("the ESFCA", "a.id = m.esfca_id", "m.retained"),
            Leg(
                "FX trading in the currency",
                f"a.kind = '{FX}' AND a.currency = m.currency",
                "m.converted",
            ),
            Leg(
                "client proceeds",
                f"a.kind = '{Account.Kind.CLIENT_PROCEEDS.value}' AND a.currency = m.currency",
                "-m.amount",
            ),
            Leg("the PKR account", f"a.kind = '{Account.Kind.PKR_BANK.value}'", "m.pkr_credited"),
            Leg("tax withheld", f"a.kind = '{Account.Kind.TAX_WITHHELD.value}'", "m.tax_withheld"),
            Leg(
                "FX trading in PKR",
                f"a.kind = '{FX}' AND a.currency = '{PKR}'",
                "-(m.pkr_credited + m.tax_withheld)",
            ),
        ),
        debits="m.amount + m.pkr_credited + m.tax_withheld",
        rate="m.conversion_rate",
        figures="ROUND(m.amount - m.retained - m.converted, 2) = 0",  # exact on SQLite too
    ),
    Shape(
        Allocation,
        LedgerTransaction.Kind.ALLOCATION.value,
        (
            Leg("the ESFCA", "a.id = m.esfca_id", "-m.amount"),
            Leg(
                "the payees' account",
                f"a.kind = '{Account.Kind.PAYEE.value}' AND a.currency = m.currency "
                "AND a.category = m.category",
                "m.amount",
            ),
        ),
        debits="m.amount",
    ),
    Shape(
        Conversion,
        LedgerTransaction.Kind.CONVERSION.value,
        (
            Leg("the ESFCA", "a.id = m.esfca_id", "-m.amount"),
            Leg(
                "FX trading in the currency",
                f"a.kind = '{FX}' AND a.currency = m.currency",
                "m.amount",
            ),
            Leg("the PKR account", "a.id = m.pkr_account_id", "m.pkr_amount"),
            Leg("FX trading in PKR", f"a.kind = '{FX}' AND a.currency = '{PKR}'", "-m.pkr_amount"),
        ),
        debits="m.amount + m.pkr_amount",
        rate="m.rate",
    ),
    Shape(
        Transfer,
        LedgerTransaction.Kind.TRANSFER.value,
        (
            Leg("the source ESFCA", "a.id = m.from_account_id", "-m.amount"),
            Leg("the target ESFCA", "a.id = m.to_account_id", "m.to_amount"),
            Leg(
                "FX trading in the source currency",
                f"a.kind = '{FX}' AND a.currency = fa.currency AND fa.currency <> ta.currency",
                "CASE WHEN fa.currency <> ta.currency THEN m.amount ELSE 0 END",
            ),
            Leg(
                "FX trading in the target currency",
                f"a.kind = '{FX}' AND a.currency = ta.currency AND fa.currency <> ta.currency",
                "CASE WHEN fa.currency <> ta.currency THEN -m.to_amount ELSE 0 END",
            ),
        ),
        debits="CASE WHEN fa.currency = ta.currency THEN m.amount ELSE m.amount + m.to_amount END",
        joins=(
            f"JOIN {Account._meta.db_table} fa ON fa.id = m.from_account_id "
            f"JOIN {Account._meta.db_table} ta ON ta.id = m.to_account_id"
        ),
        figures="fa.currency <> ta.currency OR ROUND(m.amount - m.to_amount, 2) = 0",
    ),
)

SIGN = "(CASE WHEN m.reverses_id IS NULL THEN 1 ELSE -1 END)"


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)  # SQLite sums as floats


def legs_sql(shape: Shape) -> str:
    """Per movement whose entries differ from its figures: its id, reference, firm, and for
    each leg (then the total debits, then the entries on other owners' accounts) what the
    entries moved and what the record says."""
    pairs = [
        (
            f"SUM(CASE WHEN {leg.accounts} THEN e.debit - e.credit ELSE 0 END)",
            f"MIN({SIGN} * ({leg.net}))",  # one value per movement: MIN of equal values
        )
        for leg in shape.legs
    ]
    pairs.append(("SUM(e.debit)", f"MIN({shape.debits})"))
    pairs.append(("SUM(CASE WHEN a.owner_id = m.firm_id THEN 0 ELSE 1 END)", "0"))
    columns = ", ".join(
        f"{got} AS got{n}, {want} AS want{n}" for n, (got, want) in enumerate(pairs)
    )
    differs = " OR ".join(f"ROUND(got{n} - want{n}, 2) <> 0" for n in range(len(pairs)))
    return (
        f"SELECT * FROM (SELECT m.id, m.reference, m.firm_id, {columns} "
        f"FROM {shape.model._meta.db_table} m "
        f"JOIN {Entry._meta.db_table} e ON e.transaction_id = m.transaction_id "
        f"JOIN {Account._meta.db_table} a ON a.id = e.account_id {shape.joins} "
        f"GROUP BY m.id, m.reference, m.firm_id) q WHERE {differs} ORDER BY id"
    )


def record_checks(shape: Shape) -> list[tuple[str, str]]:
    """(SQL condition on the movement ``m``, its transaction ``t`` and a reversal's original
    ``o``, what it means) for what makes a transaction not the movement's own."""
    checks = [
        ("t.value_date <> m.value_date", "dated otherwise"),
        (
            f"t.kind <> CASE WHEN m.reverses_id IS NULL THEN '{shape.kind}' ELSE 'reversal' END",
            "of another kind",
        ),
        (
            "m.reverses_id IS NOT NULL AND (t.reverses_id IS NULL "
            "OR t.reverses_id <> o.transaction_id)",
            "not the negation of the original's",
        ),
    ]
    if shape.rate:
        checks.append((f"t.fx_rate IS NULL OR t.fx_rate <> {shape.rate}", "at another rate"))
    if shape.figures:
        checks.append((f"NOT ({shape.figures})", "beside figures that do not add up"))
    return checks


def record_sql(shape: Shape) -> str:
    """Per movement whose transaction is not its own: id, reference, firm and the number of
    the first ``record_checks`` it fails."""
    table, txn = shape.model._meta.db_table, LedgerTransaction._meta.db_table
    checks = record_checks(shape)
    cases = " ".join(f"WHEN {condition} THEN {n}" for n, (condition, _) in enumerate(checks))
    return (
        f"SELECT m.id, m.reference, m.firm_id, CASE {cases} END FROM {table} m "
        f"JOIN {txn} t ON t.id = m.transaction_id "
        f"LEFT JOIN {table} o ON o.id = m.reverses_id {shape.joins} "
        f"WHERE {' OR '.join(f'({c})' for c, _ in checks)} ORDER BY m.id"
    )


def movements_verify(report: VerifyReport) -> None:
    """Add a problem per movement whose ledger transaction is not what it says."""
    checked = 0
    with connection.cursor() as cursor:
        for shape in SHAPES:
            name = shape.model._meta.model_name
            checked += shape.model.objects.count()
            cursor.execute(legs_sql(shape))
            for pk, reference, firm_id, *figures in cursor.fetchall():
                names = [leg.name for leg in shape.legs] + ["debits", "other owners' accounts"]
                for n, what in enumerate(names):
                    got, want = _cents(figures[2 * n]), _cents(figures[2 * n + 1])
                    if got != want:
                        report.problems.append(
                            f"{name} {pk} ({reference}, firm {firm_id}): {what}: the entries "
                            f"move {got}, the {name} says {want}"
                        )
            cursor.execute(record_sql(shape))
            meanings = [what for _, what in record_checks(shape)]
            for pk, reference, firm_id, failed in cursor.fetchall():
                report.problems.append(
                    f"{name} {pk} ({reference}, firm {firm_id}): its transaction is "
                    f"{meanings[failed]}"
                )
    report.checked["movements"] = checked
