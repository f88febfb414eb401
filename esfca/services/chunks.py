"""Receipts in chunks (imports on PostgreSQL): each chunk judged ahead of the firm's lock
while a writer thread writes and commits the one before, with the outcome of recording the
chunks one by one with ``receipts_record_many``."""

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from django.db import connection, connections, transaction
from django.db.models import Max

from exporters.models import Firm

from ..models import Receipt
from .batch import Batch, Carried, NeedsLock, RowOutcome, receipt_requests, requests_record
from .checks import local_today
from .movements import lock_firm
from .receipts import ReceiptRequest
from .rules import firm_judged_terms

# Called inside a chunk's transaction with the chunk's index and outcomes.
ChunkKeeper = Callable[[int, list[RowOutcome]], None]
# Chunks a dry run keeps judged and unwritten; an older one is written (inside the dry
# run's transaction, rolled back) so that memory holds two chunks whatever the file's size
# (issue 15: a judged chunk of 5,000 rows is some 40 MB; with 3 held a dry run's RSS grew
# to 370 MB, with 1 it stays under 175 MB). A file of two chunks is checked without a write.
HELD = 1


def _known_of(carried: Carried, aheads) -> None:
    """Keep in ``carried.known`` only the references of these chunks (those not written
    yet, or written by a transaction still open elsewhere): any other is in the database,
    where the next chunk's ``Batch`` finds it as ``receipt_record`` would."""
    references = {r.reference for ahead in aheads for r in ahead.requests}
    carried.known = {ref: seen for ref, seen in carried.known.items() if ref in references}


@dataclass
class ChunkOutcome:
    """One chunk's outcomes, once committed; ``ahead`` when the judgement made ahead of
    the firm's lock held and was written as it was."""

    outcomes: list[RowOutcome]
    ahead: bool = False


@dataclass
class Ahead:
    """A chunk judged ahead of its lock: its outcomes and the batch holding its writes, or
    ``None`` for both when a row needed the lock (the writer judges the chunk again)."""

    requests: list[ReceiptRequest]
    outcomes: list[RowOutcome] | None
    batch: Batch | None


def judge_ahead(
    firm: Firm, actor, rows: list[dict], today: date, carried: Carried, prepare: bool = True
) -> Ahead:
    """Judge a chunk without the firm's lock, as if the chunks before it were written."""
    requests = receipt_requests(rows)
    firm = Firm.objects.get(pk=firm.pk)  # as the lock would read it
    batch = Batch(firm, actor, requests, today, carried, ahead=True)
    try:
        outcomes = batch.judge_all(requests)
    except NeedsLock:
        return Ahead(requests, None, None)
    if prepare:
        batch.prepare()  # the writer thread has less to do: it is the slower of the two
    return Ahead(requests, outcomes, batch)


def receipts_check_chunks(
    *, firm: Firm, actor, chunks: Iterable[list[dict]], today: date | None = None
) -> Iterator[list[RowOutcome]]:
    """What ``receipts_record_chunks`` would give for these chunks, for a dry run: call it
    inside a transaction that the caller rolls back.

    The chunks are judged ahead of any write, each from what the ones before it carried
    forward, so that a dry run of up to ``HELD`` chunks of new rows writes nothing at all;
    past that the oldest chunk held is written, so that memory holds ``HELD`` chunks. When
    a chunk needs the database under the lock (a backdated row, a reused reference) the
    chunks judged so far are written, and that chunk recorded by ``receipts_record_many``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("A dry run belongs inside a transaction that is rolled back.")
    today = today or local_today()
    carried, unwritten = Carried(), []
    for rows in chunks:
        ahead = judge_ahead(firm, actor, rows, today, carried, prepare=False)
        if ahead.batch is not None:
            unwritten.append(ahead)
            if len(unwritten) > HELD:
                oldest = unwritten.pop(0).batch
                oldest.prepare()
                oldest.flush()
                _known_of(carried, unwritten)
            yield ahead.outcomes
            continue
        for held in unwritten:
            held.batch.flush()
        unwritten, carried = [], Carried()
        yield requests_record(firm=firm, actor=actor, requests=ahead.requests, today=today)


def _last_receipt_id(firm: Firm, after: int = 0) -> int:
    """The firm's highest receipt id above ``after`` (``after`` when there is none)."""
    newer = Receipt.objects.filter(firm=firm, pk__gt=after).aggregate(last=Max("pk"))["last"]
    return newer or after


