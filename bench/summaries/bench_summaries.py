"""Benchmark of the monthly summaries on PostgreSQL (not a test; figures go to
docs/benchmarks.md).

1. The summary of one firm with 1,000, 10,000 and 50,000 receipts in the month (goal
   ≤ 100 ms at any size, issue 15), beside two references measured in the same run: the
   floor, a bare ``count``/``sum`` over the month's receipts in SQL (what any summary
   that reads every receipt costs at least), and the plain recompute from every receipt
   (``stored=False``, the summary before issue 15). Both ways must give the same summary.
2. The portfolio of a bank with 1,000 firms, 10 receipts each (goal ≤ 1 s).

The data are written in bulk straight into the tables (balanced ledger transactions,
receipts that fit the rules, accounts' stored balances updated to the entries' sums), so
setting up takes seconds rather than the hours 10,000 calls of ``receipt_record`` would
(each rereads its month). The ledger checker runs over the result before anything is
timed. Run it through ``bench/summaries/run.sh``, which starts a throwaway cluster, or
with ``DATABASE_URL`` pointing at an empty PostgreSQL database:

    .venv/bin/python bench/summaries/bench_summaries.py [--receipts 1000,10000,50000]
        [--firms 1000]

The receipt tallies the summaries read (``ReceiptTally``) are rebuilt from the seeded
receipts (``receipt_tallies_rebuild``) and checked (``receipt_tallies_verify``) before
anything is timed.
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from esfca.models import Receipt, RetentionRuleVersion  # noqa: E402
from esfca.services.tallies import (  # noqa: E402
    receipt_tallies_rebuild,
    receipt_tallies_verify,
)
from esfca.summaries.figures import (  # noqa: E402
    currency_figures,
    month_flags,
    summary_compute,
    summary_detail,
)
from esfca.summaries.loading import firm_months  # noqa: E402
from esfca.summaries.reviews import bank_portfolio  # noqa: E402
from exporters.models import Bank, Firm  # noqa: E402
from ledger.models import Account, Entry, FxRate, Transaction  # noqa: E402
from ledger.verify import ledger_verify  # noqa: E402

MONTH = date(2025, 10, 1)
RATE = Decimal("280.0000")
AMOUNT = Decimal("1000.00")
RETAINED = Decimal("500.00")  # within 50 % of every receipt (and the tax cap)
TAX_RATE = Decimal("0.0025")
TAX = Decimal("700.00")  # 1,000 × 280 × 0.25 %
PKR_GROSS = Decimal("140000.00")  # 500 × 280
COUNTRIES = ["US", "GB", "AE", "DE", "SA", "CA", "AU", "SG"]
CODES = ["9182", "9184", "9185"]


def account(firm, bank, kind, currency, side="debit", non_negative=False, category=""):
    return Account.objects.create(
        owner=firm,
        bank=bank if kind in Account.BANK_KINDS else None,
        kind=kind,
        currency=currency,
        category=category,
        normal_side=side,
        non_negative=non_negative,
    )


def make_firm(bank: Bank, n: int) -> dict:
    firm = Firm.objects.create(
        name=f"Bench Firm {n:05d}",
        ntn=f"{1000000 + n:07d}-{n % 10}",
        kind=Firm.Kind.IT_COMPANY,
        registration_body=Firm.RegistrationBody.PSEB,
        active_taxpayer=True,
    )
    return {
        "firm": firm,
        "esfca": account(firm, bank, "esfca", "USD", non_negative=True),
        "pkr": account(firm, bank, "pkr_bank", "PKR", non_negative=True),
        "fx_usd": account(firm, None, "fx_trading", "USD"),
        "fx_pkr": account(firm, None, "fx_trading", "PKR"),
        "proceeds": account(firm, None, "client_proceeds", "USD", side="credit"),
        "tax": account(firm, None, "tax_withheld", "PKR"),
    }


def add_receipts(book: dict, count: int, rule: RetentionRuleVersion, tag: str) -> None:
    """``count`` receipts of USD 1,000 spread over the month's working days, in bulk."""
    firm = book["firm"]
    days = [MONTH + timedelta(days=i) for i in range(31)]
    days = [d for d in days if d.month == MONTH.month and d.weekday() < 5]
    txns, entries, receipts = [], [], []
    for i in range(count):
        day = days[i % len(days)]
        ref = f"{tag}-{i:06d}"
        txns.append(
            Transaction(
                key=f"receipt:{firm.pk}:{ref}",
                fingerprint="bench",
                kind="receipt",
                value_date=day,
                fx_rate=RATE,
            )
        )
    Transaction.objects.bulk_create(txns, batch_size=2000)
    for i, txn in enumerate(txns):
        legs = [
            (book["esfca"], RETAINED, 0),
            (book["fx_usd"], AMOUNT - RETAINED, 0),
            (book["proceeds"], 0, AMOUNT),
            (book["pkr"], PKR_GROSS - TAX, 0),
            (book["tax"], TAX, 0),
            (book["fx_pkr"], 0, PKR_GROSS),
        ]
        for acc, dr, cr in legs:
            entries.append(
                Entry(
                    transaction=txn,
                    account=acc,
                    debit=Decimal(dr),
                    credit=Decimal(cr),
                    currency=acc.currency,
                )
            )
        receipts.append(
            Receipt(
                firm=firm,
                reference=f"{tag}-{i:06d}",
                value_date=txn.value_date,
                request_fingerprint="bench",
                transaction=txn,
                amount=AMOUNT,
                currency="USD",
                esfca=book["esfca"],
                retain_requested=str(RETAINED),
                allowed_retention=RETAINED,
                retained=RETAINED,
                converted=AMOUNT - RETAINED,
                conversion_rate=RATE,
                rate_source="table",
                tax_rate=TAX_RATE,
                tax_withheld=TAX,
                pkr_credited=PKR_GROSS - TAX,
                rule=rule,
                rule_effective_from=rule.effective_from,
                rule_ratio=rule.ratio,
                rule_monthly_floor_usd=rule.monthly_floor_usd,
                rule_basis=rule.basis,
                client_name=f"Client {i % 50}",
                client_country=COUNTRIES[i % len(COUNTRIES)],
                purpose_code=CODES[i % len(CODES)],
            )
        )
    Entry.objects.bulk_create(entries, batch_size=5000)
    Receipt.objects.bulk_create(receipts, batch_size=2000)
    sign = {"debit": 1, "credit": -1}
    for key in ("esfca", "fx_usd", "proceeds", "pkr", "tax", "fx_pkr"):
        acc = book[key]
        delta = (
            sum((e.debit - e.credit for e in entries if e.account is acc), Decimal(0))
            * sign[acc.normal_side]
        )
        Account.objects.filter(pk=acc.pk).update(balance=F("balance") + delta)


