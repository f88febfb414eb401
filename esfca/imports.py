"""Receipts imported from a CSV or XLSX file: template, dry run, then the import (Celery).

Every row is judged by the receipts service (``esfca.services``), which gives exactly what
``receipt_record`` gives row by row in file order (never a copy of its rules), a chunk of
rows at a time:

- the **dry run** (``receipts_check_chunks``) judges every chunk inside one database
  transaction that is rolled back at the end, each row after the rows above it (the
  month's headroom fills up as it would), and nothing is kept;
- the **import** (``receipts_record_chunks``) records chunk by chunk, one database
  transaction per chunk, judging the next chunk while one is written on PostgreSQL, and
  moves the progress bar after each; a row already recorded with the same details is a
  replay, so importing a file twice posts nothing twice.

A job never stays stuck (issue 15): its tasks go back to the queue when their worker dies,
it beats while it works, the sweeper (``imports_sweep``) fails one whose beat stopped, and
``import_resume`` starts it again, an import after its last committed chunk.

The web request only checks the file's envelope and keeps its bytes in pieces
(``import_job_create``, ``ImportFilePiece``); the worker streams them (``JobFile``) and reads
the rows a chunk at a time, in the dry run and again in the import, so that its memory
holds a few chunks whatever the file's size (issue 15: the judged chunks before the last
are written or dropped, the report goes to the database a chunk at a time and is read back
a page at a time, ``report_lines``). Files are read as text, a row at a time and within
the limits of the settings (``limits``: size, rows, cells, an XLSX's unpacked size): CSV
cells as they are, XLSX cells from the sheet's XML (the raw ``<v>`` text, streamed), so
amounts never pass through a float.
"""

import csv
import functools
import io
import json
import logging
import posixpath
import threading
import zipfile
import zlib
from collections import Counter, deque
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from xml.etree import ElementTree

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Length
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from .database import connection_lost, connection_reset, when_back
from .errors import InvalidState, QueueUnavailable
from .exports import CsvWriter, xlsx_append
from .models import ImportChunk, ImportFilePiece, ImportJob
from .services import (
    RowOutcome,
    receipts_check_chunks,
    receipts_record_chunks,
)

COLUMNS = [
    "reference",
    "value_date",
    "amount",
    "currency",
    "retain",
    "conversion_rate",
    "client_name",
    "client_country",
    "purpose_code",
    "bank",
]
REQUIRED = {"reference", "value_date", "amount", "currency", "client_name", "client_country"}
HELP = {
    "reference": "Your unique reference of the remittance (1-120 characters)",
    "value_date": "YYYY-MM-DD",
    "amount": "Amount received, e.g. 12500.00 (a dot for decimals, no separators)",
    "currency": "ISO code of the ESFCA currency, e.g. USD",
    "retain": "Empty or max = the allowed maximum; or an amount; 0 = convert everything",
    "conversion_rate": "Empty = buying rate of the value date; or the bank's rate",
    "client_name": "Name of the foreign client",
    "client_country": "ISO 3166 alpha-2 code of the client's country, e.g. US",
    "purpose_code": "SBP purpose code, e.g. 9184 (optional)",
    "bank": "Code of the bank credited, e.g. SCBL: needed when the currency is held at "
    "more than one bank",
}
# Rows per database transaction (and per step of the progress bar). Each chunk costs a few
# queries and a pipeline step whatever its size; 5,000 rows hold the firm's lock for about
# a second on the benchmark machine (docs/benchmarks.md: 2,000 rows were ~6 % slower).
CHUNK = 5000
EDGE = 1000


logger = logging.getLogger(__name__)


class ImportFileError(Exception):
    """The file itself can't be read, or passes a limit (not a row's fault)."""


# --- templates -------------------------------------------------------------------------------


def template_csv() -> bytes:
    buffer = io.StringIO()
    CsvWriter(buffer).writerow(COLUMNS)
    return buffer.getvalue().encode()


