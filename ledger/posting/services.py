"""The posting services: every money movement goes through ``transaction_post`` (one
transaction) or ``transactions_post_many`` (a batch, all or nothing)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction

from ledger.errors import AlreadyReversed, IdempotencyConflict, InvalidPosting
from ledger.models import Transaction

from . import portable, postgresql
from .balances import insufficient
from .legs import Leg, Posting, stored, transaction_row
from .postgresql import CopyPlan


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
    row = transaction_row(key, kind, value_date, legs, memo, fx_rate, reverses)
    fingerprint = row["fingerprint"]
    try:
        if connection.vendor != "postgresql":
            with transaction.atomic():
                txn_id = portable.post_one(row, legs)
        elif connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a refusal leaves the caller's work usable
                txn_id = postgresql.post_one(row, legs)
        else:
            # Autocommit: the one statement is its own transaction; no BEGIN/COMMIT round trips.
            txn_id = postgresql.post_one(row, legs)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or str(
            exc
        )
        if "account_non_negative_balance" in constraint:
            raise insufficient(legs) from exc
        if "entry_exactly_one_positive_side" in constraint:
            # Only reachable through the statement's currency guard (legs were validated above).
            raise InvalidPosting("A leg's currency differs from its account's.") from exc
        if reverses is not None and Transaction.objects.filter(reverses=reverses).exists():
            replayed = _replay(key, fingerprint)
            if replayed is not None:
                return replayed
            raise AlreadyReversed(transaction=reverses.pk) from exc
        raise
    if txn_id is None:  # the key is taken: a replay, or a conflict
        replayed = _replay(key, fingerprint)
        if replayed is None:  # can't happen: the key was there a moment ago, rows are never deleted
            raise IdempotencyConflict(key=key)
        return replayed
    return stored(txn_id, row)


def _replay(key: str, fingerprint: str) -> Transaction | None:
    existing = Transaction.objects.filter(key=key).first()
    if existing is None:
        return None
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflict(key=key)
    return existing


@dataclass(frozen=True)
class PreparedPostings:
    """Postings validated, with their transaction rows (``postings_prepare``) and, when
    asked for on PostgreSQL, their ``copy`` plan."""

    postings: Sequence[Posting]
    rows: list[dict]
    copy: CopyPlan | None = None


@dataclass(frozen=True)
class PostedMany:
    """What ``transactions_post_many`` posted: one transaction per posting, in order, and
    whether they were written by the prepared ``COPY`` plan (``copied``: the transactions
    are the plan's, with the ids it took) or the usual way (other ids, replays)."""

    transactions: list[Transaction]
    copied: bool = False


def postings_prepare(postings: Sequence[Posting], *, copy: bool = False) -> PreparedPostings:
    """What ``transactions_post_many`` does before it needs the database's locks: validate
    every posting (raises ``InvalidPosting``) and compute its row and fingerprint; with
    ``copy`` on PostgreSQL, also take ids for the new keys and format the ``COPY`` data
    (``CopyPlan``; none when a key is taken or repeated: those post the usual way). A caller
    may prepare while the database is busy with something else and post the result later."""
    rows = [
        transaction_row(p.key, p.kind, p.value_date, p.legs, p.memo, p.fx_rate, None)
        for p in postings
    ]
    plan = None
    if copy and rows and connection.vendor == "postgresql":
        plan = postgresql.copy_plan(postings, rows)
    return PreparedPostings(postings, rows, plan)


def transactions_post_many(postings: Sequence[Posting] | PreparedPostings) -> PostedMany:
    """Post many balanced transactions in one database transaction, all or nothing.

    The same result as ``transaction_post`` called for each posting in order: every
    posting is validated first; a key already taken is a replay (the stored transaction
    comes back, nothing is posted) or, with other content, ``IdempotencyConflict``; a
    non-negative account that would end below zero raises ``InsufficientFunds``. Any
    refusal writes nothing. On PostgreSQL it takes a handful of statements whatever the
    number of postings: lock the touched accounts in id order, write the transactions and
    their entries by ``COPY`` when every key is new (a ``CopyPlan``), otherwise insert the
    transactions ``ON CONFLICT (key) DO NOTHING`` and then every new entry; move each stored
    balance once by its aggregated delta. The deferred trigger proves each transaction's
    zero sum at COMMIT. Elsewhere (SQLite) it loops over ``transaction_post`` inside one
    atomic block.
    """
    if not isinstance(postings, PreparedPostings):
        postings = postings_prepare(postings, copy=True)
    plan, postings, rows = postings.copy, postings.postings, postings.rows
    if connection.vendor != "postgresql":
        with transaction.atomic():
            # A Posting's fields are transaction_post's arguments.
            return PostedMany([transaction_post(**vars(p)) for p in postings])
    if not rows:
        return PostedMany([])
    with transaction.atomic():
        if plan is not None and postgresql.post_copy_plan(plan, postings):
            return PostedMany(plan.transactions, copied=True)
        return PostedMany(postgresql.post_many(postings, rows))


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