def seed(sizes: list[int], firms: int) -> tuple[dict[int, Firm], Bank]:
    rule = RetentionRuleVersion.objects.get(
        firm_kind="it_company", effective_from=date(2023, 10, 23)
    )
    for i in range(31):
        day = MONTH + timedelta(days=i)
        if day.month == MONTH.month:
            FxRate.objects.create(currency="USD", date=day, source="SBP-WACR", buy=RATE, sell=RATE)
    big = {}
    for n, size in enumerate(sizes):
        bank = Bank.objects.create(code=f"BIG{n}", name=f"Bench bank (one firm of {size:,})")
        with transaction.atomic():
            book = make_firm(bank, 90_000 + n)
            add_receipts(book, size, rule, f"BIG{n}")
        big[size] = book["firm"]
    portfolio_bank = Bank.objects.create(code="PORT", name="Bench bank (portfolio)")
    with transaction.atomic():
        for n in range(1, firms + 1):
            add_receipts(make_firm(portfolio_bank, n), 10, rule, f"P{n}")
    # Booked on the value date (no holding-period flags), as a clean month would be.
    Receipt.objects.update(
        created_at=datetime(2025, 10, 1, 6, tzinfo=UTC) + (F("value_date") - MONTH)
    )
    receipt_tallies_rebuild(Firm.objects.values_list("pk", flat=True), [MONTH])
    return big, portfolio_bank


