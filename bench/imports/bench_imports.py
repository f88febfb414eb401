"""Benchmark of the receipts import (not a test; figures go to docs/benchmarks.md).

Targets (issue 8, issue 15): 100,000 rows at >= 5,000 rows/s; peak RSS <= 250 MB in the
worker, the web worker and this process whatever the file's size, and given back after the
task. The dry run, the import and a re-import of the same file (all replays) each run as
the Celery tasks run them (``esfca.imports.import_dry_run_task``, ``import_run_task``) in a
forked child process, as in a prefork worker's child: each child reports its peak RSS
(``ru_maxrss``), its RSS after the task, and after ``malloc_trim(0)``. ``--web-mb``: what
the upload view and the report page do with a CSV of that size (the file kept from a
spooled upload, the dry run run in the request as in the embedded default's eager mode,
then the first page of its report), in a child of its own. For comparison in the same
run, the per-row path (``receipt_record`` once per row) on a second firm with the first
``--per-row`` rows. Run through ``bench/imports/run.sh`` (throwaway PostgreSQL):

    bench/imports/run.sh [--rows 100000] [--per-month 4000] [--per-row 0] [--web-mb 29]
"""

import argparse
import ctypes
import gc
import io
import json
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.uploadedfile import TemporaryUploadedFile  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.db import connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from esfca import imports  # noqa: E402
from esfca.audit_verify import audit_verify  # noqa: E402
from esfca.models import ImportJob, Receipt  # noqa: E402
from esfca.services import firm_account_open, receipt_record  # noqa: E402
from exporters.models import Bank, Firm  # noqa: E402
from exporters.validators import iban_pk  # noqa: E402
from ledger.models import FxRate  # noqa: E402
from ledger.verify import ledger_verify  # noqa: E402


def world(days: list[date]) -> tuple[Firm, Firm]:
    bank = Bank.objects.create(code="BNCH", name="Bench Bank")
    firms = []
    for n, name in enumerate(("Bench Exporter", "Per-row Exporter")):
        firm = Firm.objects.create(
            name=name, ntn=f"123456{n}-8", kind="it_company",
            registration_body="PSEB", active_taxpayer=True,
        )  # fmt: skip
        firm_account_open(firm=firm, bank=bank, currency="PKR", iban=iban_pk("BNCH", 10 * n + 1))
        firm_account_open(firm=firm, bank=bank, currency="USD", iban=iban_pk("BNCH", 10 * n + 2))
        firms.append(firm)
    FxRate.objects.bulk_create(
        FxRate(currency="USD", date=d, source="SBP-WACR", buy=Decimal("280"), sell=Decimal("281"))
        for d in days
    )
    return firms[0], firms[1]


def per_row(firm: Firm, rows: list[dict]) -> int:
    """The path the import took before: receipt_record once per row."""
    created = 0
    for row in rows:
        created += receipt_record(firm=firm, actor=None, **imports.row_kwargs(row))[1]
    return created


def csv_file(rows: int, per_month: int, start: date, pad: int = 0) -> tuple[bytes, list[date]]:
    out = io.StringIO()
    days = csv_write(out, rows, per_month, start, pad)
    return out.getvalue().encode(), days


def csv_write(out, rows: int, per_month: int, start: date, pad: int = 0) -> list[date]:
    """The bench's file written to ``out`` a line at a time; ``pad``: characters added to
    each client's name (a file of a given size)."""
    out.write(",".join(imports.COLUMNS) + "\n")
    days = set()
    for i in range(rows):
        month_index, k = divmod(i, per_month)
        first = date(start.year + (start.month - 1 + month_index) // 12,
                     (start.month - 1 + month_index) % 12 + 1, 1)  # fmt: skip
        day = first + timedelta(days=k * 28 // per_month)  # in value-date order
        days.add(day)
        out.write(
            f"B-{i:07d},{day.isoformat()},{1000 + i % 500}.00,USD,,,Client {i % 37}{'x' * pad}"
            ",US,9184\n"
        )
    return sorted(days)


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    return result, seconds


def count_rows(data: bytes) -> int:
    return sum(1 for _ in imports.file_rows("bench.csv", io.BytesIO(data), len(data)))


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _child(fn, args, out) -> None:
    connections.close_all()  # the parent's: the child opens its own
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    connections.close_all()
    del result
    gc.collect()
    after = rss_kb()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    out.send(
        {
            "seconds": seconds,
            "cpu": cpu,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "after_mb": after / 1024,
            "trimmed_mb": rss_kb() / 1024,
        }
    )


def in_child(fn, *args) -> dict:
    """``fn(*args)`` in a forked child, as a prefork worker's child runs a task (forked
    from this process as small as it gets: its pages count in the child's RSS)."""
    connections.close_all()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    mine, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(fn, args, theirs))
    child.start()
    figures = mine.recv()
    child.join()
    assert child.exitcode == 0, child.exitcode
    return figures


