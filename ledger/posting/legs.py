"""What a posting is before it reaches the database: its legs, their validation, the
transaction row it writes and that row's fingerprint (the idempotency check)."""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring_ascii

from django.db import connection
from django.utils import timezone

from ledger.errors import InvalidPosting
from ledger.models import MONEY, ZERO, Account, Transaction

CENT = Decimal("0.01")
# Entry.debit/credit hold 14 digits, 2 after the point: anything at or above this can't be stored.
TOO_LARGE = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])


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


@dataclass(frozen=True)
class Posting:
    """One transaction for ``transactions_post_many`` (the arguments of ``transaction_post``)."""

    key: str
    kind: str
    value_date: date
    legs: Sequence[Leg]
    memo: str = ""
    fx_rate: Decimal | None = None


def validate(legs: Sequence[Leg]) -> None:
    """≥ 2 legs, finite Decimal amounts of at most two places below ``TOO_LARGE``, one
    positive side each, saved accounts, debits = credits per currency."""
    if len(legs) < 2:
        raise InvalidPosting("A transaction needs at least two legs.")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        for amount in (leg.debit, leg.credit):
            if amount is ZERO:  # the other side of debit()/credit(): nothing to check
                continue
            if not isinstance(amount, Decimal) or not amount.is_finite():
                raise InvalidPosting("Leg amounts must be finite Decimals.")
            if abs(amount) >= TOO_LARGE:
                raise InvalidPosting(f"{amount} is too large for the ledger.")
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


def json_text(value: str | int | None) -> str:
    """A string, an integer or None as ``json.dumps`` writes it (ASCII, escaped): for
    fingerprints written out directly, which must keep the text ``json.dumps`` gives."""
    if value is None:
        return "null"
    if isinstance(value, int):
        return int.__repr__(value)
    return encode_basestring_ascii(value)


def fingerprint(kind, value_date, legs, memo, fx_rate, reverses) -> str:
    """SHA-256 of ``json.dumps(body, sort_keys=True)`` (the text written out directly, which
    a test checks), ``body`` being the posting with its legs quantized and sorted, so that
    250, 250.0 and 250.00 are the same request."""
    sorted_legs = sorted(
        [
            leg.account.pk,
            str(leg.debit.quantize(CENT)),
            str(leg.credit.quantize(CENT)),
            leg.currency,
        ]
        for leg in legs
    )
    legs_text = ", ".join(
        f"[{json_text(pk)}, {json_text(d)}, {json_text(c)}, {json_text(currency)}]"
        for pk, d, c, currency in sorted_legs
    )
    text = (
        f'{{"fx_rate": {json_text(None if fx_rate is None else str(fx_rate))}, '
        f'"kind": {json_text(kind)}, "legs": [{legs_text}], "memo": {json_text(memo)}, '
        f'"reverses": {json_text(reverses.pk if reverses else None)}, '
        f'"value_date": {json_text(value_date.isoformat())}}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()


def transaction_row(key, kind, value_date, legs, memo, fx_rate, reverses) -> dict:
    """The validated transaction row of a posting (raises ``InvalidPosting``)."""
    validate(legs)
    return {  # Transaction's fields after ``id``, in their order (``stored`` relies on it)
        "key": key,
        "fingerprint": fingerprint(kind, value_date, legs, memo, fx_rate, reverses),
        "kind": kind,
        "value_date": value_date,
        "posted_at": timezone.now(),
        "memo": memo,
        "fx_rate": fx_rate,
        "reverses_id": reverses.pk if reverses else None,
    }


def stored(txn_id: int, row: dict) -> Transaction:
    """The ``Transaction`` written from ``row`` under ``txn_id``, without reading it back."""
    # Positional (``row`` holds the fields after ``id`` in order): half the cost of keywords.
    txn = Transaction(txn_id, *row.values())
    txn._state.adding = False
    txn._state.db = connection.alias
    return txn


def deltas(legs: Sequence[Leg]) -> dict[int, Decimal]:
    """Net debit minus credit per account, accounts in id order (the lock order)."""
    net: dict[int, Decimal] = defaultdict(Decimal)
    for leg in legs:
        net[leg.account.pk] += leg.debit - leg.credit
    return dict(sorted(net.items()))