def template_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Receipts"
    xlsx_append(sheet, COLUMNS)
    for column in sheet.iter_cols(min_row=1, max_row=1000, max_col=len(COLUMNS)):
        for cell in column:
            cell.number_format = "@"  # text: amounts keep the digits typed
    help_sheet = book.create_sheet("Help")
    xlsx_append(help_sheet, ["column", "required", "meaning"])
    for name in COLUMNS:
        xlsx_append(help_sheet, [name, "yes" if name in REQUIRED else "no", HELP[name]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the file's limits -----------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What one import file may hold (settings ``ESFCA_IMPORT_MAX_*``, README): the file as
    uploaded, its rows of receipts, its cells and the characters of one, and an XLSX's
    members unpacked, in bytes and as a multiple of the file (a zip bomb's is in the
    hundreds; a spreadsheet's 10 to 20)."""

    file_bytes: int
    rows: int
    cells: int
    cell_chars: int
    unpacked_bytes: int
    ratio: int


def limits() -> Limits:
    return Limits(
        file_bytes=settings.ESFCA_IMPORT_MAX_BYTES,
        rows=settings.ESFCA_IMPORT_MAX_ROWS,
        cells=settings.ESFCA_IMPORT_MAX_CELLS,
        cell_chars=settings.ESFCA_IMPORT_MAX_CELL_CHARS,
        unpacked_bytes=settings.ESFCA_IMPORT_MAX_UNPACKED_BYTES,
        ratio=settings.ESFCA_IMPORT_MAX_RATIO,
    )


def _size(size: int) -> str:
    if size < 1 << 20:
        return f"{size / 1024:,.0f} KiB"
    return f"{size / (1 << 20):,.1f} MiB"


def file_size_check(size: int) -> None:
    """The file as uploaded is within ``ESFCA_IMPORT_MAX_BYTES``."""
    limit = limits().file_bytes
    if size > limit:
        raise ImportFileError(
            f"The file is larger than {_size(limit)}, the most one import takes: "
            "split it into smaller files."
        )


def file_check(name: str, data: bytes | io.IOBase) -> None:
    """What the upload checks before keeping a file, reading none of its rows: its kind,
    its size, and for an XLSX the zip's directory (unpacked size and ratio). ``data``: the
    bytes, or a seekable binary file (an upload), left at its start."""
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    kind = _kind(name)
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    file_size_check(size)
    if not size:
        raise ImportFileError("The file is empty.")
    if kind == "xlsx":
        _workbook(stream, size, limits())
        stream.seek(0)


def _kind(name: str) -> str:
    extension = name.lower().rpartition(".")[2]
    if extension not in ("csv", "xlsx"):
        raise ImportFileError("Upload a .csv or .xlsx file.")
    return extension


# --- reading files: a row at a time, within the limits ---------------------------------------
# Each reader yields ``(row number, cells)``, the cells a list (CSV) or ``{column index:
# text}`` (XLSX: a sheet's cells are sparse); ``_receipt_rows`` counts cells and rows as they
# come and stops at the first limit passed. Nothing is held beyond the row read (an XLSX:
# its shared strings too), so a file is read in a memory of its own whatever its size.


def _receipt_rows(table, limit: Limits):
    """The receipts of a table whose first row names the columns (any order, unknown
    columns ignored), one at a time; blank rows skipped; every value as stripped text."""
    cells = 0
    names = None
    rows = 0
    for number, row in table:
        values = row.values() if isinstance(row, dict) else row
        cells += len(values)
        if cells > limit.cells:
            raise ImportFileError(
                f"The file has more than {limit.cells:,} cells, the most one import takes: "
                "split it into smaller files."
            )
        if values and max(map(len, values)) > limit.cell_chars:
            raise _cell_too_long(number, limit)
        if names is None:  # the header
            names, indexes, absent = _header(row)
            continue
        if not "".join(values).strip():
            continue
        if rows == limit.rows:
            raise ImportFileError(
                f"The file has more than {limit.rows:,} rows, the most one import takes: "
                "split it into smaller files."
            )
        if isinstance(row, dict):
            picked = [row.get(index, "") for index in indexes]
        else:
            width = len(row)
            picked = [row[index] if index < width else "" for index in indexes]
        rows += 1
        yield {**dict(zip(names, map(str.strip, picked), strict=True)), **absent}
    if names is None:
        raise ImportFileError("The file is empty.")


def _header(row) -> tuple[list[str], list[int], dict]:
    """The columns the first row names: ``(names, their indexes, {absent name: ""})``;
    a column named twice is read from its last place."""
    cells = row if isinstance(row, dict) else dict(enumerate(row))
    where = {}
    for index in sorted(cells):
        name = (cells[index] or "").strip().lower()
        if name in COLUMNS:
            where[name] = index
    missing = sorted(REQUIRED - where.keys())
    if missing:
        raise ImportFileError(
            f"The first row must name the columns; missing: {', '.join(missing)}. "
            "Download the template to see them."
        )
    names = [name for name in COLUMNS if name in where]
    absent = {name: "" for name in COLUMNS if name not in where}
    return names, [where[name] for name in names], absent


def _cell_too_long(number: int, limit: Limits) -> ImportFileError:
    return ImportFileError(
        f"Row {number} has a cell longer than {limit.cell_chars:,} characters: "
        "no column of a receipt is that long."
    )


def read_csv(data: bytes, limit: Limits | None = None) -> list[dict]:
    limit = limit or limits()
    return list(_receipt_rows(_csv_table(io.BytesIO(data), limit), limit))


def _csv_table(stream, limit: Limits):
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except UnicodeDecodeError as exc:
        raise ImportFileError("Save the CSV file as UTF-8.") from exc
    except csv.Error as exc:  # the csv module's own cell limit (131,072), or a broken line
        if "field larger than field limit" in str(exc):
            raise _cell_too_long(reader.line_num, limit) from exc
        raise ImportFileError(f"Line {reader.line_num} of the CSV file: {exc}.") from exc


_M = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_SMALL_XML = 1 << 20  # the workbook's and its relations' XML are read whole: a few KB
# Elements of one row (or shared string) held at once: a row of Excel's 16,384 columns has
# some 50,000 (cell, value, inline string).
_ITEM_ELEMENTS = 100_000
_DATE_COLUMNS = {"value_date"}
_EXCEL_EPOCH = date(1899, 12, 30)
_NOT_XLSX = "This is not a readable XLSX workbook."
# What a damaged or foreign zip or XML raises as it is read.
_XLSX_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted member
    KeyError,
    IndexError,
    ValueError,
    StopIteration,
    AttributeError,
    ElementTree.ParseError,
)


def _column_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + (ord(ch.upper()) - 64)
    return n - 1


def _workbook(stream, size: int, limit: Limits) -> zipfile.ZipFile:
    """The XLSX (a seekable binary file of ``size`` bytes) as a zip, its directory checked
    against the limits before a byte of it is unpacked (a member's size is what zipfile
    unpacks at most)."""
    try:
        book = zipfile.ZipFile(stream)
        members = book.infolist()
    except _XLSX_ERRORS as exc:
        raise ImportFileError(_NOT_XLSX) from exc
    unpacked = sum(member.file_size for member in members)
    if unpacked > limit.unpacked_bytes:
        raise ImportFileError(
            f"The workbook unpacks to more than {_size(limit.unpacked_bytes)}, the most one "
            "import takes: split it, or save it as CSV."
        )
    if unpacked > limit.ratio * size:
        raise ImportFileError(
            f"The workbook unpacks to more than {limit.ratio} times its size: "
            "this is not a spreadsheet of receipts."
        )
    if "xl/workbook.xml" not in book.namelist():
        raise ImportFileError(_NOT_XLSX)
    return book


def _elements(stream, parent: str, item: str):
    """Each complete ``item`` element under ``parent`` as the XML streams in. Memory holds
    one at a time: an item is dropped once used, and so is any other child of the root once
    complete; an item (or other child) of more than ``_ITEM_ELEMENTS`` elements is refused
    before it is complete."""
    depth, root, holder, held = 0, None, None, 0
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            depth += 1
            root = element if root is None else root
            if element.tag == parent:
                holder = element
            held += 1
            if held > _ITEM_ELEMENTS:
                raise ImportFileError(
                    "A row of the file holds more than any spreadsheet's row can: "
                    "this is not a spreadsheet of receipts."
                )
            continue
        depth -= 1
        if element.tag == item:
            yield element
            if holder is not None:
                holder.clear()
            held = 0
        elif depth == 1:  # a child of the root, done with
            root.clear()
            held = 0


def _string_item(item) -> str:
    """A shared or inline string's text: its ``t``, or its runs' (not a phonetic guide's)."""
    plain = item.find(f"{_M}t")
    if plain is not None:
        return plain.text or ""
    return "".join(t.text or "" for t in item.iterfind(f"{_M}r/{_M}t"))


def _shared_strings(book: zipfile.ZipFile, limit: Limits) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    strings = []
    with book.open("xl/sharedStrings.xml") as stream:
        for item in _elements(stream, f"{_M}sst", f"{_M}si"):
            text = _string_item(item)
            if len(text) > limit.cell_chars:
                raise _cell_too_long(len(strings) + 1, limit)
            strings.append(text)
            if len(strings) > limit.cells:  # more strings than cells to hold them
                raise ImportFileError(
                    f"The file has more than {limit.cells:,} cells, the most one import "
                    "takes: split it into smaller files."
                )
    return strings


def _small_xml(book: zipfile.ZipFile, name: str):
    if book.getinfo(name).file_size > _SMALL_XML:
        raise ImportFileError(_NOT_XLSX)
    return ElementTree.fromstring(book.read(name))


def _first_sheet(book: zipfile.ZipFile) -> str:
    workbook = _small_xml(book, "xl/workbook.xml")
    first = workbook.find(f"{_M}sheets/{_M}sheet")
    rels = _small_xml(book, "xl/_rels/workbook.xml.rels")
    target = next(r.get("Target") for r in rels if r.get("Id") == first.get(_REL))
    return target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)


def _cell_text(cell, shared: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = cell.find(f"{_M}is")
        return _string_item(inline) if inline is not None else ""
    value = cell.find(f"{_M}v")
    text = value.text or "" if value is not None else ""
    return shared[int(text)] if kind == "s" and text else text


def _xlsx_table(stream, size: int, limit: Limits):
    """The first sheet's rows, cells as text straight from the XML (the raw ``<v>``: no
    float on the way), streamed."""
    try:
        book = _workbook(stream, size, limit)
        shared = _shared_strings(book, limit)
        with book.open(_first_sheet(book)) as stream:
            number = 0
            for row in _elements(stream, f"{_M}sheetData", f"{_M}row"):
                number = int(row.get("r") or number + 1)
                cells, column = {}, -1
                for cell in row.iterfind(f"{_M}c"):
                    ref = cell.get("r")
                    column = _column_index(ref) if ref else column + 1
                    cells[column] = _cell_text(cell, shared)
                yield number, cells
    except _XLSX_ERRORS as exc:
        raise ImportFileError(_NOT_XLSX) from exc


def _excel_day(text: str) -> str:
    """A date typed as a date is its serial day number in the XML: as ``YYYY-MM-DD``."""
    try:
        return (_EXCEL_EPOCH + timedelta(days=int(text))).isoformat()
    except OverflowError:
        return text  # no such day: the service refuses it as it stands


def _xlsx_rows(stream, size: int, limit: Limits):
    """The first sheet's receipts, as text, one at a time."""
    for row in _receipt_rows(_xlsx_table(stream, size, limit), limit):
        for name in _DATE_COLUMNS:
            if row[name].isdigit() and row[name].isascii():
                row[name] = _excel_day(row[name])
        yield row


def read_xlsx(data: bytes, limit: Limits | None = None) -> list[dict]:
    """The first sheet's receipts, as text."""
    return list(_xlsx_rows(io.BytesIO(data), len(data), limit or limits()))


def file_rows(name: str, stream, size: int):
    """The receipts of a CSV or XLSX file (a seekable binary file of ``size`` bytes), one
    at a time, within ``limits()``; ``ImportFileError`` says what is wrong with the file
    (not with a row: the service judges those), at the row where it is found."""
    kind = _kind(name)
    file_size_check(size)
    limit = limits()
    if kind == "xlsx":
        return _xlsx_rows(stream, size, limit)
    return _receipt_rows(_csv_table(stream, limit), limit)


def read_file(name: str, data: bytes) -> list[dict]:
    """``file_rows`` of a file in memory, as a list (a small file)."""
    return list(file_rows(name, io.BytesIO(data), len(data)))


class JobFile(io.RawIOBase):
    """An import's file as kept (``ImportFilePiece``), read a piece at a time: a seekable
    binary file for the CSV reader or the zip of an XLSX, holding one piece in memory."""

    def __init__(self, job_id: int):
        super().__init__()
        pieces = ImportFilePiece.objects.filter(job_id=job_id)
        self.pieces = pieces
        self.size = pieces.aggregate(size=Sum(Length("data")))["size"] or 0
        self.position, self.held = 0, (None, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        index, start = divmod(self.position, ImportFilePiece.SIZE)
        if self.held[0] != index:
            data = self.pieces.filter(index=index).values_list("data", flat=True).get()
            self.held = (index, bytes(data))
        piece = self.held[1]
        n = min(len(buffer), len(piece) - start)
        buffer[:n] = piece[start : start + n]
        self.position += n
        return n


def job_rows(job: ImportJob):
    """The receipts of the job's file, streamed from its pieces (``file_rows``)."""
    raw = JobFile(job.pk)
    return file_rows(job.filename, io.BufferedReader(raw, 1 << 16), raw.size)


def job_file(job: ImportJob) -> bytes:
    """The job's file as kept (b"" once the import is done or the file refused)."""
    return b"".join(bytes(p) for p in job.pieces.order_by("index").values_list("data", flat=True))


# --- one row -------------------------------------------------------------------------------


def _decimal_or_text(value: str):
    """A Decimal when the text is one; otherwise the text, for the service to refuse."""
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def _date_or_text(value: str):
    try:
        return date.fromisoformat(value)
    except ValueError:
        return value


def row_kwargs(row: dict) -> dict:
    retain = (row.get("retain") or "").strip().lower()
    rate = (row.get("conversion_rate") or "").strip()
    return {
        "reference": row["reference"],
        "value_date": _date_or_text(row["value_date"]),
        "amount": _decimal_or_text(row["amount"]),
        "currency": row["currency"].upper(),
        "retain": "max" if retain in ("", "max") else _decimal_or_text(retain),
        "conversion_rate": _decimal_or_text(rate) if rate else None,
        "client_name": row["client_name"],
        "client_country": row["client_country"].upper(),
        "purpose_code": row.get("purpose_code") or "",
        "bank": (row.get("bank") or "").strip().upper(),
    }


def _refusal_text(exc: Exception) -> str:
    details = getattr(exc, "details", {}) or {}
    if getattr(exc, "code", "") == "validation_error" and details:
        parts = []
        for name, messages in details.items():
            messages = messages if isinstance(messages, list) else [messages]
            parts.append(f"{name}: {' '.join(str(m) for m in messages)}")
        return "; ".join(parts)
    return exc.message


def _report_line(number: int, row: dict, outcome: RowOutcome) -> dict:
    if outcome.error is not None:
        return {
            "row": number,
            "reference": row.get("reference", ""),
            "status": "refused",
            "code": outcome.code,
            "message": _refusal_text(outcome.error),
        }
    return {
        "row": number,
        "reference": outcome.value("reference"),
        "status": "accepted" if outcome.created else "replayed",
        "retained": str(outcome.value("retained")),
        "converted": str(outcome.value("converted")),
        "pkr_credited": str(outcome.value("pkr_credited")),
        "message": "",
    }


def _report_lines(first: int, rows: list[dict], outcomes: list[RowOutcome]) -> list[dict]:
    return [
        _report_line(number, row, outcome)
        for number, row, outcome in zip(
            range(first, first + len(rows)), rows, outcomes, strict=True
        )
    ]


def chunk_bounds(total: int) -> list[int]:
    """Where the chunks start and end: ``CHUNK`` rows each, except a short first and last
    one (``EDGE``), so that the import's writer starts sooner and the judging waits less
    for the last write (the next chunk is judged while one is written)."""
    if total <= CHUNK:
        return [0, total] if total else [0]
    inner = list(range(EDGE, total - EDGE, CHUNK))
    return [0, *inner, total - EDGE, total]


def _chunks(job: ImportJob, after: int = 0, held: deque | None = None):
    """``(number of the first row, rows)`` per chunk, read from the job's file as they are
    asked for (one chunk of rows in memory); row 1 of the file is the header. ``after``:
    the rows already recorded (a resumed import), read past. ``held``, when given, gets
    each chunk appended as it is handed out, for its outcomes to be matched to it."""
    bounds = [after, *(bound for bound in chunk_bounds(job.total) if bound > after)]
    rows = job_rows(job)
    for _ in range(after):
        next(rows)
    for start, end in pairwise(bounds):
        chunk = (start + 2, [next(rows) for _ in range(end - start)])
        if held is not None:
            held.append(chunk)
        yield chunk


# --- the job -------------------------------------------------------------------------------
# A job's life: uploaded → checking → checked → importing → done, or failed (with the
# reason) from any working state. Each start is a new attempt (``import_start``); the task
# claims its attempt of a working job (``_claim``) and fences every write of the job on it
# (``_claimed``), so that a redelivered task (``acks_late``, ``reject_on_worker_lost``) of a
# job done, swept or started again does nothing. While it works the job beats
# (``_Heartbeat``); ``imports_sweep`` fails a job whose beat stopped, and ``import_resume``
# starts it again: an import after its last committed chunk.

WORKING = (ImportJob.Status.CHECKING, ImportJob.Status.IMPORTING)


class Superseded(Exception):
    """The job is no longer this attempt's to work on: swept as stale, or started again."""


def import_job_create(*, firm, actor, filename: str, data: bytes | io.IOBase) -> ImportJob:
    """Keep the file on a new job, its envelope checked (``file_check``: kind, size, an
    XLSX's unpacked size; raises ``ImportFileError``). ``data``: the bytes, or a seekable
    binary file (an upload, which Django spools to disk past 2.5 MB), copied a piece at a
    time. Its rows are read by the worker, never here: a web request holds a piece of the
    file, not its parse."""
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    file_check(filename, stream)
    with transaction.atomic():
        job = ImportJob.objects.create(
            firm=firm,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            filename=filename[:200],
        )
        index = 0
        while piece := stream.read(ImportFilePiece.SIZE):
            ImportFilePiece.objects.create(job=job, index=index, data=piece)
            index += 1
    return job


class _Rollback(Exception):
    pass


def _counts(statuses: Counter) -> dict:
    return {status: statuses[status] for status in ("accepted", "replayed", "refused")}


def _job(job_id: int) -> ImportJob:
    """The job; not its report (a former run's, rewritten at the end, read back by the
    database a page at a time: ``report_lines``)."""
    return ImportJob.objects.select_related("firm", "created_by").defer("report").get(pk=job_id)


def _claimed(job: ImportJob):
    """The job, as long as it is still this attempt's to work on."""
    return ImportJob.objects.filter(pk=job.pk, attempt=job.attempt, status=job.status)


def _claim(job_id: int, attempt: int | None, status: str) -> ImportJob | None:
    """Take up the job for its task: its own ``attempt`` of the job, in the working
    ``status``; ``None`` when there is nothing to do (done, swept, or started again since).
    Called without an attempt (the bench, a task sent before attempts existed) the job is
    taken at its current attempt unless it is done. Raises ``DoesNotExist`` for a job gone."""
    jobs = ImportJob.objects.filter(pk=job_id)
    now = timezone.now()
    if attempt is None:
        attempt = jobs.values_list("attempt", flat=True).get()
        taken = (
            jobs.filter(attempt=attempt)
            .exclude(status=ImportJob.Status.DONE)
            .update(status=status, heartbeat_at=now)
        )
    else:
        taken = jobs.filter(attempt=attempt, status=status).update(heartbeat_at=now)
    if not taken:
        jobs.get()  # gone: DoesNotExist
        logger.info(
            "Import job %s, attempt %s: nothing to do (done or superseded).", job_id, attempt
        )
        return None
    return _job(job_id)


def _finish(job: ImportJob, **values) -> ImportJob:
    """Write the job's outcome, if the job is still this attempt's (``Superseded`` if not),
    and set it on the instance (not read back: the report of 100,000 rows is some megabytes
    of JSON)."""
    if not _claimed(job).update(**values):
        raise Superseded
    for name, value in values.items():
        setattr(job, name, value)
    return job


def _file_read(job: ImportJob) -> bool:
    """Read the job's file through once, the first time (``total`` still 0), streamed: its
    rows counted, the file's limits and form checked before any row is judged. False when
    the file is refused (a limit, not a readable CSV or XLSX): the job has failed, saying
    why, and keeps nothing of the file (nothing to resume)."""
    if job.total:
        return True
    try:
        total = sum(1 for _ in job_rows(job))
    except ImportFileError as exc:
        with transaction.atomic():
            _finish(
                job,
                status=ImportJob.Status.FAILED,
                message=str(exc),
                finished_at=timezone.now(),
                resumable=False,
            )
            ImportFilePiece.objects.filter(job=job).delete()
        return False
    _finish(job, total=total)
    return True


class _Heartbeat:
    """Beats the job's ``heartbeat_at`` every ``ESFCA_IMPORT_HEARTBEAT_SECONDS`` from a
    thread of its own (its own connection), for as long as the work runs: a long dry run or
    a chunk waiting on the firm's lock is still alive; a worker killed stops beating. A
    failed beat (the database away) is logged and tried again at the next, on a new
    connection."""

    def __init__(self, job: ImportJob):
        self.job, self.stopped = job, threading.Event()
        self.claimed = _claimed(job)  # this attempt, as it is now
        self.thread = threading.Thread(
            target=self._run, name=f"import-heartbeat-{job.pk}", daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        every = settings.ESFCA_IMPORT_HEARTBEAT_SECONDS
        try:
            while not self.stopped.wait(every):
                try:
                    self.claimed.update(heartbeat_at=timezone.now())
                except DatabaseError as exc:
                    logger.warning("Import job %s: heartbeat not written: %s", self.job.pk, exc)
                    connection_reset()
        finally:
            connection.close()


def _reason(exc: Exception) -> str:
    if not connection_lost(exc):
        return str(exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"the connection to the database was lost ({detail}); what was recorded before "
        "stays. Resume to go on."
    )


def _failed(job: ImportJob, exc: Exception, dry_run: bool = False) -> None:
    """An unexpected failure of the work: the job fails saying where and why, resumable.
    When the database connection was lost, the failure is written once it is back (it
    waits up to ``ESFCA_IMPORT_STALE_SECONDS``); if it stays away longer, the sweeper fails
    the job instead."""

    def write() -> None:
        if dry_run:
            where = "The dry run stopped"
        else:
            done = ImportJob.objects.filter(pk=job.pk).values_list("processed", flat=True).first()
            where = f"The import stopped at row {(done or 0) + 2}"
        _finish(
            job,
            status=ImportJob.Status.FAILED,
            message=f"{where}: {_reason(exc)}",
            finished_at=timezone.now(),
            resumable=True,
        )

    try:
        when_back(write, seconds=settings.ESFCA_IMPORT_STALE_SECONDS)
    except (Superseded, DatabaseError):
        logger.exception("Import job %s: its failure could not be written.", job.pk)


def import_dry_run(*, job_id: int, attempt: int | None = None) -> ImportJob | None:
    """Read the file (the first time), then judge every row with the real service inside
    a transaction that is rolled back. ``None``: nothing to do (see ``_claim``)."""
    job = _claim(job_id, attempt, ImportJob.Status.CHECKING)
    if job is None:
        return None
    try:
        with _Heartbeat(job):
            return _dry_run(job)
    except Superseded:
        logger.info("Import job %s: attempt %s superseded.", job.pk, job.attempt)
        return None
    except Exception as exc:
        _failed(job, exc, dry_run=True)
        raise


def _dry_run(job: ImportJob) -> ImportJob:
    """The report of each chunk is kept compressed (some 20 bytes a row) while the rolled
    back transaction lasts, then written as ``ImportChunk`` rows and gathered into the
    job's report by the database."""
    if not _file_read(job):
        return job
    kept: list[tuple[int, bytes]] = []
    statuses: Counter = Counter()
    held: deque = deque()
    try:
        with transaction.atomic():
            checked = receipts_check_chunks(
                firm=job.firm,
                actor=job.created_by,
                chunks=([row_kwargs(r) for r in rows] for _, rows in _chunks(job, held=held)),
            )
            for outcomes in checked:
                first, rows = held.popleft()
                lines = _report_lines(first, rows, outcomes)
                statuses.update(line["status"] for line in lines)
                kept.append((first, zlib.compress(json.dumps(lines).encode(), 1)))
            raise _Rollback
    except _Rollback:
        pass
    with transaction.atomic():
        ImportChunk.objects.filter(job=job).delete()
        while kept:
            first, packed = kept.pop(0)
            lines = json.loads(zlib.decompress(packed))
            ImportChunk.objects.create(job=job, first_row=first, lines=lines)
        _report_gather(job)
        job = _finish(
            job,
            status=ImportJob.Status.CHECKED,
            processed=0,
            message="",
            finished_at=timezone.now(),
            **_counts(statuses),
        )
        ImportChunk.objects.filter(job=job).delete()
    return job


def _report_gather(job: ImportJob) -> None:
    """The job's report: the lines of its ``ImportChunk`` rows in file order, joined by the
    database (a report of 200,000 lines never passes through Python); ``Superseded`` when
    the job is no longer this attempt's."""
    jobs, chunks = ImportJob._meta.db_table, ImportChunk._meta.db_table
    if connection.vendor == "postgresql":
        lines = (
            f"SELECT COALESCE(jsonb_agg(line ORDER BY c.first_row, n), '[]'::jsonb) "
            f"FROM {chunks} c CROSS JOIN LATERAL jsonb_array_elements(c.lines) "
            f"WITH ORDINALITY AS l(line, n) WHERE c.job_id = %s"
        )
    else:
        lines = (
            f"SELECT COALESCE(json_group_array(json(value)), '[]') FROM (SELECT l.value "
            f"FROM {chunks} c, json_each(c.lines) l WHERE c.job_id = %s "
            f"ORDER BY c.first_row, l.key)"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {jobs} SET report = ({lines}) WHERE id = %s AND attempt = %s AND status = %s",
            [job.pk, job.pk, job.attempt, job.status],
        )
        if not cursor.rowcount:
            raise Superseded


class ReportLines:
    """A job's report lines (all, or of one status) as the paginator asks for them: counted
    and sliced by the database, so a page of a 200,000-line report reads 200 lines."""

    def __init__(self, job: ImportJob, show: str = "all"):
        self.job_id, self.show = job.pk, show

    def _query(self, select: str, tail: str = "") -> tuple[str, list]:
        table = ImportJob._meta.db_table
        if connection.vendor == "postgresql":
            source = "jsonb_array_elements(j.report) WITH ORDINALITY AS l(line, n)"
            status, order = "l.line ->> 'status'", "l.n"
            select = select.replace("LINE", "l.line")
        else:
            source = "json_each(j.report) l"
            status, order = "json_extract(l.value, '$.status')", "l.key"
            select = select.replace("LINE", "l.value")
        where = "j.id = %s" + ("" if self.show == "all" else f" AND {status} = %s")
        params = [self.job_id] + ([] if self.show == "all" else [self.show])
        tail = tail.replace("ORDER", f"ORDER BY {order}")
        return f"SELECT {select} FROM {table} j, {source} WHERE {where} {tail}", params

    def count(self) -> int:
        sql, params = self._query("count(*)")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start = index.start or 0
        sql, params = self._query("LINE", "ORDER LIMIT %s OFFSET %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, max(0, (index.stop or start) - start), start])
            return [json.loads(v) if isinstance(v, str) else v for (v,) in cursor.fetchall()]


def report_lines(job: ImportJob, show: str = "all") -> ReportLines:
    """The job's report lines, ``show`` one status (``accepted``, ``replayed``,
    ``refused``) or ``all``, read from the database as they are sliced."""
    return ReportLines(job, show)


def import_run(*, job_id: int, attempt: int | None = None) -> ImportJob | None:
    """Record every row for real, one transaction per chunk (the next chunk judged while
    one is written, on PostgreSQL); replays post nothing. Each chunk's report lines and
    counts commit with the chunk (``ImportChunk``), so a resumed import starts after the
    last committed chunk and its counts stay exact. ``None``: nothing to do."""
    job = _claim(job_id, attempt, ImportJob.Status.IMPORTING)
    if job is None:
        return None
    try:
        with _Heartbeat(job):
            return _run(job)
    except Superseded:
        logger.info("Import job %s: attempt %s superseded.", job.pk, job.attempt)
        return None
    except Exception as exc:  # an unexpected failure: what was committed stays, say so
        _failed(job, exc)
        raise


def _run(job: ImportJob) -> ImportJob:
    if not _file_read(job):
        return job
    if job.processed == 0:  # nothing committed yet: the counts are the dry run's
        with transaction.atomic():
            ImportChunk.objects.filter(job=job).delete()
            _finish(job, accepted=0, replayed=0, refused=0)
    held: deque = deque()  # the chunks handed out and not yet kept: two or three
    recorded = receipts_record_chunks(
        firm=job.firm,
        actor=job.created_by,
        chunks=([row_kwargs(r) for r in rows] for _, rows in _chunks(job, job.processed, held)),
        keep=functools.partial(_chunk_keep, job, held),
    )
    for _ in recorded:
        pass
    with transaction.atomic():
        _report_gather(job)
        counts = ImportJob.objects.filter(pk=job.pk).values(*_counts(Counter())).get()
        _finish(
            job,
            status=ImportJob.Status.DONE,
            processed=job.total,
            message="",
            finished_at=timezone.now(),
            **counts,
        )
        ImportChunk.objects.filter(job=job).delete()
        ImportFilePiece.objects.filter(job=job).delete()
    return job


def _chunk_keep(job: ImportJob, held: deque, index: int, outcomes: list[RowOutcome]) -> None:
    """Inside a chunk's transaction: its report lines, the counts and the heartbeat; a job
    no longer this attempt's undoes the chunk (``Superseded``). The chunks are kept in the
    order they were handed out: this one is the oldest held."""
    first, rows = held.popleft()
    lines = _report_lines(first, rows, outcomes)
    ImportChunk.objects.create(job=job, first_row=first, lines=lines)
    counts = Counter(line["status"] for line in lines)
    added = {status: F(status) + n for status, n in _counts(counts).items()}
    if not _claimed(job).update(
        processed=first - 2 + len(rows), heartbeat_at=timezone.now(), **added
    ):
        raise Superseded


def import_start(*, job: ImportJob, dry_run: bool) -> None:
    """Mark the job (a new attempt) and send its task once the transaction commits. When
    the queue cannot take it (Redis down) nothing is left waiting for a worker that will
    never come: a new upload's job is deleted, a checked or failed one is as it was, and
    ``QueueUnavailable`` (503) says so."""
    before = job.status
    status = ImportJob.Status.CHECKING if dry_run else ImportJob.Status.IMPORTING
    attempt = job.attempt + 1
    restart = {"processed": 0} if dry_run else {}  # an import goes on from its last chunk
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        attempt=attempt,
        dry_run=dry_run,
        heartbeat_at=timezone.now(),
        resumable=False,
        **restart,
    )
    task = import_dry_run_task if dry_run else import_run_task
    transaction.on_commit(functools.partial(_send, task, job, before, attempt))


def _send(task, job: ImportJob, before: str, attempt: int) -> None:
    try:
        task.delay(job.pk, attempt)
    except BrokerUnreachable as exc:
        logger.warning("Import job %s not started, the task queue is unreachable: %s", job.pk, exc)
        if before == ImportJob.Status.UPLOADED:
            ImportJob.objects.filter(pk=job.pk).delete()
        else:
            ImportJob.objects.filter(pk=job.pk).update(
                status=before, resumable=before == ImportJob.Status.FAILED
            )
        raise QueueUnavailable(
            "The import could not be started: its task queue is not answering. Nothing was "
            "recorded; try again in a few minutes."
        ) from exc


# --- stopped jobs: the sweeper, and resuming -------------------------------------------------


def _stale_message(job: ImportJob, seconds: int) -> str:
    silent = f"its worker gave no sign of life for {seconds} seconds"
    if job.status == ImportJob.Status.CHECKING:
        return (
            f"The dry run stopped: {silent}. Nothing was recorded; resume to check the file again."
        )
    return (
        f"The worker stopped at row {job.processed + 2}: {silent}; {job.processed:,} of "
        f"{job.total:,} rows were recorded. Resume to continue from there."
    )


def imports_sweep(*, jobs=None, now=None) -> list[int]:
    """Fail every job in a working state whose worker gave no sign of life (its heartbeat,
    or its sending) for ``ESFCA_IMPORT_STALE_SECONDS``: resumable, saying where it stopped.
    Run every minute by beat (``esfca.tasks.imports_sweep``) and by ``manage.py
    imports_sweep``. A job still working beats more often than that, even in-process."""
    now = now or timezone.now()
    seconds = settings.ESFCA_IMPORT_STALE_SECONDS
    stale = Q(heartbeat_at__lt=now - timedelta(seconds=seconds)) | Q(
        heartbeat_at__isnull=True, created_at__lt=now - timedelta(seconds=seconds)
    )
    jobs = (ImportJob.objects.all() if jobs is None else jobs).filter(stale, status__in=WORKING)
    swept = []
    for job in jobs.only("pk", "attempt", "status", "processed", "total"):
        if (
            _claimed(job)
            .filter(stale)
            .update(
                status=ImportJob.Status.FAILED,
                message=_stale_message(job, seconds),
                finished_at=now,
                resumable=True,
            )
        ):
            logger.warning("Import job %s swept: %s", job.pk, _stale_message(job, seconds))
            swept.append(job.pk)
    return swept


def import_resume(*, job: ImportJob) -> None:
    """Start a stopped job again: a failed one that may be resumed, or a working one whose
    worker stopped (swept first). A dry run is checked again from the start (it kept
    nothing); an import goes on after its last committed chunk, posting nothing twice."""
    imports_sweep(jobs=ImportJob.objects.filter(pk=job.pk))
    job = ImportJob.objects.defer("report").get(pk=job.pk)
    if job.status != ImportJob.Status.FAILED or not job.resumable:
        raise InvalidState(
            "Only an import that stopped can be resumed."
            if job.status != ImportJob.Status.FAILED
            else "This file was refused as a whole: fix it and upload it again."
        )
    import_start(job=job, dry_run=job.dry_run)


# The job row is the task's result: no result backend is written, or waited for. A job that
# is gone (its start refused while the broker was half down, yet the task got through) is
# nothing to do. A task whose worker dies is given back to the queue (``acks_late``,
# ``reject_on_worker_lost``) and takes its job up again where its last chunk committed.
@shared_task(
    name="esfca.imports.dry_run", ignore_result=True, acks_late=True, reject_on_worker_lost=True
)
def import_dry_run_task(job_id: int, attempt: int | None = None) -> dict | None:
    try:
        job = import_dry_run(job_id=job_id, attempt=attempt)
    except ImportJob.DoesNotExist:
        logger.warning("Import job %s is gone: nothing to check.", job_id)
        return None
    return _task_result(job)


@shared_task(
    name="esfca.imports.run", ignore_result=True, acks_late=True, reject_on_worker_lost=True
)
def import_run_task(job_id: int, attempt: int | None = None) -> dict | None:
    try:
        job = import_run(job_id=job_id, attempt=attempt)
    except ImportJob.DoesNotExist:
        logger.warning("Import job %s is gone: nothing to import.", job_id)
        return None
    return _task_result(job)


def _task_result(job: ImportJob | None) -> dict | None:
    if job is None:
        return None
    return {"accepted": job.accepted, "replayed": job.replayed, "refused": job.refused}
