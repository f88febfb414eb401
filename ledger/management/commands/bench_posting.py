"""Posting throughput and balance reads of the ledger, for the hordak side-by-side benchmark.

Run by ``bench/ledger/ours.sh`` (the ``OUR_CMD`` of ``../shared/bench/hordak/run.sh``) against
its own, freshly migrated PostgreSQL database; see ``docs/benchmarks.md``. Writes JSON with the
keys the harness's ``summarize.py`` reads. Not a test: it writes a lot of rows.
"""

import json
import os
import platform
import statistics
import time
import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import django
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db import transaction as db_transaction
from django.test.utils import CaptureQueriesContext

from exporters.models import Bank, Firm
from ledger.models import Account, Entry, Transaction
from ledger.posting import credit, debit, transaction_post
from ledger.selectors import account_balance
from ledger.services import account_open
from ledger.verify import ledger_verify

RATE = Decimal("280.7000")
TAX = Decimal("0.0025")
CENT = Decimal("0.01")
VALUE_DATE = date(2025, 3, 14)


def open_accounts(tag: str) -> dict[str, Account]:
    bank = Bank.objects.create(code=tag[:8], name=f"Bench bank {tag}")
    firm = Firm.objects.create(name=f"Bench firm {tag}", ntn="1234567-8", kind="it_company")
    return {
        "esfca": account_open(kind=Account.Kind.ESFCA, currency="USD", owner=firm, bank=bank),
        "pkr": account_open(kind=Account.Kind.PKR_BANK, currency="PKR", owner=firm, bank=bank),
        "fx_usd": account_open(kind=Account.Kind.FX_TRADING, currency="USD", owner=firm),
        "fx_pkr": account_open(kind=Account.Kind.FX_TRADING, currency="PKR", owner=firm),
        "proceeds": account_open(kind=Account.Kind.CLIENT_PROCEEDS, currency="USD", owner=firm),
        "tax": account_open(kind=Account.Kind.TAX_WITHHELD, currency="PKR", owner=firm),
    }


def receipt_legs(acc: dict[str, Account], i: int):
    """The worked example's shape, scaled: a receipt, half retained, half converted, taxed."""
    gross = Decimal(2000 + (i * 37) % 9000) / 100  # USD 20.00 .. 109.99, never zero
    retained = (gross / 2).quantize(CENT, rounding=ROUND_HALF_UP)
    converted = gross - retained
    pkr_gross = (converted * RATE).quantize(CENT, rounding=ROUND_HALF_UP)
    tax = (gross * RATE * TAX).quantize(CENT, rounding=ROUND_HALF_UP)
    return [
        debit(acc["esfca"], retained),
        debit(acc["fx_usd"], converted),
        credit(acc["proceeds"], gross),
        debit(acc["pkr"], pkr_gross - tax),
        debit(acc["tax"], tax),
        credit(acc["fx_pkr"], pkr_gross),
    ]


def post_receipt(acc, key, i):
    return transaction_post(
        key=key,
        kind=Transaction.Kind.RECEIPT,
        value_date=VALUE_DATE,
        legs=receipt_legs(acc, i),
        fx_rate=RATE,
    )


def time_reads(account_id: int, reads: int) -> dict:
    def once():
        t0 = time.perf_counter()
        value = account_balance(account_id=account_id)
        return time.perf_counter() - t0, value

    first, value = once()
    samples = [once()[0] for _ in range(reads)]
    return {
        "first_ms": round(first * 1000, 4),
        "median_ms": round(statistics.median(samples) * 1000, 4),
        "p95_ms": round(sorted(samples)[int(0.95 * (len(samples) - 1))] * 1000, 4),
        "value": str(value),
        "entries_on_account": Entry.objects.filter(account_id=account_id).count(),
    }


