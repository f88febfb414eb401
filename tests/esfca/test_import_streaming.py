"""Imports read their file as a stream (issue 15, memory): the file kept in pieces, its
rows read a chunk at a time in the dry run and again in the import, the chunks judged
before the last dropped (their receipts found in the database), the report gathered and
paged by the database. Transactional tests on PostgreSQL: the import runs outside any
transaction, its chunks written by the writer thread."""

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook

from esfca import imports
from esfca.models import ImportFilePiece, ImportJob, Receipt
from esfca.services import chunks
from ledger.verify import ledger_verify

from .conftest import open_firm, set_rate, snapshot

DAYS = [date(2025, 10, 1) + timedelta(days=k) for k in range(60)]


def rows_of_a_file(count: int) -> list[list[str]]:
    """New rows in date order, a refused one now and then; late in the file, rows that
    need what the chunks before them wrote: the same row as one far above (a replay), a
    reference far above with other figures (refused), a row dated before its month's
    latest (backdated)."""
    rows = []
    for i in range(count):
        day = DAYS[i * len(DAYS) // count].isoformat()
        amount = "12.345" if i % 97 == 13 else f"{1000 + 7 * i}.50"
        rows.append([f"S-{i:04d}", day, amount, "USD", "", "", f"Client {i % 5}", "US", "9184"])
    late = count * 5 // 6
    rows.insert(late, list(rows[3]))
    rows.insert(late + 3, [rows[5][0], rows[5][1], "1.00", *rows[5][3:]])
    rows.insert(late + 6, ["S-BACK", DAYS[31].isoformat(), "500.00", *rows[0][3:]])
    return rows


def csv_of(rows) -> bytes:
    lines = [",".join(imports.COLUMNS[:9]), *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def xlsx_of(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [imports.COLUMNS[:9], *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def small(monkeypatch):
    """Chunks of 40 rows (7 at either end) and pieces of 1,000 bytes: a file of a few
    hundred rows is many of each, and more chunks than a dry run holds unwritten."""
    monkeypatch.setattr(imports, "CHUNK", 40)
    monkeypatch.setattr(imports, "EDGE", 7)
    monkeypatch.setattr(ImportFilePiece, "SIZE", 1000)
    for day in DAYS:
        set_rate("USD", day, "280.50")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql", "small")
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_of_many_pieces_and_chunks_imports_as_its_dry_run_said(kind):
    rows = rows_of_a_file(300)
    data = csv_of(rows) if kind == "csv" else xlsx_of(rows)
    firm = open_firm()
    job = imports.import_job_create(firm=firm, actor=None, filename=f"f.{kind}", data=data)
    pieces = ImportFilePiece.objects.filter(job=job)
    assert pieces.count() == -(-len(data) // 1000) > 2
    assert imports.job_file(job) == data
    before = snapshot()

    checked = imports.import_dry_run(job_id=job.pk)
    assert snapshot() == before  # the chunks it wrote were rolled back
    assert checked.total == 303 and len(imports.chunk_bounds(303)) - 1 > chunks.HELD + 1
    done = imports.import_run(job_id=job.pk)

    assert (done.status, done.processed, done.total) == ("done", 303, 303), done.message
    assert done.report == checked.report  # line for line: status, figures, refusal
    assert [line["row"] for line in done.report] == list(range(2, 305))
    late = 300 * 5 // 6 + 2  # the file's row number of the first late row
    replay, reused, back = (done.report[late - 2 + k] for k in (0, 3, 6))
    assert (replay["status"], replay["reference"]) == ("replayed", "S-0003")
    assert replay["pkr_credited"] == done.report[3]["pkr_credited"]
    assert (reused["status"], reused["reference"]) == ("refused", "S-0005")
    assert back["reference"] == "S-BACK"  # judged under the lock, as receipt_record would
    statuses = [line["status"] for line in done.report]
    assert (done.accepted, done.replayed, done.refused) == tuple(
        statuses.count(s) for s in ("accepted", "replayed", "refused")
    )
    assert Receipt.objects.filter(firm=firm).count() == done.accepted
    assert not pieces.exists()  # the file is dropped once imported
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql", "small")
def test_a_resumed_import_reads_past_the_rows_committed(monkeypatch):
    """The third chunk fails; the resumed import reads the file again from its pieces,
    past the rows of the two chunks committed, and ends as one import would."""
    rows = rows_of_a_file(200)
    firm = open_firm()
    job = imports.import_job_create(firm=firm, actor=None, filename="r.csv", data=csv_of(rows))
    checked = imports.import_dry_run(job_id=job.pk)
    record = imports.receipts_record_chunks

    def failing(*, keep, **kwargs):
        def keeping(index, outcomes):
            if index == 2:
                raise RuntimeError("connection lost")
            keep(index, outcomes)

        return record(keep=keeping, **kwargs)

    monkeypatch.setattr(imports, "receipts_record_chunks", failing)
    job.refresh_from_db()
    with pytest.raises(RuntimeError):  # eager in the tests: the import runs now
        imports.import_start(job=job, dry_run=False)
    job.refresh_from_db()
    assert (job.status, job.processed, job.resumable) == ("failed", 47, True)
    assert Receipt.objects.filter(firm=firm).count() == job.accepted == 46  # one refused

    monkeypatch.setattr(imports, "receipts_record_chunks", record)
    imports.import_resume(job=job)
    done = ImportJob.objects.get(pk=job.pk)
    assert (done.status, done.processed) == ("done", 203)
    assert done.report == checked.report
    assert Receipt.objects.filter(firm=firm).count() == done.accepted
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql", "small")
def test_the_report_is_read_a_page_at_a_time():
    firm = open_firm()
    rows = rows_of_a_file(300)
    job = imports.import_job_create(firm=firm, actor=None, filename="p.csv", data=csv_of(rows))
    done = imports.import_dry_run(job_id=job.pk)
    refused = [line for line in done.report if line["status"] == "refused"]
    lines = imports.report_lines(done, "refused")
    assert lines.count() == len(lines) == done.refused == len(refused) > 3
    assert lines[1:3] == refused[1:3] and lines[0] == refused[0]
    every = imports.report_lines(done)
    assert every.count() == 303 and every[250:260] == done.report[250:260]
    assert every[300:400] == done.report[300:]
    assert imports.report_lines(done, "nothing").count() == 0


def test_a_job_file_reads_and_seeks_across_its_pieces(db, monkeypatch):
    monkeypatch.setattr(ImportFilePiece, "SIZE", 7)
    data = bytes(range(256)) * 3
    job = imports.import_job_create(firm=open_firm(), actor=None, filename="b.csv", data=data)
    file = io.BufferedReader(imports.JobFile(job.pk), 5)
    assert file.read(10) == data[:10]
    file.seek(-20, io.SEEK_END)
    assert file.read() == data[-20:]
    file.seek(100)
    assert file.read(300) == data[100:400]
