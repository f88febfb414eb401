"""Benchmark of an import where every row is backdated (issue 15; not a test, figures go to
docs/benchmarks.md).

Target: >= 5,000 rows/s, dry run and import, when every row is dated before receipts
already recorded in its month (rules.md §2: each row must keep every later receipt of the
month within its limit; ``max`` takes the largest figure that fits). Each run, for each
size N, opens two firms with the same month of ``--later`` receipts and imports the same N
rows (USD, ``max``) through ``esfca.imports`` exactly as the Celery tasks do:

- backdated: the later receipts on the 20th-28th, the N rows on the 1st-19th, all before them;
- peer: the later receipts on the 1st-9th, the N rows on the 10th-28th, all after them.

It prints rows/s (wall clock and Python CPU) of the dry run and the import of both, and
their ratio, then checks that both firms' books are exact (``ledger_verify``) and that every
later receipt of the backdated firm still fits its limit, recomputed (``flag``-style, with the
plain ``policy`` path). Run through ``bench/imports/run_backdated.sh`` (throwaway PostgreSQL):

    bench/imports/run_backdated.sh [--sizes 1000,5000,20000] [--runs 3] [--later 1000]
"""

import argparse
import json
import os
import secrets
import statistics
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

from esfca import imports, policy  # noqa: E402
from esfca.models import Receipt  # noqa: E402
from esfca.services import firm_account_open  # noqa: E402
from esfca.services.rules import stored_rule  # noqa: E402
from exporters.models import Bank, Firm  # noqa: E402
from exporters.validators import iban_pk  # noqa: E402
from ledger.models import FxRate  # noqa: E402
from ledger.verify import ledger_verify  # noqa: E402

COUNTER = iter(range(1, 1_000_000))


def month_before(today: date) -> date:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def rates(month: date) -> None:
    days = [
        month + timedelta(days=k)
        for k in range(31)
        if (month + timedelta(days=k)).month == month.month
    ]
    FxRate.objects.bulk_create(
        (
            FxRate(
                currency="USD", date=d, source="SBP-WACR", buy=Decimal("280"), sell=Decimal("281")
            )
            for d in days
        ),
        ignore_conflicts=True,
    )


def firm_open(bank: Bank, label: str) -> Firm:
    n = next(COUNTER)
    firm = Firm.objects.create(
        name=f"{label} {n}", ntn=f"{n:07d}-8", kind="it_company",
        registration_body="PSEB", active_taxpayer=True,
    )  # fmt: skip
    firm_account_open(firm=firm, bank=bank, currency="PKR", iban=iban_pk("BNCH", 2 * n))
    firm_account_open(firm=firm, bank=bank, currency="USD", iban=iban_pk("BNCH", 2 * n + 1))
    return firm


def csv_rows(prefix: str, n: int, month: date, first_day: int, last_day: int) -> bytes:
    """``n`` USD rows asking ``max``, spread in date order over the days given."""
    span = last_day - first_day + 1
    lines = [",".join(imports.COLUMNS)]
    for i in range(n):
        day = month.replace(day=first_day + i * span // n)
        lines.append(
            f"{prefix}-{i:07d},{day.isoformat()},{1000 + i % 500}.00,USD,,,Client {i % 37},US,9184"
        )
    return ("\n".join(lines) + "\n").encode()


def imported(firm: Firm, data: bytes, name: str) -> dict:
    """Dry run then import of one file: wall and CPU seconds of each."""
    job = imports.import_job_create(firm=firm, actor=None, filename=name, data=data)
    figures = {}
    for step, fn in (("dry_run", imports.import_dry_run), ("import", imports.import_run)):
        wall, cpu = time.perf_counter(), time.process_time()
        done = fn(job_id=job.pk)
        figures[step] = (time.perf_counter() - wall, time.process_time() - cpu, done.accepted)
    return figures


def later_receipts_fit(firm: Firm, month: date) -> int:
    """Recompute every receipt of the month in date order with the plain policy path
    (``MonthPosition.allowed``): the number above their limit (must be 0)."""
    position, over = policy.MonthPosition(), 0
    receipts = Receipt.objects.filter(
        firm=firm, value_date__month=month.month, value_date__year=month.year
    )
    for r in receipts.order_by("value_date", "pk"):
        allowed = position.allowed(rule=stored_rule(r), amount=r.amount.amount, tax_rate=r.tax_rate)
        over += r.retained > allowed
        position.add(r.amount.amount, r.retained)
    return over


def one_run(bank: Bank, month: date, n: int, later: int) -> dict:
    result = {}
    for scenario, later_days, rows_days in (
        ("backdated", (20, 28), (1, 19)),
        ("peer", (1, 9), (10, 28)),
    ):
        firm = firm_open(bank, scenario)
        tag = f"{scenario[0].upper()}{next(COUNTER)}"
        setup = imported(firm, csv_rows(f"L{tag}", later, month, *later_days), "later.csv")
        assert setup["import"][2] == later, setup
        figures = imported(firm, csv_rows(f"R{tag}", n, month, *rows_days), "rows.csv")
        assert figures["dry_run"][2] == figures["import"][2] == n, (scenario, figures)
        assert later_receipts_fit(firm, month) == 0, scenario
        result[scenario] = {
            step: {"seconds": round(wall, 3), "cpu_s": round(cpu, 3), "rows_s": round(n / wall)}
            for step, (wall, cpu, _) in figures.items()
        }
    kept = Receipt.objects.filter(firm__name__startswith="backdated", value_date__day__lt=20)
    result["backdated_retained_sample"] = str(
        kept.order_by("-pk").values_list("retained", flat=True).first()
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--later", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    month = month_before(timezone.localdate())
    rates(month)
    bank = Bank.objects.create(code="BNCH", name="Bench Bank")
    runs = {n: [] for n in sizes}
    for run in range(args.runs):
        for n in sizes:
            result = one_run(bank, month, n, args.later)
            runs[n].append(result)
            print(
                json.dumps({"run": run + 1, "rows": n, "later": args.later, **result}), flush=True
            )
    report = ledger_verify()
    assert report.ok, report.problems[:5]
    print(f"ledger_verify ok ({report.checked['movements']} movements proved)")
    print("rows    step      backdated rows/s: median [runs]   peer rows/s: median [runs]   ratio")
    for n in sizes:
        for step in ("dry_run", "import"):
            back = [r["backdated"][step]["rows_s"] for r in runs[n]]
            peer = [r["peer"][step]["rows_s"] for r in runs[n]]
            ratio = statistics.median(b / p for b, p in zip(back, peer, strict=True))
            print(
                f"{n:>6}  {step:8}  {statistics.median(back):>6.0f} {back!s:26}"
                f"  {statistics.median(peer):>6.0f} {peer!s:26} {ratio:6.2f}"
            )


if __name__ == "__main__":
    main()
