"""Benchmark of one receipt at a time through the full service (not a test; figures go to
docs/benchmarks.md): ``receipt_record`` (rules, idempotency, the firm's lock, the ledger,
audit, one commit each) in a month that already holds 0 and then N receipts, beside the
ledger's own single-commit posting in the same run (the floor under it).

A receipt that reread its whole month cost more the fuller the month; the stored receipt
days make it cost the same. Run through ``bench/receipts/run.sh`` (a throwaway cluster):

    bench/receipts/run.sh [--existing 10000] [--receipts 300] [--reps 3] [--json FILE]

Beside django-hordak's single-commit transfers in the same run (its harness's cluster):
``bench/receipts/vs_hordak.sh``.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from esfca.services import firm_account_open, receipt_record, receipts_record_many  # noqa: E402
from esfca.services.days import receipt_days_verify  # noqa: E402
from exporters.models import Bank, Firm  # noqa: E402
from exporters.validators import iban_pk  # noqa: E402
from ledger.models import Account, FxRate  # noqa: E402
from ledger.posting import credit, debit, transaction_post  # noqa: E402
from ledger.services import account_open  # noqa: E402
from ledger.verify import ledger_verify  # noqa: E402

MONTH = date(2025, 10, 1)
TODAY = date(2025, 12, 31)


def firm_with_accounts(n: int) -> Firm:
    bank = Bank.objects.get_or_create(code="BNCH", defaults={"name": "Bench Bank"})[0]
    firm = Firm.objects.create(
        name=f"Bench Exporter {n}", ntn=f"{1234560 + n}-8", kind="it_company",
        registration_body="PSEB", active_taxpayer=True,
    )  # fmt: skip
    firm_account_open(firm=firm, bank=bank, currency="PKR", iban=iban_pk("BNCH", 10 * n + 1))
    firm_account_open(firm=firm, bank=bank, currency="USD", iban=iban_pk("BNCH", 10 * n + 2))
    return firm


def row(reference: str, day: date) -> dict:
    return {
        "reference": reference, "value_date": day, "amount": Decimal("1000.00"),
        "currency": "USD", "conversion_rate": Decimal("280.5"), "client_name": "Gulf Retail LLC",
        "client_country": "AE",
    }  # fmt: skip


def receipts_per_second(firm: Firm, count: int, prefix: str) -> float:
    """``count`` receipts one call (and one commit) each, dated the month's last day: after
    every receipt already in it (no backdating)."""
    day = MONTH + timedelta(days=30)
    started = time.perf_counter()
    for k in range(count):
        receipt_record(firm=firm, actor=None, today=TODAY, **row(f"{prefix}-{k}", day))
    return count / (time.perf_counter() - started)


def postings_per_second(count: int) -> float:
    """The ledger alone: a two-leg posting, one commit each (the floor of a receipt)."""
    one = account_open(kind=Account.Kind.CLIENT_PROCEEDS, currency="USD")
    two = account_open(kind=Account.Kind.FX_TRADING, currency="USD")
    started = time.perf_counter()
    for k in range(count):
        transaction_post(
            key=f"bench:{time.monotonic_ns()}:{k}", kind="receipt", value_date=MONTH,
            legs=[debit(two, Decimal("1.00")), credit(one, Decimal("1.00"))], memo="bench",
        )  # fmt: skip
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--existing", type=int, default=10_000)
    parser.add_argument("--receipts", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here (the hordak harness's keys)")
    args = parser.parse_args()
    FxRate.objects.bulk_create(
        FxRate(
            currency="USD",
            date=MONTH + timedelta(days=d),
            source="SBP-WACR",
            buy=Decimal("280"),
            sell=Decimal("281"),
        )
        for d in range(31)
    )
    empty, full = [], []
    floor = [postings_per_second(args.receipts) for _ in range(args.reps)]
    for rep in range(args.reps):
        firm = firm_with_accounts(2 * rep)
        empty.append(receipts_per_second(firm, args.receipts, "E"))
        firm = firm_with_accounts(2 * rep + 1)
        rows = [row(f"X-{k}", MONTH + timedelta(days=k * 30 // args.existing))
                for k in range(args.existing)]  # fmt: skip
        receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)
        full.append(receipts_per_second(firm, args.receipts, "F"))
    assert ledger_verify().ok and receipt_days_verify() == []
    median = statistics.median

    def runs(figures: list[float]) -> str:
        return f"{', '.join(f'{r:,.0f}' for r in figures)} /s; median {median(figures):,.0f}"

    print(f"ledger posting alone (floor): {runs(floor)}")
    print(f"receipt_record, month empty: {runs(empty)}, "
          f"{median(empty) / median(floor):.2f} of the floor")  # fmt: skip
    print(f"receipt_record, {args.existing:,} in month: {runs(full)}, "
          f"{median(full) / median(empty):.2f} of the empty month's")  # fmt: skip
    if args.json:
        figures = {
            "tool": "ours-receipt_record", "mode": "single", "workers": 1,
            "transfers": args.receipts, "transfers_per_s": round(median(empty), 1),
            "runs_empty_month": empty, "runs_full_month": full, "runs_ledger_floor": floor,
            "existing_in_month": args.existing,
            "full_month_per_s": round(median(full), 1),
            "ledger_floor_per_s": round(median(floor), 1),
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
