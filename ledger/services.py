"""Writes to the ledger. Every money movement goes through ``transaction_post``."""

import functools
import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring_ascii

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from psycopg.copy import Copy, FileWriter

from .errors import AlreadyReversed, IdempotencyConflict, InsufficientFunds, InvalidPosting
from .models import MONEY, ZERO, Account, Entry, Transaction

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


def _validate(legs: Sequence[Leg]) -> None:
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


def _fingerprint(kind, value_date, legs, memo, fx_rate, reverses) -> str:
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
    row = _row(key, kind, value_date, legs, memo, fx_rate, reverses)
    fingerprint = row["fingerprint"]
    try:
        if connection.vendor != "postgresql":
            with transaction.atomic():
                txn_id = _post_portable(row, legs)
        elif connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a refusal leaves the caller's work usable
                txn_id = _post_postgresql(row, legs)
        else:
            # Autocommit: the one statement is its own transaction; no BEGIN/COMMIT round trips.
            txn_id = _post_postgresql(row, legs)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) or str(
            exc
        )
        if "account_non_negative_balance" in constraint:
            raise _insufficient(legs) from exc
        if "entry_exactly_one_positive_side" in constraint:
            # Only reachable through the currency guard of _PG_POST (legs were validated above).
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
    return _stored(txn_id, row)


def _row(key, kind, value_date, legs, memo, fx_rate, reverses) -> dict:
    """The validated transaction row of a posting (raises ``InvalidPosting``)."""
    _validate(legs)
    return {  # Transaction's fields after ``id``, in their order (``_stored`` relies on it)
        "key": key,
        "fingerprint": _fingerprint(kind, value_date, legs, memo, fx_rate, reverses),
        "kind": kind,
        "value_date": value_date,
        "posted_at": timezone.now(),
        "memo": memo,
        "fx_rate": fx_rate,
        "reverses_id": reverses.pk if reverses else None,
    }


def _stored(txn_id: int, row: dict) -> Transaction:
    # Positional (``row`` holds the fields after ``id`` in order): half the cost of keywords.
    txn = Transaction(txn_id, *row.values())
    txn._state.adding = False
    txn._state.db = connection.alias
    return txn


def _deltas(legs: Sequence[Leg]) -> dict[int, Decimal]:
    """Net debit minus credit per account, accounts in id order (the lock order)."""
    net: dict[int, Decimal] = defaultdict(Decimal)
    for leg in legs:
        net[leg.account.pk] += leg.debit - leg.credit
    return dict(sorted(net.items()))


def _check_currencies(legs: Sequence[Leg], stored: dict[int, str]) -> None:
    for leg in legs:
        if stored.get(leg.account.pk) != leg.currency:
            raise InvalidPosting("A leg's currency differs from its account's.")


def _insufficient(legs: Sequence[Leg]) -> InsufficientFunds:
    """The refusal, described from the balances as they are now (the posting was rolled back)."""
    deltas = _deltas(legs)
    accounts = Account.objects.filter(pk__in=deltas, non_negative=True).only(
        "pk", "currency", "balance", "normal_side"
    )
    for account in accounts:
        move = deltas[account.pk]
        move = move if account.normal_side == Account.Side.DEBIT else -move
        if move < 0 and account.balance + move < 0:
            return InsufficientFunds(
                account=account.pk,
                currency=account.currency,
                balance=str(account.balance),
                requested=str(-move),
            )
    return InsufficientFunds()


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


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding, prepared once per connection: the statement is parsed and planned
    once, not per posting (``_PG_POST`` has one text per number of legs)."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)

    def _send_query_prepared(self, name, pgq, *, binary=None):
        # psycopg leaves ``_query`` unset for prepared statements; Django's query log reads it.
        self._query = pgq
        return super()._send_query_prepared(name, pgq, binary=binary)


_PREPARE_ONLY_WHEN_ASKED = 2**62


@functools.cache
def _pg_post_sql(legs: int, accounts: int) -> str:
    return _PG_POST.format(
        legs=", ".join([_PG_LEG] * legs),
        deltas=", ".join([_PG_DELTA] * accounts),
        ids=", ".join(["%s"] * accounts),
    )


def _post_postgresql(row: dict, legs: Sequence[Leg]) -> int | None:
    deltas = _deltas(legs)
    params = list(row.values())
    for leg in legs:
        params += [leg.account.pk, leg.debit, leg.credit, leg.currency]
    for pk, net in deltas.items():
        params += [pk, net]
    params += list(deltas)
    connection.ensure_connection()
    pg = connection.connection
    if pg.prepare_threshold is None:
        # Django turns psycopg's preparing off (prepare_threshold=None), which also ignores
        # prepare=True. A threshold no statement reaches prepares only what asks for it.
        pg.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
    raw = _PreparedCursor(pg)
    # Through Django's cursor wrapper, so query counting and execute_wrapper hooks see it.
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else None
    cursor = cursor or connection.make_cursor(raw)
    with cursor:
        cursor.execute(_pg_post_sql(len(legs), len(deltas)), params)
        result = cursor.fetchone()
    if result is None:
        return None
    txn_id, moved = result
    if moved != len(deltas):  # an account that doesn't exist: its FK fails first; belt and braces
        raise InvalidPosting("A leg names an account that does not exist.")
    return txn_id


