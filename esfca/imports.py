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

Files are read as text: CSV cells as they are, XLSX cells from the sheet's XML (the raw
``<v>`` text), so amounts never pass through a float.
"""

import csv
import io
import posixpath
import zipfile
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from xml.etree import ElementTree

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .exports import CsvWriter, xlsx_append
from .models import ImportJob
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
MAX_ROWS = 200_000
# Rows per database transaction (and per step of the progress bar). Each chunk costs a few
# queries and a pipeline step whatever its size; 5,000 rows hold the firm's lock for about
# a second on the benchmark machine (docs/benchmarks.md: 2,000 rows were ~6 % slower).
CHUNK = 5000
EDGE = 1000


class ImportFileError(Exception):
    """The file itself can't be read (not a row's fault)."""


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


# --- reading files ---------------------------------------------------------------------------


def _rows_from_table(table: list[list[str]]) -> list[dict]:
    if not table:
        raise ImportFileError("The file is empty.")
    header = [h.strip().lower() for h in table[0]]
    missing = sorted(REQUIRED - set(header))
    if missing:
        raise ImportFileError(
            f"The first row must name the columns; missing: {', '.join(missing)}. "
            "Download the template to see them."
        )
    rows = []
    for cells in table[1:]:
        if not any((c or "").strip() for c in cells):
            continue
        row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)}
        rows.append({name: row.get(name, "") for name in COLUMNS})
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"At most {MAX_ROWS} rows per file.")
    return rows


def read_csv(data: bytes) -> list[dict]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("Save the CSV file as UTF-8.") from exc
    return _rows_from_table(list(csv.reader(io.StringIO(text))))


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_DATE_COLUMNS = {"value_date"}
_EXCEL_EPOCH = date(1899, 12, 30)


def _column_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + (ord(ch.upper()) - 64)
    return n - 1


def read_xlsx(data: bytes) -> list[dict]:
    """The first sheet's cells as text, straight from the XML (no float on the way)."""
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        shared = []
        if "xl/sharedStrings.xml" in book.namelist():
            root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
            for item in root.findall("m:si", _NS):
                shared.append("".join(t.text or "" for t in item.iter(f"{{{_NS['m']}}}t")))
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        first = workbook.find("m:sheets/m:sheet", _NS)
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == first.get(_REL))
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        sheet = ElementTree.fromstring(book.read(path))
    except (zipfile.BadZipFile, KeyError, StopIteration, AttributeError) as exc:
        raise ImportFileError("This is not a readable XLSX workbook.") from exc
    except ElementTree.ParseError as exc:
        raise ImportFileError("This is not a readable XLSX workbook.") from exc
    table: list[list[str]] = []
    for row in sheet.iterfind("m:sheetData/m:row", _NS):
        cells: dict[int, str] = {}
        for cell in row.iterfind("m:c", _NS):
            kind = cell.get("t", "n")
            if kind == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{{{_NS['m']}}}t"))
            else:
                value = cell.find("m:v", _NS)
                text = value.text or "" if value is not None else ""
                if kind == "s" and text:
                    text = shared[int(text)]
            cells[_column_index(cell.get("r", "A"))] = text
        width = max(cells) + 1 if cells else 0
        table.append([cells.get(i, "") for i in range(width)])
    rows = _rows_from_table(table)
    for row in rows:  # a date typed as a date is a serial day number in the XML
        for name in _DATE_COLUMNS:
            if row[name].isdigit():
                row[name] = (_EXCEL_EPOCH + timedelta(days=int(row[name]))).isoformat()
    return rows


def read_file(name: str, data: bytes) -> list[dict]:
    if name.lower().endswith(".xlsx"):
        return read_xlsx(data)
    if name.lower().endswith(".csv"):
        return read_csv(data)
    raise ImportFileError("Upload a .csv or .xlsx file.")


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


def _chunks(job: ImportJob):
    """``(number of the first row, rows)`` per chunk; row 1 of the file is the header."""
    bounds = chunk_bounds(len(job.rows))
    for start, end in pairwise(bounds):
        yield start + 2, job.rows[start:end]


# --- the job -------------------------------------------------------------------------------


