"""Web pages at a bank's scale (not a test; figures go to docs/benchmarks.md): the demo data
plus one firm with 50,000 receipts in its last 12 months (four currencies, 400 clients in
every region, two banks, some reversed, ten months filed), served by gunicorn (2 workers
x 4 threads) on PostgreSQL.

1. One request alone: each page requested on its own, 3 times to warm up and then
   ``--single`` times (the median reported), beside the login page (the floor: no query);
   the queries each page runs, counted in this process with Django's test client.
2. Load: locust (``bench/web/locustfile.py``), 50 users with 1 s think time — officers of
   the big firm on its dashboard, receipts list and month page, its bank's reviewer (signed
   in with the second factor) on the review queue and the bank's slice of the dashboard,
   and anonymous visitors on the login page — for ``--seconds``, ``--runs`` times; p50/p95
   per page beside the login page's p95 in the same run.

Run through ``bench/web/run.sh`` (a throwaway cluster; needs the ``bench`` extra):

    bench/web/run.sh [--receipts 50000] [--runs 3] [--seconds 60] [--single 15]

``--single 0`` leaves out the single requests and the in-process parts (the load runs only).
"""

import argparse
import csv
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from esfca.demo import load_demo  # noqa: E402
from esfca.models import Receipt  # noqa: E402
from esfca.second_factor import second_factor_enrol  # noqa: E402
from esfca.services import firm_account_open, movement_reverse, receipts_record_many  # noqa: E402
from esfca.services.days import client_months_verify, receipt_days_verify  # noqa: E402
from esfca.summaries.services import summary_file  # noqa: E402
from exporters.models import Bank, Firm, Membership, User  # noqa: E402
from exporters.validators import iban_pk  # noqa: E402
from ledger.models import FxRate  # noqa: E402