def floor_scan(firm: Firm) -> None:
    """The floor: the database counts and sums the month's receipts, nothing else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(amount), sum(retained), sum(converted) FROM esfca_receipt"
            " WHERE firm_id = %s AND value_date BETWEEN %s AND %s",
            [firm.pk, MONTH, date(2025, 10, 31)],
        )
        cursor.fetchall()


def timed(fn, reps: int) -> dict:
    fn()  # warm: connection, caches, imports
    with CaptureQueriesContext(connection) as queries:
        fn()
    runs, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {
        "median_ms": round(statistics.median(runs), 1),
        "python_cpu_median_ms": round(statistics.median(cpu), 1),
        "min_ms": round(min(runs), 1),
        "max_ms": round(max(runs), 1),
        "reps": reps,
        "queries": len(queries.captured_queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--receipts", default="1000,10000,50000", help="month sizes, comma-separated"
    )
    parser.add_argument("--firms", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the largest summary")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "run on PostgreSQL (bench/summaries/run.sh)"
    sizes = [int(n) for n in args.receipts.split(",")]

    start = time.perf_counter()
    big, bank = seed(sizes, args.firms)
    seeded = time.perf_counter() - start
    report = ledger_verify()
    assert report.ok, report.problems[:5]
    assert receipt_tallies_verify() == []
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    for size, firm in big.items():
        figures = summary_compute(firm=firm, month=MONTH)
        usd = figures["currencies"][0]
        assert usd["receipts_count"] == size, usd
        assert usd["closing"] == usd["ledger_closing"], usd
        assert figures["flags"] == [], figures["flags"][:3]
        assert figures == summary_compute(firm=firm, month=MONTH, stored=False)
    portfolio = bank_portfolio(bank=bank, month=MONTH)
    assert len(portfolio["firms"]) == args.firms
    assert portfolio == bank_portfolio(bank=bank, month=MONTH, stored=False)

    if args.profile:
        firm = big[max(big)]
        months, rules = firm_months([firm], MONTH)
        data = months[firm.pk]
        phases = {
            "load": lambda: firm_months([firm], MONTH),
            "figures": lambda: currency_figures(data, rules),
            "flags": lambda: month_flags(data, rules, []),
        }
        for name, fn in phases.items():
            print(name, timed(fn, 7), file=sys.stderr)
        with CaptureQueriesContext(connection) as load_queries:
            firm_months([firm], MONTH)
        with connection.cursor() as cursor:
            for q in load_queries.captured_queries:
                cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) " + q["sql"])
                plan = [line for (line,) in cursor.fetchall()]
                print(f"{plan[-1].strip():>32}  {q['sql'][:110]}", file=sys.stderr)
                if float(plan[-1].split()[-2]) > 20:  # the costly ones in full
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                    print("\n".join(line for (line,) in cursor.fetchall()), file=sys.stderr)
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(summary_compute, firm=firm, month=MONTH)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)

    results = {
        "postgresql": connection.cursor().connection.info.server_version,
        "load_before": os.getloadavg()[0],
        "seed_seconds": round(seeded, 1),
        "receipts": sizes,
        "firms": args.firms,
    }
    for size, firm in big.items():
        floor = timed(lambda firm=firm: floor_scan(firm), args.reps)
        summary = timed(lambda firm=firm: summary_compute(firm=firm, month=MONTH), args.reps)
        detail = timed(lambda firm=firm: summary_detail(firm=firm, month=MONTH), args.reps)
        plain = timed(
            lambda firm=firm: summary_compute(firm=firm, month=MONTH, stored=False),
            max(3, args.reps // 2),
        )
        results[f"month_{size}"] = {
            "floor_sql_scan": floor,
            "summary_compute": summary,
            "summary_detail": detail,
            "plain_recompute": plain,
            "summary_over_floor": round(summary["median_ms"] / floor["median_ms"], 2),
            "summary_over_plain": round(summary["median_ms"] / plain["median_ms"], 3),
        }
    results["portfolio"] = timed(
        lambda: bank_portfolio(bank=bank, month=MONTH), max(3, args.reps // 2)
    )
    results["portfolio_plain_recompute"] = timed(
        lambda: bank_portfolio(bank=bank, month=MONTH, stored=False), max(3, args.reps // 2)
    )
    results["load_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