def load_history(acc: dict[str, Account], entries: int) -> float:
    """``entries`` one-dollar receipts (Dr ESFCA / Cr proceeds) in one SQL transaction.

    Every row passes the CHECK constraints and, at COMMIT, the deferred zero-sum trigger; the
    stored balances move by the same total in the same transaction, so ``ledger_verify`` holds.
    """
    esfca, proceeds = acc["esfca"].pk, acc["proceeds"].pk
    prefix = f"hist-{uuid.uuid4().hex[:8]}-"
    t0 = time.perf_counter()
    with db_transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            WITH txn AS (
                INSERT INTO ledger_transaction
                    (key, fingerprint, kind, value_date, posted_at, memo, fx_rate, reverses_id)
                SELECT %s || g, '', 'receipt', %s, now(), '', NULL, NULL
                  FROM generate_series(1, %s) AS g
                RETURNING id
            )
            INSERT INTO ledger_entry (transaction_id, account_id, debit, credit, currency)
            SELECT txn.id, leg.account_id, leg.debit, leg.credit, 'USD'
              FROM txn CROSS JOIN (VALUES (%s::bigint, 1.00, 0.00), (%s::bigint, 0.00, 1.00))
                   AS leg (account_id, debit, credit)
            """,
            [prefix, VALUE_DATE, entries, esfca, proceeds],
        )
        cur.execute(
            "UPDATE ledger_account SET balance = balance + %s WHERE id IN (%s, %s)",
            [Decimal(entries).quantize(CENT), esfca, proceeds],
        )
    cur_time = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE ledger_entry")
        cur.execute("ANALYZE ledger_transaction")
    return cur_time


class Command(BaseCommand):
    help = "Time N receipt-shaped postings (one commit each) and balance reads."

    def add_arguments(self, parser):
        parser.add_argument("-n", "--transfers", type=int, default=10_000)
        parser.add_argument("--reps", type=int, default=3, help="posting runs; median reported")
        parser.add_argument("--reads", type=int, default=50)
        parser.add_argument("--sample", type=int, default=100, help="postings to count queries")
        parser.add_argument(
            "--history", type=int, default=1_000_000, help="entries loaded on the ESFCA (0: skip)"
        )
        parser.add_argument("--json", help="write the results here")

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql":
            raise CommandError("bench_posting measures PostgreSQL; set DATABASE_URL=postgres://…")
        n = opts["transfers"]
        runs = []
        acc = None
        for rep in range(opts["reps"]):
            tag = f"R{rep}{uuid.uuid4().hex[:5]}".upper()
            acc = open_accounts(tag)
            keys = [f"bench/{tag}/{i}" for i in range(n)]
            post_receipt(acc, f"bench/{tag}/warm", 0)  # connection and code paths warm
            t0 = time.perf_counter()
            for i, key in enumerate(keys):
                post_receipt(acc, key, i)
            wall = time.perf_counter() - t0
            runs.append(wall)
            self.stderr.write(f"run {rep + 1}: {n} postings in {wall:.2f} s = {n / wall:.0f}/s")
        wall = statistics.median(runs)
        legs = len(receipt_legs(acc, 0))

        with CaptureQueriesContext(connection) as ctx:
            for i in range(opts["sample"]):
                post_receipt(acc, f"bench/sample/{uuid.uuid4().hex}", i)
        queries = len(ctx.captured_queries) / opts["sample"]
        with CaptureQueriesContext(connection) as replay_ctx:
            post_receipt(acc, "bench/sample/replay", 1)
        with CaptureQueriesContext(connection) as replay_ctx:
            post_receipt(acc, "bench/sample/replay", 1)

        reads = {"balance": time_reads(acc["esfca"].pk, opts["reads"])}
        history_s = None
        if opts["history"]:
            history_s = load_history(acc, opts["history"])
            reads["balance_1m"] = time_reads(acc["esfca"].pk, opts["reads"])
        t0 = time.perf_counter()
        report = ledger_verify()
        verify_s = time.perf_counter() - t0
        if not report.ok:
            raise CommandError(
                "ledger_verify failed after the benchmark: " + "; ".join(report.problems[:5])
            )

        result = {
            "tool": "ours",
            "mode": "single",
            "workers": 1,
            "transfers": n,
            "wall_s": round(wall, 3),
            "transfers_per_s": round(n / wall, 1),
            "legs_per_transfer": legs,
            "legs_per_s": round(n * legs / wall, 1),
            "runs_wall_s": [round(r, 3) for r in runs],
            "runs_transfers_per_s": [round(n / r, 1) for r in runs],
            "queries_per_posting": queries,
            "round_trips_per_posting": queries + 2,  # + BEGIN and COMMIT, which Django doesn't log
            "queries_sample": [q["sql"][:100] for q in ctx.captured_queries[: int(queries)]],
            "queries_per_replay": len(replay_ctx.captured_queries),
            "balance_read": reads,
            "history_load_s": None if history_s is None else round(history_s, 1),
            "ledger_verify": {"ok": report.ok, "seconds": round(verify_s, 2)},
            "rows": {
                "transactions": Transaction.objects.count(),
                "entries": Entry.objects.count(),
            },
            "django": django.get_version(),
            "python": platform.python_version(),
            "postgres": connection.cursor().connection.info.server_version,
            "cpu_count": os.cpu_count(),
        }
        text = json.dumps(result, indent=2)
        if opts["json"]:
            with open(opts["json"], "w") as f:
                f.write(text)
        self.stdout.write(text)