HERE = Path(__file__).resolve().parent
CENT = Decimal("0.01")
# client countries by region, and the currency each region mostly pays in
COUNTRIES = {
    "US": "USD", "CA": "USD", "AE": "AED", "SA": "USD", "QA": "USD", "GB": "GBP", "DE": "EUR",
    "NL": "EUR", "FR": "EUR", "SE": "EUR", "AU": "USD", "SG": "USD", "JP": "USD", "NG": "USD",
}  # fmt: skip
SCALE_USER = "officer.scale"
REVIEWER = "reviewer.scbl"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seed_scale_firm(receipts: int, today: date) -> Firm:
    """A firm at SCBL (all currencies) and HABB (USD) with ``receipts`` receipts on the
    working days of the 12 months ending with today's, imported in date order in chunks
    of 5,000 (the import's own path), 100 of them reversed, its ended months filed."""
    banks = {code: Bank.objects.get(code=code) for code in ("SCBL", "HABB")}
    firm = Firm.objects.create(
        name="Scale Exporter (Pvt) Ltd", ntn="7654321-0", kind="it_company",
        registration_body="PSEB", registration_number="PSEB/2020/9999", active_taxpayer=True,
    )  # fmt: skip
    accounts = [("SCBL", c) for c in ("PKR", "USD", "EUR", "GBP", "AED")]
    for n, (code, currency) in enumerate([*accounts, ("HABB", "PKR"), ("HABB", "USD")]):
        firm_account_open(
            firm=firm, bank=banks[code], currency=currency, iban=iban_pk(code, 990_000 + n)
        )
    officer = User.objects.create_user(SCALE_USER, f"{SCALE_USER}@bench.esfca.pk", "x" * 20)
    Membership.objects.create(user=officer, role=Membership.Role.FINANCE_OFFICER, firm=firm)

    first = window_start(today)
    # the rate table's days (load_demo's), before today: today's rate may not be out yet
    days = sorted(
        FxRate.objects.filter(currency="USD", date__range=(first, today))
        .exclude(date=today)
        .values_list("date", flat=True)
        .distinct()
    )
    rng = random.Random(15)
    countries = list(COUNTRIES)
    clients = [(f"Client {n:03d} {c}", c) for n in range(400) for c in [rng.choice(countries)]]
    cum, total = [], 0.0
    for n in range(len(clients)):  # a few large clients, a long tail
        total += 1 / (n + 1) ** 0.8
        cum.append(total)
    rows = []
    for n in range(receipts):
        name, country = rng.choices(clients, cum_weights=cum)[0]
        currency = COUNTRIES[country] if rng.random() < 0.7 else "USD"
        bank = "HABB" if currency == "USD" and rng.random() < 0.3 else "SCBL"
        amount = Decimal(rng.randint(5_000, 2_500_000)) / 100
        rows.append({
            "reference": f"SCALE-{n:06d}", "value_date": days[n * len(days) // receipts],
            "amount": amount, "currency": currency, "retain": (amount / 5).quantize(CENT),
            "conversion_rate": None, "client_name": name, "client_country": country,
            "bank": bank, "purpose_code": "",
        })  # fmt: skip
    started = time.perf_counter()
    for k in range(0, len(rows), 5000):
        outcome = receipts_record_many(firm=firm, actor=officer, rows=rows[k : k + 5000])
        refused = [o.error for o in outcome if o.error]
        assert not refused, refused[:3]
    log(f"{receipts} receipts imported in {time.perf_counter() - started:.1f} s")
    for k, pk in enumerate(
        Receipt.objects.filter(firm=firm).order_by("?").values_list("pk", flat=True)[:100]
    ):
        movement_reverse(
            firm=firm, actor=officer, kind="receipt", movement_id=pk,
            reference=f"SCALE-REV-{k}", reason="recorded twice",
        )  # fmt: skip
    month = first
    while month < today.replace(day=1):
        summary_file(firm=firm, month=month, actor=officer)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    log("100 reversals, the ended months filed")
    return firm


def window_start(today: date) -> date:
    """The first day of the dashboard's 12 months (ending with today's)."""
    if today.month == 12:
        return date(today.year, 1, 1)
    return date(today.year - 1, today.month + 1, 1)


def signed_in(username: str, *, second_factor: bool) -> str:
    """A session key of ``username`` signed in (past the second factor when asked), as the
    sign-in pages leave it."""
    client = Client()
    user = User.objects.get(username=username)
    client.force_login(user)
    if second_factor:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        device = device or second_factor_enrol(user=user, actor=None, via="bench").device
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def pages(firm: Firm, today: date) -> dict[str, tuple[str, str]]:
    """Page name -> (who, path)."""
    month = today.replace(day=1)
    last_month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    args = {"firm_id": firm.pk}
    return {
        "login": ("visitor", reverse("login")),
        "dashboard": ("officer", reverse("firm_dashboard", kwargs=args)),
        "receipts list": ("officer", reverse("receipts", kwargs=args)),
        "month page": (
            "officer",
            reverse("month", kwargs={**args, "month": f"{last_month:%Y-%m}"}),
        ),
        "review queue": ("reviewer", reverse("review_queue")),
        "dashboard (bank slice)": ("reviewer", reverse("firm_dashboard", kwargs=args)),
    }


def query_counts(paths: dict, sessions: dict) -> dict[str, int]:
    counts = {}
    for name, (who, path) in paths.items():
        client = Client()
        if who != "visitor":
            client.cookies[settings.SESSION_COOKIE_NAME] = sessions[who][0]
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, HTTP_HOST="127.0.0.1")
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(captured.captured_queries)
    return counts


