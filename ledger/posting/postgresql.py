"""Posting on PostgreSQL: one prepared statement per posting, a handful of statements per
batch (``COPY`` where the batch was prepared for it). The database refuses what the
posting must never do (an overdraft, a leg in another currency, an unbalanced
transaction), so a refusal leaves nothing of the statement behind."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.db import IntegrityError, connection, transaction

from ledger.errors import IdempotencyConflict, InvalidPosting
from ledger.models import Entry, Transaction

from .balances import check_currencies, lock_accounts, new_balances
from .copy import copy_data, copy_into
from .legs import Leg, Posting, deltas, stored

# One statement, one round trip, atomic on its own: take the key (or find it taken: a replay),
# insert the entries, lock the touched accounts in id order (FOR NO KEY UPDATE: exclusive among
# posters, compatible with the FK checks of concurrent entry inserts) and move their stored
# balances in each account's normal sign. Every refusal makes the statement fail, so nothing of
# it stays: a balance below zero on a non-negative account fails the CHECK constraint on the
# locked row; a leg whose currency isn't its account's is written with neither side and fails the
# one-positive-side CHECK; the per-currency zero sum is proved again by the deferred trigger.
_PG_POST = """
WITH txn AS (
    INSERT INTO ledger_transaction
        (key, fingerprint, kind, value_date, posted_at, memo, fx_rate, reverses_id)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (key) DO NOTHING
    RETURNING id
), entries AS (
    INSERT INTO ledger_entry (transaction_id, account_id, debit, credit, currency)
    SELECT txn.id, leg.account_id,
           CASE WHEN acc.currency = leg.currency THEN leg.debit ELSE 0 END,
           CASE WHEN acc.currency = leg.currency THEN leg.credit ELSE 0 END,
           leg.currency
      FROM txn
     CROSS JOIN (VALUES {legs}) AS leg (account_id, debit, credit, currency)
      LEFT JOIN ledger_account AS acc ON acc.id = leg.account_id
), moved AS (
    UPDATE ledger_account AS a
       SET balance = a.balance + CASE WHEN a.normal_side = 'debit' THEN d.net ELSE -d.net END
      FROM (VALUES {deltas}) AS d (id, net),
           (SELECT id FROM ledger_account
             WHERE id IN ({ids}) AND EXISTS (SELECT 1 FROM txn)
             ORDER BY id FOR NO KEY UPDATE) AS locked
     WHERE a.id = d.id AND a.id = locked.id
    RETURNING a.id
)
SELECT id, (SELECT count(*) FROM moved) FROM txn
"""
_PG_LEG = "(%s::bigint, %s::numeric, %s::numeric, %s::varchar)"
_PG_DELTA = "(%s::bigint, %s::numeric)"


@functools.cache
def _pg_post_sql(legs: int, accounts: int) -> str:
    return _PG_POST.format(
        legs=", ".join([_PG_LEG] * legs),
        deltas=", ".join([_PG_DELTA] * accounts),
        ids=", ".join(["%s"] * accounts),
    )


class _PreparingCursor(psycopg.Cursor):
    """psycopg's server-side binding cursor, asking psycopg to prepare what it executes:
    Django's cursor wrapper calls ``execute`` without psycopg's ``prepare`` argument.

    psycopg prepares it once per connection (``prepare=True``, given the connection's
    ``prepare_threshold`` is not ``None``: the settings see to it), and runs it by name after;
    Django's own cursors bind on the client and are never prepared."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


def _fetch_prepared(sql: str, params: list) -> tuple | None:
    """Run ``sql`` as a prepared statement through Django's cursor wrapper (its exceptions,
    ``execute_wrapper`` hooks and query log); its first row."""
    connection.ensure_connection()
    raw = _PreparingCursor(connection.connection)
    with connection.make_cursor(raw) as cursor:
        if not connection.queries_logged:
            cursor.execute(sql, params)
            return cursor.fetchone()
        # Django's query log reads the text psycopg keeps only for statements it did not
        # prepare; the statement's text is logged as Django logs a COPY.
        with connection.make_debug_cursor(raw).debug_sql(sql, params):
            cursor.execute(sql, params)
        return cursor.fetchone()