def import_job_create(*, firm, actor, filename: str, data: bytes) -> ImportJob:
    """Read the file into a new job (raises ``ImportFileError`` for an unreadable file)."""
    rows = read_file(filename, data)
    return ImportJob.objects.create(
        firm=firm,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        filename=filename[:200],
        rows=rows,
        total=len(rows),
    )


class _Rollback(Exception):
    pass


def _counts(statuses: Counter) -> dict:
    return {status: statuses[status] for status in ("accepted", "replayed", "refused")}


def _job(job_id: int) -> ImportJob:
    """The job with its rows; not its report (a former run's, rewritten at the end)."""
    return ImportJob.objects.select_related("firm", "created_by").defer("report").get(pk=job_id)


def _finish(job: ImportJob, **values) -> ImportJob:
    """Write the job's outcome, and set it on the instance (not read back: the report of
    100,000 rows is some megabytes of JSON)."""
    ImportJob.objects.filter(pk=job.pk).update(**values)
    for name, value in values.items():
        setattr(job, name, value)
    return job


def import_dry_run(*, job_id: int) -> ImportJob:
    """Judge every row with the real service inside a transaction that is rolled back."""
    job = _job(job_id)
    report: list[dict] = []
    chunks = list(_chunks(job))
    try:
        with transaction.atomic():
            checked = receipts_check_chunks(
                firm=job.firm,
                actor=job.created_by,
                chunks=([row_kwargs(r) for r in rows] for _, rows in chunks),
            )
            for (first, rows), outcomes in zip(chunks, checked, strict=True):
                report += _report_lines(first, rows, outcomes)
            raise _Rollback
    except _Rollback:
        pass
    return _finish(
        job,
        status=ImportJob.Status.CHECKED,
        report=report,
        processed=0,
        message="",
        finished_at=timezone.now(),
        **_counts(Counter(line["status"] for line in report)),
    )


def import_run(*, job_id: int) -> ImportJob:
    """Record every row for real, one transaction per chunk (the next chunk judged while
    one is written, on PostgreSQL); replays post nothing."""
    job = _job(job_id)
    report: list[dict] = []
    statuses: Counter = Counter()  # kept as the report grows: it is read after every chunk
    chunks = list(_chunks(job))
    recorded = receipts_record_chunks(
        firm=job.firm,
        actor=job.created_by,
        chunks=([row_kwargs(r) for r in rows] for _, rows in chunks),
    )
    try:
        for (first, rows), chunk in zip(chunks, recorded, strict=True):
            lines = _report_lines(first, rows, chunk.outcomes)
            report += lines
            statuses.update(line["status"] for line in lines)
            ImportJob.objects.filter(pk=job.pk).update(processed=len(report), **_counts(statuses))
    except Exception as exc:  # an unexpected failure: keep what was done, say so
        _finish(
            job,
            status=ImportJob.Status.FAILED,
            report=report,
            processed=len(report),
            message=f"The import stopped at row {len(report) + 2}: {exc}",
            finished_at=timezone.now(),
            **_counts(statuses),
        )
        raise
    return _finish(
        job,
        status=ImportJob.Status.DONE,
        report=report,
        processed=len(report),
        message="",
        finished_at=timezone.now(),
        **_counts(statuses),
    )


def import_start(*, job: ImportJob, dry_run: bool) -> None:
    """Mark the job and send its task once the transaction commits."""
    status = ImportJob.Status.CHECKING if dry_run else ImportJob.Status.IMPORTING
    ImportJob.objects.filter(pk=job.pk).update(status=status, processed=0, message="")
    task = import_dry_run_task if dry_run else import_run_task
    transaction.on_commit(lambda: task.delay(job.pk))


@shared_task(name="esfca.imports.dry_run")
def import_dry_run_task(job_id: int) -> dict:
    job = import_dry_run(job_id=job_id)
    return {"accepted": job.accepted, "replayed": job.replayed, "refused": job.refused}


@shared_task(name="esfca.imports.run")
def import_run_task(job_id: int) -> dict:
    job = import_run(job_id=job_id)
    return {"accepted": job.accepted, "replayed": job.replayed, "refused": job.refused}