class ChunkWriter:
    """Writes chunks judged ahead of their lock, one database transaction each, on its own
    thread and connection, so that the next chunk is judged while this one is written and
    committed (PostgreSQL does its part on the other core).

    Under the firm's lock it first proves the judgement still holds: the firm's receipts
    are what the judgement assumed, i.e. none was written by anyone else since the last
    chunk (ids are taken under the firm's lock, so any such receipt has a higher id), and
    the firm's kind and registration are those it was judged with (re-read under the lock).
    Otherwise, or when the chunk needed the lock, it records the chunk with
    ``receipts_record_many`` under the lock, and says so (``ahead`` false) so that the next
    chunk is judged again from the database."""

    def __init__(self, firm: Firm, actor, today: date, keep: ChunkKeeper | None = None):
        self.firm, self.actor, self.today, self.keep = firm, actor, today, keep
        self.last_id = _last_receipt_id(firm)  # read before anything is judged
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipts-writer")

    def submit(self, ahead: Ahead, index: int = 0) -> Future:
        return self.pool.submit(self._write, ahead, index)

    def _write(self, ahead: Ahead, index: int = 0) -> ChunkOutcome:
        with transaction.atomic():
            firm = lock_firm(self.firm)
            kept = (
                ahead.batch is not None
                and _last_receipt_id(firm, self.last_id) == self.last_id
                and firm_judged_terms(firm) == firm_judged_terms(ahead.batch.firm)
            )
            if kept:
                ahead.batch.flush()
                outcomes = ahead.outcomes
            else:
                outcomes = requests_record(
                    firm=firm, actor=self.actor, requests=ahead.requests, today=self.today
                )
            self.last_id = _last_receipt_id(firm, self.last_id)
            if self.keep is not None:
                self.keep(index, outcomes)
        return ChunkOutcome(outcomes, ahead=kept)

    def close(self) -> None:
        try:
            self.pool.submit(connections.close_all).result()  # the writer thread's connection
        finally:
            self.pool.shutdown(wait=True)


def receipts_record_chunks(
    *,
    firm: Firm,
    actor,
    chunks: Iterable[list[dict]],
    today: date | None = None,
    keep: ChunkKeeper | None = None,
) -> Iterator[ChunkOutcome]:
    """``receipts_record_many`` for each chunk in turn, one database transaction each,
    yielding each chunk's outcomes once it is committed: the same outcomes as calling it
    chunk by chunk. ``keep(index, outcomes)``, when given, is called inside each chunk's
    transaction after its writes: what the caller keeps of a chunk (an import's progress)
    commits with the chunk or not at all, and an exception from it undoes the chunk.

    On PostgreSQL, outside any transaction, a chunk is judged while the one before it is
    written and committed by a ``ChunkWriter`` (its own thread and connection), which
    proves under the firm's lock that the judgement still holds or records the chunk again
    under the lock. Elsewhere (SQLite, or inside a transaction) the chunks go one by one.
    """
    today = today or local_today()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        for index, rows in enumerate(chunks):
            with transaction.atomic():
                outcomes = requests_record(
                    firm=firm, actor=actor, requests=receipt_requests(rows), today=today
                )
                if keep is not None:
                    keep(index, outcomes)
            yield ChunkOutcome(outcomes)
        return
    writer = ChunkWriter(firm, actor, today, keep)
    try:
        carried, in_flight = Carried(), None
        for index, rows in enumerate(chunks):
            ahead = judge_ahead(firm, actor, rows, today, carried)
            if in_flight is not None:
                done = in_flight.result()
                yield done
                if not done.ahead:  # judged from the database again, now the chunk before is in
                    carried = Carried()
                    ahead = judge_ahead(firm, actor, rows, today, carried)
                else:  # the chunks before this one are committed: the database has them
                    _known_of(carried, [ahead])
            if ahead.batch is None:
                carried = Carried()  # this chunk's judgement was cut short: start afresh
            in_flight = writer.submit(ahead, index)
        if in_flight is not None:
            yield in_flight.result()
    finally:
        writer.close()
