"""Issue 14, "Uploads" and "No 5xx": request bodies and import files within limits that are
settings, each refused with a clear error; the file read in the worker, a row at a time;
an import started while Redis is down answers 503 and leaves no job behind.

Before: a 3 MB JSON body and a 200 KB CSV cell answered 500; a 29 MB CSV was accepted and
parsed in the web worker (569 MB); two XLSX files of 151 KB (105 MB unpacked) took 2.2 GB
each; an import started with Redis down answered 500 and its job stayed "checking"."""

import io
import json
import socket
import time
import tracemalloc
import zipfile
from contextlib import contextmanager

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client, RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.celery_app import app as celery_app
from esfca import imports
from esfca.api.exceptions import api_exception_handler
from esfca.errors import QueueUnavailable
from esfca.limits import TooLargeUpload
from esfca.models import ImportJob, Receipt
from tests.esfca.second_factor import log_in
from tests.esfca.views.world import make_world
from tests.security import clients

MiB = 1 << 20


@pytest.fixture
def world(db):
    return make_world()


def _officer(world, **kwargs) -> Client:
    client = Client(**kwargs)
    log_in(client, world.officer)
    return client


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def receipts_csv(world, rows: int, *, cell: str = "Client") -> bytes:
    day = world.today.isoformat()
    lines = [",".join(imports.COLUMNS)]
    lines += [f"U-{i},{day},10.00,USD,,,{cell},US,9184" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def import_url(world) -> str:
    return f"/firms/{world.firm.pk}/imports/"


# --- request bodies ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_json_body_over_1_mib_is_413_payload_too_large(world):
    api = clients.api(world.officer)
    three_mb = json.dumps({"reference": "x" * 3_000_000})
    receipts = f"/api/v1/firms/{world.firm.pk}/receipts/"
    for url in (receipts, "/api/v1/auth/token/", "/api/v1/firms/"):
        response = api.post(url, data=three_mb, content_type="application/json")
        assert error_of(response, 413, "payload_too_large")["details"] == {"max_bytes": MiB}
    just_over = json.dumps({"reference": "x" * (MiB - 16)})
    assert len(just_over) == MiB + 1
    error_of(api.post(receipts, data=just_over, content_type="application/json"), 413,
             "payload_too_large")  # fmt: skip
    just_under = json.dumps({"reference": "x" * (MiB - 18)})
    response = api.post(receipts, data=just_under, content_type="application/json")
    assert "reference" in error_of(response, 400, "validation_error")["details"]
    assert not Receipt.objects.filter(reference__startswith="xxx").exists()


@pytest.mark.django_db
def test_a_form_body_over_1_mib_is_a_413_page(world):
    officer = _officer(world)
    url = f"/firms/{world.firm.pk}/receipts/new/"
    big = "x" * (3 * MiB)
    response = officer.post(url, data=f"client_name={big}",
                            content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 413
    assert "was not read" in response.content.decode()
    # A multipart body within the upload's allowance whose text fields pass the 1 MiB: read,
    # then refused by Django (RequestDataTooBig), by the view or by the CSRF check reading
    # the token: a 413 either way, not a 400.
    checked = _officer(world, enforce_csrf_checks=True)
    checked.get(url)  # the CSRF cookie
    for client in (officer, checked):
        response = client.post(url, {"client_name": "x" * (2 * MiB)})
        assert response.status_code == 413
    assert not Receipt.objects.filter(client_name__startswith="xxx").exists()


# --- upload limits, at the upload -----------------------------------------------------------


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_on_the_form(world, settings):
    settings.ESFCA_IMPORT_MAX_BYTES = 64 * 1024
    data = receipts_csv(world, 2000)
    assert 64 * 1024 < len(data) < 64 * 1024 + MiB
    response = _officer(world).post(import_url(world), {"file": upload("big.csv", data)})
    assert response.status_code == 422
    assert "The file is larger than 64 KiB, the most one import takes" in response.content.decode()
    assert ImportJob.objects.count() == 0
    # The bytes past the limit were dropped as they arrived: the request holds none of it.
    request = RequestFactory().post(import_url(world), {"file": upload("big.csv", data)})
    received = request.FILES["file"]
    assert isinstance(received, TooLargeUpload)
    assert (received.size, received.read()) == (len(data), b"")


@pytest.mark.django_db
def test_a_29_mb_csv_is_refused_unread(world):
    """Default limits: 20 MiB per file; a body past the file and 1 MiB of fields is not read."""
    data = receipts_csv(world, 1) + b"x" * (29 * 1000 * 1000)
    response = _officer(world).post(import_url(world), {"file": upload("big.csv", data)})
    assert response.status_code == 413
    assert "an import takes a file of at most 20.0" in response.content.decode()
    assert ImportJob.objects.count() == 0


def xlsx_file(rows, *, repeat: int = 1, padding: int = 0) -> bytes:
    """A minimal workbook: the header, then the other ``rows`` (lists of text) ``repeat``
    times, then ``padding`` bytes of blank space, streamed into the zip (inline strings, no
    row numbers)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Receipts" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{main}"><sheetData>'.encode())
            first, *rest = rows
            sheet.write(_xml_row(first))
            chunk = b"".join(_xml_row(row) for row in rest)
            for _ in range(repeat):
                sheet.write(chunk)
            blank = b" " * MiB
            for start in range(0, padding, MiB):
                sheet.write(blank[: padding - start])
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _xml_row(cells) -> bytes:
    inner = "".join(f'<c t="inlineStr"><is><t>{text}</t></is></c>' for text in cells)
    return f"<row>{inner}</row>".encode()


def _bomb() -> bytes:
    """~105 MB of sheet in ~100 KB of file, like the two that took 2.2 GB each: a row, then
    blank space the XML parser must still read through."""
    row = ["B-1", "2025-11-03", "10.00", "USD", "", "", "Client", "US", "9184", ""]
    return xlsx_file([imports.COLUMNS, row], padding=105_000_000)


@pytest.mark.django_db
def test_an_xlsx_bomb_is_refused_on_the_form_before_it_is_unpacked(world, settings):
    data = _bomb()
    unpacked = sum(m.file_size for m in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert len(data) < 200_000 and unpacked > 100_000_000
    officer = _officer(world)
    response = officer.post(import_url(world), {"file": upload("bomb.xlsx", data)})
    assert response.status_code == 422
    assert "unpacks to more than 100 times its size" in response.content.decode()

    settings.ESFCA_IMPORT_MAX_RATIO = 10_000
    settings.ESFCA_IMPORT_MAX_UNPACKED_BYTES = 50 * MiB
    response = officer.post(import_url(world), {"file": upload("bomb.xlsx", data)})
    assert response.status_code == 422
    assert "unpacks to more than 50.0 MiB, the most one import takes" in (response.content.decode())
    for damaged in (b"not a zip", xlsx_file([imports.COLUMNS])[:-30]):
        response = officer.post(import_url(world), {"file": upload("x.xlsx", damaged)})
        assert response.status_code == 422
        assert "This is not a readable XLSX workbook." in response.content.decode()
    assert ImportJob.objects.count() == 0


# --- limits met while the worker reads the file ----------------------------------------------


def _uploaded(world, client, name: str, data: bytes, capture) -> ImportJob:
    """Upload the file; its dry run (eager: the worker's code, in-process) runs on commit."""
    with capture(execute=True):
        response = client.post(import_url(world), {"file": upload(name, data)})
    assert response.status_code == 302, response.content[:500]
    return ImportJob.objects.get(pk=response["Location"].rstrip("/").rpartition("/")[2])


@pytest.mark.django_db
def test_limits_met_while_reading_fail_the_job_saying_which(
    world, settings, django_capture_on_commit_callbacks
):
    settings.ESFCA_IMPORT_MAX_ROWS = 5
    settings.ESFCA_IMPORT_MAX_CELLS = 100
    officer = _officer(world)
    cases = [
        ("rows.csv", receipts_csv(world, 6), "The file has more than 5 rows"),
        ("rows.xlsx", xlsx_file([imports.COLUMNS, *[["R", "2025-11-03"]] * 6]),
         "The file has more than 5 rows"),
        ("cells.csv", receipts_csv(world, 4).replace(b"\n", b",,,,,,,,,,,,,,,,\n"),
         "The file has more than 100 cells"),
        ("cells.xlsx", xlsx_file([imports.COLUMNS, *[["x"] * 30] * 4]),
         "The file has more than 100 cells"),
        ("cell.csv", receipts_csv(world, 2, cell="y" * 200_000),
         "Row 2 has a cell longer than 32,767 characters"),
        ("cell40k.csv", receipts_csv(world, 2, cell="y" * 40_000),
         "Row 2 has a cell longer than 32,767 characters"),
        ("cell.xlsx", xlsx_file([imports.COLUMNS, ["R", "y" * 40_000]]),
         "has a cell longer than 32,767 characters"),
        ("latin1.csv", receipts_csv(world, 2, cell="Caf\xe9").decode().encode("latin-1"),
         "Save the CSV file as UTF-8."),
    ]  # fmt: skip
    for name, data, message in cases:
        job = _uploaded(world, officer, name, data, django_capture_on_commit_callbacks)
        assert job.status == "failed", (name, job.message)
        assert message in job.message, (name, job.message)
        assert (job.total, imports.job_file(job)) == (0, b""), name  # nothing kept
        page = officer.get(f"{import_url(world)}{job.pk}/").content.decode()
        assert message.split(" characters")[0] in page.replace("&#x27;", "'"), name
    assert Receipt.objects.filter(reference__startswith="U-").count() == 0


def test_an_xlsx_is_read_a_row_at_a_time_and_stops_at_the_limit(settings):
    """40 MB of sheet: the reader holds one row at a time and stops at row 1,001."""
    settings.ESFCA_IMPORT_MAX_ROWS = 1000
    settings.ESFCA_IMPORT_MAX_RATIO = 10_000  # the same row again and again packs tight
    row = ["S-1", "2025-11-03", "10.00", "USD", "", "", "Client", "US", "9184", ""]
    data = xlsx_file([imports.COLUMNS, *[row] * 1000], repeat=300)
    unpacked = sum(m.file_size for m in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert unpacked > 40_000_000
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(imports.ImportFileError, match="more than 1,000 rows"):
            imports.read_file("big.xlsx", data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, peak  # the sheet whole, parsed, is hundreds of MB
    assert elapsed < 5, elapsed

    settings.ESFCA_IMPORT_MAX_ROWS = 300_000
    rows = imports.read_file("big.xlsx", xlsx_file([imports.COLUMNS, *[row] * 1000], repeat=3))
    assert len(rows) == 3000 and rows[-1]["amount"] == "10.00"


def test_a_row_larger_than_any_spreadsheet_row_is_refused_before_it_is_read_whole(settings):
    """One row of 400,000 cells (a sheet's row has at most 16,384): refused as it streams."""
    settings.ESFCA_IMPORT_MAX_RATIO = 10_000  # the same cell again and again packs tight
    data = xlsx_file([imports.COLUMNS, ["x"] * 400_000])
    tracemalloc.start()
    try:
        with pytest.raises(imports.ImportFileError, match="holds more than any spreadsheet"):
            imports.read_file("wide.xlsx", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * MiB, peak


GOOD_XLSX = xlsx_file(
    [imports.COLUMNS, ["H-1", "2025-11-03", "10.00", "USD", "", "", "Client", "US", "9184", ""]],
    repeat=50,
)
GOOD_CSV = ",".join(imports.COLUMNS).encode() + b'\nH-1,2025-11-03,10.00,USD,,,"A, B",US,9184\n'


@hypothesis_settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_damaged_file_is_refused_never_an_error(data):
    """Whatever bytes the worker reads (a workbook or a CSV with bytes changed or cut), it
    answers rows or ``ImportFileError``: a failed job saying why, never a crashed task."""
    original = data.draw(st.sampled_from([GOOD_XLSX, GOOD_CSV]))
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(damaged)))
    for name in ("f.xlsx", "f.csv"):
        try:
            imports.read_file(name, bytes(damaged[:cut]))
        except imports.ImportFileError as exc:
            assert str(exc)


# --- the file is read in the worker -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_web_keeps_the_file_and_the_worker_reads_it():
    world = make_world()
    data = receipts_csv(world, 3)
    celery_app.conf.task_always_eager = False  # sent to Redis (the fixture restores it)
    response = _officer(world).post(import_url(world), {"file": upload("r.csv", data)})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    # The web request kept the bytes and sent the task; it read no row.
    assert (job.status, job.total, imports.job_file(job)) == ("checking", 0, data)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 30
        while job.status == "checking" and time.monotonic() < deadline:
            time.sleep(0.2)
            job.refresh_from_db()
    # The file is kept for the import, which streams it again; dropped once imported.
    assert (job.status, job.total, job.accepted, imports.job_file(job)) == ("checked", 3, 3, data)
    assert Receipt.objects.filter(reference__startswith="U-").count() == 0  # a dry run


# --- Redis down ------------------------------------------------------------------------------


@contextmanager
def redis_down(monkeypatch):
    """The broker is a port nothing listens on: every connection is refused (a real one).
    Tasks are sent, not run in-process (the autouse ``celery_eager`` restores that). Celery
    reads the broker's URL from the environment first, so that is where it is changed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    celery_app.conf.task_always_eager = False
    with monkeypatch.context() as patch:
        patch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")
        del celery_app.amqp  # its producer pool, cached for the old URL: made again
        assert celery_app.connection_for_write().port == port
        try:
            yield
        finally:
            del celery_app.amqp


@pytest.mark.django_db(transaction=True)
def test_an_import_started_while_redis_is_down_is_a_503_and_leaves_no_job(monkeypatch):
    world = make_world()
    officer = _officer(world)
    data = receipts_csv(world, 3)
    checked = officer.post(import_url(world), {"file": upload("r.csv", data)})  # eager
    job = ImportJob.objects.get(pk=checked["Location"].rstrip("/").rpartition("/")[2])
    assert job.status == "checked"

    with redis_down(monkeypatch):
        started = time.monotonic()
        response = officer.post(import_url(world), {"file": upload("again.csv", data)})
        took = time.monotonic() - started
        assert response.status_code == 503
        assert "its task queue is not answering" in response.content.decode()
        assert ImportJob.objects.count() == 1  # no job left behind
        assert took < 10, took

        response = officer.post(f"{import_url(world)}{job.pk}/run/")
        assert response.status_code == 503
        assert "its task queue is not answering" in response.content.decode()
        job.refresh_from_db()
        assert job.status == "checked"  # still checked: run it again later
    assert Receipt.objects.filter(reference__startswith="U-").count() == 0


@pytest.mark.django_db
def test_a_task_for_a_job_that_is_gone_does_nothing():
    assert imports.import_dry_run_task.apply(args=[987654]).result is None
    assert imports.import_run_task.apply(args=[987654]).result is None


def test_the_api_answers_a_queue_down_with_service_unavailable():
    response = api_exception_handler(QueueUnavailable(), {})
    assert response.status_code == 503
    assert response.data["error"]["code"] == "service_unavailable"