def post_one(row: dict, legs: Sequence[Leg]) -> int | None:
    """The one statement: the new transaction's id, ``None`` when the key is taken."""
    net = deltas(legs)
    params = list(row.values())
    for leg in legs:
        params += [leg.account.pk, leg.debit, leg.credit, leg.currency]
    for pk, move in net.items():
        params += [pk, move]
    params += list(net)
    result = _fetch_prepared(_pg_post_sql(len(legs), len(net)), params)
    if result is None:
        return None
    txn_id, moved = result
    if moved != len(net):  # an account that doesn't exist: its FK fails first; belt and braces
        raise InvalidPosting("A leg names an account that does not exist.")
    return txn_id


# --- many postings in one database transaction ---------------------------------------------

_PG_INSERT_MANY = """
INSERT INTO ledger_transaction (key, fingerprint, kind, value_date, posted_at, memo, fx_rate)
SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::date[],
                     %s::timestamptz[], %s::varchar[], %s::numeric[])
ON CONFLICT (key) DO NOTHING
RETURNING id, key
"""
# Each key, with a new id from the table's sequence when it is free (NULL when taken).
_PG_IDS_FOR_FREE_KEYS = """
SELECT k.key, CASE WHEN t.id IS NULL
                   THEN nextval(pg_get_serial_sequence('ledger_transaction', 'id')) END
  FROM unnest(%s::varchar[]) AS k (key)
  LEFT JOIN ledger_transaction AS t ON t.key = k.key
"""
# The transaction fields a batch writes (it posts no reversals), and an entry's.
_TRANSACTION_FIELDS = ("key", "fingerprint", "kind", "value_date", "posted_at", "memo", "fx_rate")
_ENTRY_FIELDS = ("transaction_id", "account_id", "debit", "credit", "currency")
_PG_BALANCES_MANY = """
UPDATE ledger_account AS a SET balance = d.balance
  FROM unnest(%s::bigint[], %s::numeric[]) AS d (id, balance)
 WHERE a.id = d.id
"""


@dataclass(frozen=True)
class CopyPlan:
    """New postings ready to be written by ``COPY``: every key was free when prepared, the
    ids are taken from the sequence, the rows formatted. ``post_copy_plan`` checks the
    accounts under their locks as always; should a key have been taken since, it writes
    nothing and the batch posts the usual way instead (with other ids)."""

    transactions: list[Transaction]
    transactions_data: bytes
    entries_data: bytes
    deltas: dict[int, Decimal]
    currencies: dict[int, str]


def copy_plan(postings: Sequence[Posting], rows: list[dict]) -> CopyPlan | None:
    """The ``CopyPlan`` of validated postings; ``None`` when a key is taken or repeated, or
    an account is named in two currencies (those post the usual way)."""
    keys = [row["key"] for row in rows]
    if len(set(keys)) != len(keys):
        return None
    currencies: dict[int, str] = {}
    for posting in postings:
        for leg in posting.legs:
            if currencies.setdefault(leg.account.pk, leg.currency) != leg.currency:
                return None  # refused the usual way, with its usual words
    with connection.cursor() as cursor:
        cursor.execute(_PG_IDS_FOR_FREE_KEYS, [keys])
        ids = dict(cursor.fetchall())
    if any(ids[key] is None for key in keys):
        return None
    transactions = [stored(ids[row["key"]], row) for row in rows]
    return CopyPlan(
        transactions=transactions,
        transactions_data=copy_data(
            (txn.pk, *(row[name] for name in _TRANSACTION_FIELDS))
            for txn, row in zip(transactions, rows, strict=True)
        ),
        entries_data=copy_data(
            (txn.pk, leg.account.pk, leg.debit, leg.credit, leg.currency)
            for txn, posting in zip(transactions, postings, strict=True)
            for leg in posting.legs
        ),
        deltas=deltas([leg for p in postings for leg in p.legs]),
        currencies=currencies,
    )


