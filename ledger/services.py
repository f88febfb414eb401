"""Writes to the ledger. Every money movement goes through ``transaction_post``."""

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, F, When

from .errors import AlreadyReversed, IdempotencyConflict, InsufficientFunds, InvalidPosting
from .models import ZERO, Account, Entry, Transaction

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Leg:
    """One side of a posting: a positive ``debit`` or a positive ``credit`` on ``account``."""

    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO

    @property
    def currency(self) -> str:
        return self.account.currency

    def signed_for_account(self) -> Decimal:
        """How much this leg moves the account's balance in its normal sign."""
        delta = self.debit - self.credit
        return delta if self.account.normal_side == Account.Side.DEBIT else -delta


def debit(account: Account, amount: Decimal) -> Leg:
    return Leg(account=account, debit=amount)


def credit(account: Account, amount: Decimal) -> Leg:
    return Leg(account=account, credit=amount)


def _validate(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise InvalidPosting("A transaction needs at least two legs.")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        for amount in (leg.debit, leg.credit):
            if not isinstance(amount, Decimal) or not amount.is_finite():
                raise InvalidPosting("Leg amounts must be finite Decimals.")
            if amount != amount.quantize(CENT):
                raise InvalidPosting(f"{amount} has more than two decimal places.")
            if amount < 0:
                raise InvalidPosting("Leg amounts are never negative.")
        if (leg.debit > 0) == (leg.credit > 0):
            raise InvalidPosting("Each leg has exactly one positive side: a debit or a credit.")
        if leg.account.pk is None:
            raise InvalidPosting("Legs must name saved accounts.")
        sums[leg.currency] += leg.debit - leg.credit
    unbalanced = {cur: str(total) for cur, total in sums.items() if total != 0}
    if unbalanced:
        raise InvalidPosting("Debits and credits differ per currency.", unbalanced=unbalanced)


def _fingerprint(kind, value_date, legs, memo, fx_rate, reverses) -> str:
    body = {
        "kind": kind,
        "value_date": value_date.isoformat(),
        "memo": memo,
        "fx_rate": None if fx_rate is None else str(fx_rate),
        "reverses": reverses.pk if reverses else None,
        "legs": sorted(
            [leg.account.pk, str(leg.debit), str(leg.credit), leg.currency] for leg in legs
        ),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _replay(key: str, fingerprint: str) -> Transaction | None:
    existing = Transaction.objects.filter(key=key).first()
    if existing is None:
        return None
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflict(key=key)
    return existing


def transaction_post(
    *,
    key: str,
    kind: str,
    value_date: date,
    legs: Sequence[Leg],
    memo: str = "",
    fx_rate: Decimal | None = None,
    reverses: Transaction | None = None,
) -> Transaction:
    """Post one balanced transaction atomically and idempotently.

    Validates the legs (≥ 2, one positive side each, debits = credits per
    currency), locks the touched accounts in id order, refuses to take a
    non-negative account below zero, then inserts the transaction and its
    entries and moves the stored balances. A replay with the same key and
    content returns the stored transaction; the same key with other content
    raises ``IdempotencyConflict``.
    """
    _validate(legs)
    fingerprint = _fingerprint(kind, value_date, legs, memo, fx_rate, reverses)
    try:
        with transaction.atomic():
            return _post_locked(key, fingerprint, kind, value_date, legs, memo, fx_rate, reverses)
    except IntegrityError:
        # A concurrent writer took the key between our check and our insert.
        replayed = _replay(key, fingerprint)
        if replayed is None:
            raise
        return replayed


def _post_locked(key, fingerprint, kind, value_date, legs, memo, fx_rate, reverses):
    replayed = _replay(key, fingerprint)
    if replayed is not None:
        return replayed

    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for leg in legs:
        deltas[leg.account.pk] += leg.signed_for_account()
    locked = {
        acc.pk: acc
        for acc in Account.objects.select_for_update()
        .filter(pk__in=deltas)
        .order_by("pk")
        .only("pk", "currency", "non_negative", "balance")
    }
    for leg in legs:
        if locked[leg.account.pk].currency != leg.currency:
            raise InvalidPosting("A leg's currency differs from its account's.")
    for pk, delta in deltas.items():
        account = locked[pk]
        if account.non_negative and account.balance + delta < 0:
            raise InsufficientFunds(
                account=pk,
                currency=account.currency,
                balance=str(account.balance),
                requested=str(-delta),
            )

    txn = Transaction.objects.create(
        key=key,
        fingerprint=fingerprint,
        kind=kind,
        value_date=value_date,
        memo=memo,
        fx_rate=fx_rate,
        reverses=reverses,
    )
    Entry.objects.bulk_create(
        Entry(
            transaction=txn,
            account_id=leg.account.pk,
            debit=leg.debit,
            credit=leg.credit,
            currency=leg.currency,
        )
        for leg in legs
    )
    changed = {pk: d for pk, d in deltas.items() if d}
    if changed:
        Account.objects.filter(pk__in=changed).update(
            balance=Case(
                *(When(pk=pk, then=F("balance") + delta) for pk, delta in changed.items()),
                default=F("balance"),
            )
        )
    return txn


def transaction_reverse(
    *, original: Transaction, key: str, value_date: date, memo: str = ""
) -> Transaction:
    """Post the mirror image of ``original`` (design: nothing is ever updated or deleted)."""
    existing = Transaction.objects.filter(key=key).first()
    if existing is None and Transaction.objects.filter(reverses=original).exists():
        raise AlreadyReversed(transaction=original.pk)
    entries = list(original.entries.select_related("account"))
    legs = [Leg(account=e.account, debit=e.credit, credit=e.debit) for e in entries]
    return transaction_post(
        key=key,
        kind=Transaction.Kind.REVERSAL,
        value_date=value_date,
        legs=legs,
        memo=memo or f"Reversal of {original.key}",
        fx_rate=original.fx_rate,
        reverses=original,
    )


def account_open(
    *,
    kind: str,
    currency: str,
    owner=None,
    bank=None,
    iban: str = "",
    category: str = "",
) -> Account:
    """Open (or return the existing) internal account. Bank-held accounts can't go below zero."""
    normal = Account.Side.CREDIT if kind == Account.Kind.CLIENT_PROCEEDS else Account.Side.DEBIT
    non_negative = kind in Account.BANK_KINDS
    if kind in Account.BANK_KINDS:
        return Account.objects.create(
            kind=kind,
            currency=currency,
            owner=owner,
            bank=bank,
            iban=iban,
            normal_side=normal,
            non_negative=non_negative,
        )
    account, _ = Account.objects.get_or_create(
        owner=owner,
        kind=kind,
        currency=currency,
        category=category,
        defaults={"normal_side": normal, "non_negative": non_negative},
    )
    return account
