"""The frame every movement shares (receipts, allocations, conversions, transfers).

A movement is idempotent by firm + reference: the same request again returns the stored
record (``created`` False) and posts nothing; the same reference with other details raises
``DuplicateReference``. A firm's movements are serialised (the firm row is locked; on
SQLite every write transaction is IMMEDIATE), so two movements recorded at the same moment
can never both take the same headroom or the same balance.
"""

import hashlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from django.db import transaction

from exporters.models import Firm
from ledger.errors import InsufficientFunds
from ledger.models import Account
from ledger.posting import json_text
from ledger.selectors import lowest_balance_from
from ledger.services import account_open

from ..audit import audit
from ..errors import DuplicateReference, InvalidInput, NoAccount


def plain(value) -> str | None:
    """A canonical text of a value for request fingerprints ("280.7" == "280.7000")."""
    if type(value) is str:  # most fields: text as it is
        return value or None
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def request_fingerprint(**fields) -> str:
    """SHA-256 of ``json.dumps({name: plain(value)}, sort_keys=True)``, the JSON written out
    directly (the same text, which a test checks)."""
    return FingerprintShape(fields).of(fields)


class FingerprintShape:
    """``request_fingerprint`` for requests of one set of field names, with the names'
    order and JSON text worked out once: an import computes one fingerprint per row."""

    def __init__(self, names):
        self.names = tuple(sorted(names))
        self.keys = tuple(f"{json_text(name)}: " for name in self.names)

    def of(self, values) -> str:
        """The fingerprint of a mapping (or an object's attributes, ``values=vars(obj)``)
        holding at least ``names``."""
        body = ", ".join(
            key + json_text(plain(values[name]))
            for key, name in zip(self.keys, self.names, strict=True)
        )
        return hashlib.sha256(f"{{{body}}}".encode()).hexdigest()


def replay(model, firm: Firm, reference: str, fingerprint: str):
    """The stored record of this request, None for a new one; ``DuplicateReference`` when
    the reference was used for another request."""
    existing = model.objects.filter(firm=firm, reference=reference).first()
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise DuplicateReference(
            f"Reference {reference} was already used for a different request.",
            reference=reference,
            existing_id=existing.pk,
        )
    return existing


def lock_firm(firm: Firm) -> Firm:
    return Firm.objects.select_for_update().get(pk=firm.pk)


def movement_record(
    model,
    *,
    firm: Firm,
    actor,
    action: str,
    reference: str,
    fingerprint: str,
    check: Callable[[], None],
    write: Callable[[Firm], object],
    details: Callable[[object], dict] | None = None,
):
    """Record a movement once: answer a replay, ``check`` the fields, then under the firm's
    lock decide a replay again, ``write`` and audit (with the record's ``details`` beside
    its reference, when given). Returns ``(record, created)``."""
    existing = replay(model, firm, reference, fingerprint)
    if existing:
        return existing, False
    check()
    with transaction.atomic():
        locked = lock_firm(firm)
        existing = replay(model, locked, reference, fingerprint)
        if existing:
            return existing, False
        record = write(locked)
        audit(
            actor,
            locked,
            action,
            record,
            reference=reference,
            **(details(record) if details else {}),
        )
    return record, True


def movement_fields(firm: Firm, reference: str, value_date: date, fingerprint: str, txn, actor):
    """The fields every movement record shares."""
    return {
        "firm": firm,
        "reference": reference,
        "value_date": value_date,
        "request_fingerprint": fingerprint,
        "transaction": txn,
        "created_by": actor if getattr(actor, "is_authenticated", False) else None,
    }


# --- the firm's accounts --------------------------------------------------------------------


class FirmAccounts:
    """A firm's accounts, read in one query when first asked, then picked in Python: what a
    movement needs of them (its ESFCA, PKR account, internal accounts) costs one query
    instead of one each. Internal accounts missing are opened (under the firm's lock)."""

    def __init__(self, firm: Firm):
        self.firm = firm
        self._accounts: list[Account] | None = None

    def _all(self) -> list[Account]:
        if self._accounts is None:
            self._accounts = list(
                Account.objects.filter(owner=self.firm).select_related("bank").order_by("pk")
            )
        return self._accounts

    def esfca(self, currency: str, bank: str = "", *, named: bool = False) -> Account:
        """The firm's ESFCA in ``currency``: at ``bank`` when given, else the first opened.

        ``named`` (a receipt, rules.md §11): when the firm holds ``currency`` at more than
        one bank, the bank must be given (``validation_error`` on ``bank``), never guessed.
        """
        firm = self.firm
        found = [
            a
            for a in self._all()
            if a.kind == Account.Kind.ESFCA
            and a.currency == currency
            and (not bank or (a.bank is not None and a.bank.code == bank))
        ]
        if not found:
            at = f" at {bank}" if bank else ""
            raise NoAccount(f"{firm.name} has no {currency} ESFCA{at}.", currency=currency)
        if named and not bank and len(found) > 1:
            raise InvalidInput(
                f"{firm.name} holds {currency} at more than one bank: name the bank.",
                bank=[f"Name the bank: {firm.name} holds {currency} at more than one bank."],
            )
        return found[0]

    def pkr(self, bank_id: int | None, *, same_bank: bool = False) -> Account:
        """The firm's PKR account, at the ESFCA's bank when it has one there.

        ``same_bank`` (a receipt's PKR side, rules.md §11): only the PKR account at that bank
        will do; none there is ``no_account``.
        """
        firm = self.firm
        accounts = [a for a in self._all() if a.kind == Account.Kind.PKR_BANK]
        same = [a for a in accounts if a.bank_id == bank_id]
        if same_bank and not same and accounts:
            raise NoAccount(
                f"{firm.name} has no PKR account at the bank of the ESFCA credited.",
                currency="PKR",
            )
        if not accounts:
            raise NoAccount(f"{firm.name} has no PKR account.", currency="PKR")
        return (same or accounts)[0]

    def internal(self, kind: str, currency: str, category: str = "") -> Account:
        for account in self._all():
            if (account.kind, account.currency, account.category) == (kind, currency, category):
                return account
        account = account_open(owner=self.firm, kind=kind, currency=currency, category=category)
        self._accounts.append(account)
        return account


def esfca_account(firm: Firm, currency: str, bank: str = "", *, named: bool = False) -> Account:
    """``FirmAccounts.esfca`` of one question."""
    return FirmAccounts(firm).esfca(currency, bank, named=named)


def pkr_account(firm: Firm, bank_id: int | None, *, same_bank: bool = False) -> Account:
    """``FirmAccounts.pkr`` of one question."""
    return FirmAccounts(firm).pkr(bank_id, same_bank=same_bank)


def internal_account(firm: Firm, kind: str, currency: str, category: str = "") -> Account:
    return account_open(owner=firm, kind=kind, currency=currency, category=category)


def check_covered(account: Account, amount: Decimal, on: date) -> None:
    """Never overdraw, also in the past: a backdated debit must leave every end-of-day
    balance from its value date on at or above zero (rules.md §4, §5 closing balances)."""
    lowest = lowest_balance_from(account_id=account.pk, on=on)
    if lowest < amount:
        raise InsufficientFunds(
            f"The {account.currency} ESFCA holds {lowest} {account.currency} on or after "
            f"{on.isoformat()}; {amount} {account.currency} is not covered.",
            account=account.pk,
            currency=account.currency,
            balance=str(lowest),
            requested=str(amount),
        )