def in_process(firm: Firm, today: date, reps: int) -> dict[str, float]:
    """The dashboard's parts in this process (median ms of ``reps``): the whole
    ``selectors.dashboard``, its ``balances`` (the ledger's revaluation, which walks every
    entry of the ESFCAs), its ``headroom``; and the review queue's rows."""
    from esfca import selectors
    from esfca.summaries.reviews import review_queue, review_rows

    reviewer = User.objects.get(username=REVIEWER)
    parts = {
        "dashboard": lambda: selectors.dashboard(firm, today=today),
        "dashboard balances (revaluation)": lambda: selectors.balances(firm, on=today),
        "dashboard headroom": lambda: selectors.headroom(firm, on=today),
        "review queue rows": lambda: review_rows(
            list(review_queue(user=reviewer, status="filed")[:25])
        ),
    }
    result = {}
    for name, call in parts.items():
        call()
        times, cpu = [], []
        for _ in range(reps):
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        result[name] = {"median_ms": round(statistics.median(times), 1),
                        "python_cpu_ms": round(statistics.median(cpu), 1)}  # fmt: skip
    result["dashboard without balances"] = {
        k: round(result["dashboard"][k] - result["dashboard balances (revaluation)"][k], 1)
        for k in ("median_ms", "python_cpu_ms")
    }
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_requests(port: int, paths: dict, sessions: dict, reps: int) -> dict[str, dict]:
    """Each page alone on one kept-alive connection: 3 warm-ups, then ``reps`` timed."""
    result = {}
    for name, (who, path) in paths.items():
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Host": "127.0.0.1"}
        if who != "visitor":
            headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={sessions[who][0]}"
        times = []
        for k in range(3 + reps):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200, (name, response.status)
            if k >= 3:
                times.append(elapsed)
        conn.close()
        result[name] = {
            "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1),
        }
    return result


def locust_run(port: int, config: Path, seconds: int, out: Path) -> dict:
    prefix = out / "locust"
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
         "-u", "50", "-r", "25", "-t", f"{seconds}s", "--host", f"http://127.0.0.1:{port}",
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
        env={**os.environ, "BENCH_WEB_CONFIG": str(config)}, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    stats = {}
    with open(f"{prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            stats[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "p50_ms": _ms(row["50%"]),
                "p95_ms": _ms(row["95%"]),
                "p99_ms": _ms(row["99%"]),
            }
    login_p95 = stats.get("login", {}).get("p95_ms")  # none when no login page came back
    for page in stats.values():
        ok = login_p95 and page["p95_ms"] is not None
        page["p95_vs_login"] = round(page["p95_ms"] / login_p95, 1) if ok else None
    return stats


def _ms(value: str) -> float | None:
    return None if value == "N/A" else float(value)  # N/A: no request came back


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


def main() -> None:
    logging.getLogger("axes").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--single", type=int, default=15)
    args = parser.parse_args()

    today = timezone.localdate()
    started = time.perf_counter()
    load_demo()
    log(f"demo data loaded in {time.perf_counter() - started:.1f} s")
    firm = seed_scale_firm(args.receipts, today)
    assert receipt_days_verify() == [] and client_months_verify() == []
    in_window = (
        Receipt.objects.standing()
        .filter(firm=firm, value_date__range=(window_start(today), today))
        .count()
    )
    sessions = {
        "officer": [signed_in(SCALE_USER, second_factor=False) for _ in range(25)],
        "reviewer": [signed_in(REVIEWER, second_factor=True) for _ in range(25)],
    }
    paths = pages(firm, today)
    queries = query_counts(paths, sessions)
    if args.single:
        parts = in_process(firm, today, args.single)
        print(json.dumps({"in_process": parts, "load": uptime()}, indent=1), flush=True)
    connection.close()

    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    config = work / "config.json"
    config.write_text(json.dumps({"paths": paths, "sessions": sessions,
                                  "cookie": settings.SESSION_COOKIE_NAME}))  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"},
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/login/")
                break
            except OSError:
                time.sleep(0.2)
        single = single_requests(port, paths, sessions, args.single) if args.single else {}
        print(json.dumps({
            "receipts_of_the_scale_firm_in_12_months": in_window, "queries": queries,
            "single_request": single, "load_before": uptime(),
        }, indent=1), flush=True)  # fmt: skip
        for run in range(1, args.runs + 1):
            load = uptime()
            cpu = time.process_time()
            stats = locust_run(port, config, args.seconds, work)
            print(json.dumps({
                "run": run, "started_load": load, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                time.gmtime()), "users": 50, "seconds": args.seconds, "pages": stats,
                "bench_cpu_s": round(time.process_time() - cpu, 2),
            }, indent=1), flush=True)  # fmt: skip
        if not args.single:
            return
        single_after = single_requests(port, paths, sessions, args.single)
        print(json.dumps({"single_request_after_the_runs": single_after, "load": uptime()},
                         indent=1), flush=True)  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still busy with requests the clients left
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
