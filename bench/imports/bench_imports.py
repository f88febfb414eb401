"""Benchmark of the receipts import (not a test; figures go to docs/benchmarks.md).

Target (issue 8): 100,000 rows at >= 5,000 rows/s. The import runs through
``esfca.imports.import_run`` exactly as the Celery task does: chunks recorded by
``esfca.services.receipts_record_chunks``, one database transaction each, the next chunk
judged while a writer thread writes the last. Measured: parsing the CSV, the dry run
(``receipts_check_chunks`` inside one rolled-back transaction), the import, a re-import of
the same file (all replays), and, for comparison in the same run, the per-row path
(``receipt_record`` once per row, as the import did before) on a second firm with the first
``--per-row`` rows of the same file. Run through ``bench/imports/run.sh`` (throwaway
PostgreSQL):

    bench/imports/run.sh [--rows 100000] [--per-month 500] [--per-row 2000]
"""

import argparse
import io
import os
import secrets
import sys
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

from django.utils import timezone  # noqa: E402

from esfca import imports  # noqa: E402
from esfca.audit_verify import audit_verify  # noqa: E402
from esfca.models import Receipt  # noqa: E402
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


def csv_file(rows: int, per_month: int, start: date) -> tuple[bytes, list[date]]:
    out = io.StringIO()
    out.write(",".join(imports.COLUMNS) + "\n")
    days = set()
    for i in range(rows):
        month_index, k = divmod(i, per_month)
        first = date(start.year + (start.month - 1 + month_index) // 12,
                     (start.month - 1 + month_index) % 12 + 1, 1)  # fmt: skip
        day = first + timedelta(days=k * 28 // per_month)  # in value-date order
        days.add(day)
        out.write(
            f"B-{i:07d},{day.isoformat()},{1000 + i % 500}.00,USD,,,Client {i % 37},US,9184\n"
        )
    return out.getvalue().encode(), sorted(days)


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-month", type=int, default=500)
    parser.add_argument("--per-row", type=int, default=2000)
    args = parser.parse_args()
    months = -(-args.rows // args.per_month)
    today = timezone.localdate()
    start_index = today.year * 12 + today.month - 1 - months
    start = date(start_index // 12, start_index % 12 + 1, 1)
    data, days = csv_file(args.rows, args.per_month, start)
    firm, other = world(days)

    _rows, parse_s = timed("parse", lambda: imports.read_csv(data))
    job = imports.import_job_create(firm=firm, actor=None, filename="bench.csv", data=data)
    dry, dry_s = timed("dry run", lambda: imports.import_dry_run(job_id=job.pk))
    done, run_s = timed("import", lambda: imports.import_run(job_id=job.pk))
    again = imports.import_job_create(firm=firm, actor=None, filename="again.csv", data=data)
    replay, replay_s = timed("re-import", lambda: imports.import_run(job_id=again.pk))
    sample = _rows[: args.per_row]
    created, single_s = timed("per row", lambda: per_row(other, sample))
    refused = [r for r in done.report if r["status"] == "refused"][:3]
    assert dry.accepted == done.accepted == args.rows, (dry.accepted, done.accepted, refused)
    assert replay.replayed == args.rows and Receipt.objects.filter(firm=firm).count() == args.rows
    assert created == len(sample)
    bulk = {r["reference"]: r for r in done.report[: len(sample)]}
    for receipt in Receipt.objects.filter(firm=other):  # the same figures both ways
        line = bulk[receipt.reference]
        assert (line["retained"], line["pkr_credited"]) == (
            str(receipt.retained),
            str(receipt.pkr_credited),
        )
    report, verify_s = timed("ledger_verify", ledger_verify)
    assert report.ok, report.problems[:5]
    audited, audit_s = timed("audit_verify", audit_verify)
    assert audited.ok, audited.problems[:5]
    n = args.rows
    print(f"rows={n} per_month={args.per_month} months={months} db={django.db.connection.vendor}")
    print(f"parse      {parse_s:8.2f} s  {n / parse_s:10.0f} rows/s")
    print(f"dry run    {dry_s:8.2f} s  {n / dry_s:10.0f} rows/s")
    print(f"import     {run_s:8.2f} s  {n / run_s:10.0f} rows/s")
    print(f"re-import  {replay_s:8.2f} s  {n / replay_s:10.0f} rows/s (all replays)")
    m = len(sample)
    print(f"per row    {single_s:8.2f} s  {m / single_s:10.0f} rows/s ({m} rows, receipt_record)")
    print(f"ledger_verify {verify_s:5.2f} s  ok ({report.checked['movements']} movements proved)")
    print(f"audit_verify  {audit_s:5.2f} s  ok ({audited.rows} audit rows)")


if __name__ == "__main__":
    main()