def post_copy_plan(plan: CopyPlan, postings: Sequence[Posting]) -> bool:
    """Post a ``CopyPlan`` inside the caller's transaction: the accounts locked and checked
    as ``post_many`` does, then the prepared ``COPY`` data. ``False`` (nothing written) when
    a key was taken since it was prepared."""
    locked = lock_accounts(plan.deltas, no_key=True)
    if len(locked) != len(plan.deltas):
        raise InvalidPosting("A leg names an account that does not exist.")
    if any(locked[pk].currency != currency for pk, currency in plan.currencies.items()):
        raise InvalidPosting("A leg's currency differs from its account's.")
    every_leg = [leg for p in postings for leg in p.legs]
    balances = new_balances(locked, plan.deltas, every_leg)
    try:
        with transaction.atomic():
            copy_into(Transaction, ("id", *_TRANSACTION_FIELDS), plan.transactions_data)
            copy_into(Entry, _ENTRY_FIELDS, plan.entries_data)
    except (IntegrityError, psycopg.errors.UniqueViolation):
        return False
    _write_balances(balances)
    return True


def post_many(postings: Sequence[Posting], rows: list[dict]) -> list[Transaction]:
    """Post validated postings inside the caller's transaction: a key already taken is a
    replay or an ``IdempotencyConflict``, a later posting with an earlier one's key a replay
    of it; the new ones are inserted ``ON CONFLICT (key) DO NOTHING``, their entries by
    ``COPY``, and each touched balance moves once."""
    every_leg = [leg for p in postings for leg in p.legs]
    locked = lock_accounts({leg.account.pk for leg in every_leg}, no_key=True)
    if len(locked) != len({leg.account.pk for leg in every_leg}):
        raise InvalidPosting("A leg names an account that does not exist.")
    check_currencies(every_leg, {pk: acc.currency for pk, acc in locked.items()})
    first = {}  # key -> index of its first posting: later ones with that key are replays
    for i, row in enumerate(rows):
        first.setdefault(row["key"], i)
    inserted = _insert_new_keys([rows[i] for i in first.values()])
    taken = {
        txn.key: txn
        for txn in Transaction.objects.filter(key__in=[k for k in first if k not in inserted])
    }
    result, posted = [], []  # posted: (transaction id, posting) of the new ones
    for i, (posting, row) in enumerate(zip(postings, rows, strict=True)):
        if first[row["key"]] == i and row["key"] in inserted:
            result.append(stored(inserted[row["key"]], row))
            posted.append((inserted[row["key"]], posting))
            continue
        existing = taken.get(row["key"]) or result[first[row["key"]]]
        if existing.fingerprint != row["fingerprint"]:
            raise IdempotencyConflict(key=row["key"])
        result.append(existing)
    if not posted:
        return result
    entries = [(txn_id, leg) for txn_id, posting in posted for leg in posting.legs]
    posted_legs = [leg for _, leg in entries]
    balances = new_balances(locked, deltas(posted_legs), posted_legs)
    # The deferred zero-sum trigger proves each transaction at COMMIT (as for INSERT).
    copy_into(
        Entry,
        _ENTRY_FIELDS,
        ((txn_id, leg.account.pk, leg.debit, leg.credit, leg.currency) for txn_id, leg in entries),
    )
    _write_balances(balances)
    return result


def _insert_new_keys(candidates: list[dict]) -> dict[str, int]:
    """``INSERT … ON CONFLICT (key) DO NOTHING``: ``{key: id}`` of the rows inserted; a key
    taken (by now, or by a concurrent poster that commits) inserts nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PG_INSERT_MANY, [[row[name] for row in candidates] for name in _TRANSACTION_FIELDS]
        )
        return {key: txn_id for txn_id, key in cursor.fetchall()}


def _write_balances(balances: dict[int, Decimal]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_PG_BALANCES_MANY, [list(balances), list(balances.values())])