def _post_portable(row: dict, legs: Sequence[Leg]) -> int | None:
    """Other databases (SQLite): the ORM, under the write lock the connection took at BEGIN."""
    if Transaction.objects.filter(key=row["key"]).exists():
        return None
    deltas = _deltas(legs)
    locked = _lock_accounts(deltas)
    _check_currencies(legs, {pk: acc.currency for pk, acc in locked.items()})
    new_balances = _new_balances(locked, deltas, legs)
    txn = Transaction.objects.create(**row)
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
    # Exact Decimal sums computed here under the lock, not ``F() + x`` (SQLite adds in floats).
    Account.objects.filter(pk__in=new_balances).update(
        balance=Case(
            *(When(pk=pk, then=Value(balance)) for pk, balance in new_balances.items()),
            default=F("balance"),
            output_field=Account._meta.get_field("balance"),
        )
    )
    return txn.pk


def _lock_accounts(ids, *, no_key: bool = False) -> dict[int, Account]:
    """Lock the accounts in id order (the one lock order: no deadlocks between posters)."""
    return {
        acc.pk: acc
        for acc in Account.objects.select_for_update(no_key=no_key)
        .filter(pk__in=ids)
        .order_by("pk")
        .only("pk", "currency", "non_negative", "balance", "normal_side")
    }


def _new_balances(
    locked: dict[int, Account], deltas: dict[int, Decimal], legs: Sequence[Leg]
) -> dict[int, Decimal]:
    """The balances after ``deltas`` in each account's normal sign; refuses an overdraft."""
    new_balances = {}
    for pk, net in deltas.items():
        account = locked[pk]
        new_balances[pk] = account.balance + (
            net if account.normal_side == Account.Side.DEBIT else -net
        )
        if account.non_negative and new_balances[pk] < 0:
            raise _insufficient(legs)
    return new_balances


@dataclass(frozen=True)
class Posting:
    """One transaction for ``transactions_post_many`` (the arguments of ``transaction_post``)."""

    key: str
    kind: str
    value_date: date
    legs: Sequence[Leg]
    memo: str = ""
    fx_rate: Decimal | None = None


@dataclass(frozen=True)
class PreparedPostings:
    """Postings validated, with their transaction rows (``postings_prepare``) and, when
    asked for on PostgreSQL, their ``copy`` plan."""

    postings: Sequence[Posting]
    rows: list[dict]
    copy: "CopyPlan | None" = None


@dataclass(frozen=True)
class CopyPlan:
    """New postings ready to be written by ``COPY``: every key was free when prepared, the
    ids are taken from the sequence, the rows formatted. ``transactions_post_many`` checks
    the accounts under their locks as always; should a key have been taken since, it
    posts the usual way instead (new ids: compare ``transactions`` to what it returns)."""

    transactions: list[Transaction]
    transactions_data: bytes
    entries_data: bytes
    deltas: dict[int, Decimal]
    currencies: dict[int, str]


def postings_prepare(postings: Sequence[Posting], *, copy: bool = False) -> PreparedPostings:
    """What ``transactions_post_many`` does before it needs the database's locks: validate
    every posting (raises ``InvalidPosting``) and compute its row and fingerprint; with
    ``copy`` on PostgreSQL, also take ids for the new keys and format the ``COPY`` data
    (``CopyPlan``; none when a key is taken or repeated: those post the usual way). A caller
    may prepare while the database is busy with something else and post the result later."""
    rows = [_row(p.key, p.kind, p.value_date, p.legs, p.memo, p.fx_rate, None) for p in postings]
    plan = None
    if copy and rows and connection.vendor == "postgresql":
        plan = _copy_plan(postings, rows)
    return PreparedPostings(postings, rows, plan)