def web_dry_run(firm_id: int, path: str, size: int) -> None:
    """What ``views.imports.import_new`` and the report page do (eager mode: the dry run in
    the request): keep the spooled upload, start the dry run, read the first page."""
    settings.ESFCA_IMPORT_MAX_BYTES = max(settings.ESFCA_IMPORT_MAX_BYTES, size)
    from config.celery_app import app

    app.conf.task_always_eager = True
    upload = TemporaryUploadedFile("web.csv", "text/csv", size, "utf-8")
    with open(path, "rb") as source:
        while piece := source.read(1 << 16):
            upload.write(piece)
    upload.seek(0)
    firm = Firm.objects.get(pk=firm_id)
    job = imports.import_job_create(firm=firm, actor=None, filename="web.csv", data=upload)
    imports.import_start(job=job, dry_run=True)
    job = ImportJob.objects.defer("report").get(pk=job.pk)
    page = Paginator(imports.report_lines(job), 200).get_page(1)
    assert job.status == "checked" and len(page.object_list) == 200, job.message


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-month", type=int, default=4000)
    parser.add_argument("--per-row", type=int, default=0)
    parser.add_argument("--web-mb", type=float, default=0, help="0: no web measurement")
    args = parser.parse_args()
    months = -(-args.rows // args.per_month)
    today = timezone.localdate()
    start_index = today.year * 12 + today.month - 1 - months
    start = date(start_index // 12, start_index % 12 + 1, 1)
    data, days = csv_file(args.rows, args.per_month, start)
    firm, other = world(days)
    n = args.rows

    parsed, parse_s = timed("parse", lambda: count_rows(data))
    assert parsed == n
    job = imports.import_job_create(firm=firm, actor=None, filename="bench.csv", data=data)
    again = imports.import_job_create(firm=firm, actor=None, filename="again.csv", data=data)
    dry = in_child(imports.import_dry_run_task, job.pk)
    run = in_child(imports.import_run_task, job.pk)
    replay = in_child(imports.import_run_task, again.pk)
    job = ImportJob.objects.defer("report").get(pk=job.pk)  # not its 100,000 lines
    again = ImportJob.objects.defer("report").get(pk=again.pk)
    refused = imports.report_lines(job, "refused")[:3]
    assert job.status == "done" and job.accepted == n, (job.status, job.message, refused)
    assert again.replayed == n and Receipt.objects.filter(firm=firm).count() == n
    lines = imports.report_lines(job)[:200]
    assert [line["row"] for line in lines] == list(range(2, 202))
    sample = imports.read_csv(csv_file(args.per_row, args.per_month, start)[0])
    created, single_s = timed("per row", lambda: per_row(other, sample))
    assert created == len(sample)
    bulk = {line["reference"]: line for line in imports.report_lines(job)[: len(sample)]}
    for receipt in Receipt.objects.filter(firm=other):  # the same figures both ways
        line = bulk[receipt.reference]
        assert (line["retained"], line["pkr_credited"]) == (
            str(receipt.retained),
            str(receipt.pkr_credited),
        )
    web = None
    if args.web_mb:
        rows = settings.ESFCA_IMPORT_MAX_ROWS  # the most one file holds, to the size asked
        base = len(csv_file(1000, args.per_month, start)[0]) / 1000
        pad = max(0, int((args.web_mb * (1 << 20) / rows) - base))
        web_start_index = today.year * 12 + today.month - 1 - -(-rows // args.per_month)
        web_start = date(web_start_index // 12, web_start_index % 12 + 1, 1)
        with tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8") as file:
            web_days = csv_write(file, rows, args.per_month, web_start, pad)
            FxRate.objects.bulk_create(
                FxRate(
                    currency="USD",
                    date=d,
                    source="SBP-WACR",
                    buy=Decimal("280"),
                    sell=Decimal("281"),
                )
                for d in set(web_days) - set(days)
            )
            file.flush()
            size = os.path.getsize(file.name)
            web = in_child(web_dry_run, other.pk, file.name, size)
            web.update(mb=size / (1 << 20), rows=rows)
    report, verify_s = timed("ledger_verify", ledger_verify)
    assert report.ok, report.problems[:5]
    audited, audit_s = timed("audit_verify", audit_verify)
    assert audited.ok, audited.problems[:5]
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"rows={n} per_month={args.per_month} months={months} db={django.db.connection.vendor}")
    print(f"parse      {parse_s:8.2f} s  {n / parse_s:10.0f} rows/s (streamed, counted)")
    for label, figures in (("dry run", dry), ("import", run), ("re-import", replay)):
        print(
            f"{label:10} {figures['seconds']:8.2f} s  {n / figures['seconds']:10.0f} rows/s  "
            f"cpu {figures['cpu']:6.2f} s  worker child: peak {figures['peak_mb']:6.1f} MB, "
            f"after {figures['after_mb']:6.1f} MB, "
            f"after malloc_trim {figures['trimmed_mb']:6.1f} MB"
        )
    if web:
        print(
            f"web        {web['seconds']:8.2f} s  upload + dry run + report page of a "
            f"{web['mb']:.1f} MB CSV ({web['rows']} rows): peak {web['peak_mb']:6.1f} MB, "
            f"after {web['after_mb']:6.1f} MB"
        )
    m = len(sample)
    if m:
        print(
            f"per row    {single_s:8.2f} s  {m / single_s:10.0f} rows/s ({m} rows, receipt_record)"
        )
    print(f"ledger_verify {verify_s:5.2f} s  ok ({report.checked['movements']} movements proved)")
    print(f"audit_verify  {audit_s:5.2f} s  ok ({audited.rows} audit rows)")
    print(f"bench process peak RSS {mine:6.1f} MB; its children's peak {children:6.1f} MB")
    print(
        "JSON "
        + json.dumps(
            {
                "rows": n,
                "dry": dry,
                "run": run,
                "replay": replay,
                "web": web,
                "self_peak_mb": mine,
                "children_peak_mb": children,
            }
        )
    )


if __name__ == "__main__":
    main()