def copy_data(rows: Iterable[Sequence]) -> bytes:
    """Rows in PostgreSQL's ``COPY … FROM STDIN`` text format, formatted by psycopg with the
    connection's adapters (as ``cursor.copy().write_row`` would send them)."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor, Copy(cursor.cursor, writer=FileWriter(buffer)) as copy:
        for row in rows:
            copy.write_row(row)
    return buffer.getvalue()


def _copy_plan(postings: Sequence[Posting], rows: list[dict]) -> CopyPlan | None:
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
    transactions = [_stored(ids[row["key"]], row) for row in rows]
    return CopyPlan(
        transactions=transactions,
        transactions_data=copy_data(
            (txn.pk, *(row[c] for c in _COLUMNS_MANY))
            for txn, row in zip(transactions, rows, strict=True)
        ),
        entries_data=copy_data(
            (txn.pk, leg.account.pk, leg.debit, leg.credit, leg.currency)
            for txn, posting in zip(transactions, postings, strict=True)
            for leg in posting.legs
        ),
        deltas=_deltas([leg for p in postings for leg in p.legs]),
        currencies=currencies,
    )


def transactions_post_many(postings: Sequence[Posting] | PreparedPostings) -> list[Transaction]:
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
            return [
                transaction_post(
                    key=p.key,
                    kind=p.kind,
                    value_date=p.value_date,
                    legs=p.legs,
                    memo=p.memo,
                    fx_rate=p.fx_rate,
                )
                for p in postings
            ]
    if not rows:
        return []
    with transaction.atomic():
        if plan is not None:
            posted = _post_copy_plan(plan, postings)
            if posted is not None:
                return posted
        return _post_many_postgresql(postings, rows)


def _post_copy_plan(plan: CopyPlan, postings: Sequence[Posting]) -> list[Transaction] | None:
    """Post a ``CopyPlan``: the accounts locked and checked as ``_post_many_postgresql``
    does, then the prepared ``COPY`` data; ``None`` (nothing written) when a key was taken
    since it was prepared."""
    locked = _lock_accounts(plan.deltas, no_key=True)
    if len(locked) != len(plan.deltas):
        raise InvalidPosting("A leg names an account that does not exist.")
    if any(locked[pk].currency != currency for pk, currency in plan.currencies.items()):
        raise InvalidPosting("A leg's currency differs from its account's.")
    every_leg = [leg for p in postings for leg in p.legs]
    new_balances = _new_balances(locked, plan.deltas, every_leg)
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                with cursor.copy(_PG_TRANSACTIONS_COPY) as copy:
                    copy.write(plan.transactions_data)
                with cursor.copy(_PG_ENTRIES_COPY) as copy:
                    copy.write(plan.entries_data)
        except (IntegrityError, psycopg.errors.UniqueViolation):
            return None
        cursor.execute(_PG_BALANCES_MANY, [list(new_balances), list(new_balances.values())])
    return plan.transactions


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
_PG_TRANSACTIONS_COPY = (
    "COPY ledger_transaction (id, key, fingerprint, kind, value_date, posted_at, memo, fx_rate) "
    "FROM STDIN"
)
_COLUMNS_MANY = ("key", "fingerprint", "kind", "value_date", "posted_at", "memo", "fx_rate")
_PG_ENTRIES_COPY = (
    "COPY ledger_entry (transaction_id, account_id, debit, credit, currency) FROM STDIN"
)
_PG_BALANCES_MANY = """
UPDATE ledger_account AS a SET balance = d.balance
  FROM unnest(%s::bigint[], %s::numeric[]) AS d (id, balance)
 WHERE a.id = d.id
"""


def _post_many_postgresql(postings: Sequence[Posting], rows: list[dict]) -> list[Transaction]:
    every_leg = [leg for p in postings for leg in p.legs]
    locked = _lock_accounts({leg.account.pk for leg in every_leg}, no_key=True)
    if len(locked) != len({leg.account.pk for leg in every_leg}):
        raise InvalidPosting("A leg names an account that does not exist.")
    _check_currencies(every_leg, {pk: acc.currency for pk, acc in locked.items()})
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
            result.append(_stored(inserted[row["key"]], row))
            posted.append((inserted[row["key"]], posting))
            continue
        stored = taken.get(row["key"]) or result[first[row["key"]]]
        if stored.fingerprint != row["fingerprint"]:
            raise IdempotencyConflict(key=row["key"])
        result.append(stored)
    if not posted:
        return result
    entries = [(txn_id, leg) for txn_id, posting in posted for leg in posting.legs]
    posted_legs = [leg for _, leg in entries]
    new_balances = _new_balances(locked, _deltas(posted_legs), posted_legs)
    with connection.cursor() as cursor:
        # COPY: no client-side quoting of every value; the deferred zero-sum trigger still
        # proves each transaction at COMMIT (constraint triggers fire for COPY as for INSERT).
        with cursor.copy(_PG_ENTRIES_COPY) as copy:
            for txn_id, leg in entries:
                copy.write_row((txn_id, leg.account.pk, leg.debit, leg.credit, leg.currency))
        cursor.execute(_PG_BALANCES_MANY, [list(new_balances), list(new_balances.values())])
    return result


def _insert_new_keys(candidates: list[dict]) -> dict[str, int]:
    """``INSERT … ON CONFLICT (key) DO NOTHING``: ``{key: id}`` of the rows inserted; a key
    taken (by now, or by a concurrent poster that commits) inserts nothing."""
    with connection.cursor() as cursor:
        cursor.execute(_PG_INSERT_MANY, [[row[c] for row in candidates] for c in _COLUMNS_MANY])
        return {key: txn_id for txn_id, key in cursor.fetchall()}


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
