"""The dashboard reads stored sums (receipt days, client months), never the receipts one
by one: its figures are exactly those of the receipts valued one at a time (the reference
below is the dashboard's former computation), on every bank's slice, with reversed
receipts, non-USD receipts with stored rates, with the table's rates of their day, and
without any rate at all; and the client months always equal a recompute (every esfca test
checks that after it ran: see conftest)."""

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from esfca import policy, selectors, services
from esfca.models import ClientMonth, Receipt
from esfca.services import (
    firm_account_open,
    movement_reverse,
    receipt_record,
    receipts_record_many,
)
from esfca.services.days import client_months_verify
from exporters.models import Firm
from exporters.selectors import WHOLE_FIRM, bank_slice
from exporters.validators import iban_pk
from ledger.errors import FxRateMissing
from ledger.models import Account
from tests.exporters.factories import BankFactory

from .conftest import open_firm, set_rate

pytestmark = pytest.mark.django_db
RECORDED_ON = date(2023, 12, 31)
CLIENTS = [
    ("Gulf Retail LLC", "AE"), ("Acme Inc", "US"), ("  Acme Inc", "US"), ("Nordic AB", "SE"),
    ("Tokyo KK", "JP"), ("Lagos Ltd", "NG"), ("Acme Inc", "CA"), ("Berlin GmbH", "DE"),
]  # fmt: skip


def reference(firm: Firm, today: date, banks) -> dict:
    """The dashboard's figures computed from the receipts one by one (its former code)."""
    months = [today.replace(day=1)]
    while len(months) < 12:
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    flows = {m: [Fraction(0), Fraction(0)] for m in months}
    by_region, by_client = defaultdict(Fraction), defaultdict(Fraction)
    unvalued = 0
    receipts = Receipt.objects.standing().filter(
        banks.accounts("esfca__bank_id"), firm=firm, value_date__gte=months[0],
        value_date__lte=today,
    )  # fmt: skip
    for receipt in receipts:
        try:
            item = services.month_item(receipt)
        except FxRateMissing:
            unvalued += 1
            continue
        flow = flows[receipt.value_date.replace(day=1)]
        flow[0] += item.usd_amount
        flow[1] += item.usd_retained
        by_region[selectors.region_of(receipt.client_country)] += item.usd_amount
        by_client[receipt.client_name.strip()] += item.usd_amount
    total = sum(by_region.values(), Fraction(0))

    def share(value):
        return round(value * 100 / total) if total else 0

    top = sorted(by_client.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    hhi = policy.herfindahl(by_client.values())
    return {
        "months": [(m, *flows[m]) for m in months],
        "regions": [
            (r, policy.round_half_up(by_region[r]), share(by_region[r]))
            for r in selectors.REGIONS
            if r in by_region
        ],
        "clients": [(n, policy.round_half_up(v), share(v)) for n, v in top],
        "herfindahl": (D(hhi.numerator) / D(hhi.denominator)).quantize(D("0.0001")),
        "unvalued": unvalued,
    }


def figures(board) -> dict:
    return {
        "months": [(f.month, f.receipts_usd, f.retained_usd) for f in board.months],
        "regions": board.regions,
        "clients": board.clients,
        "herfindahl": board.herfindahl,
        "unvalued": board.unvalued_receipts,
    }


def reference_headroom(firm: Firm, on: date) -> tuple:
    first, last = policy.month_bounds(on)
    month, unvalued = policy.MonthPosition(), 0
    for receipt in Receipt.objects.standing().filter(firm=firm, value_date__range=(first, last)):
        try:
            month.add_item(services.month_item(receipt))
        except FxRateMissing:
            unvalued += 1
    return (
        policy.round_half_up(month.proceeds_usd),
        policy.round_half_up(month.retained_usd),
        unvalued,
    )


def varied_firm() -> tuple[Firm, object, object]:
    """A firm at two banks (USD at both, EUR and GBP at the first) with a year of receipts:
    per-receipt rule until 2023-10-22 (a non-USD receipt without table rates keeps none),
    the calendar month after (stored rates); some reversed."""
    firm = open_firm(currencies=("USD", "EUR", "GBP"), kind=Firm.Kind.IT_COMPANY)
    first_bank = Account.objects.get(owner=firm, currency="USD", kind=Account.Kind.ESFCA).bank
    second_bank = BankFactory()
    for n, currency in enumerate(("PKR", "USD")):
        firm_account_open(
            firm=firm, bank=second_bank, currency=currency,
            iban=iban_pk(second_bank.code, firm.pk * 100 + 50 + n),
        )  # fmt: skip
    rng = random.Random(15)
    day, stop = date(2022, 11, 20), RECORDED_ON
    rated = set()
    while day <= stop:
        # Rates on most days; some days have none (receipts then keep no reference rates
        # under the per-receipt rule, and are valued by the table if it gets them later).
        if day >= date(2023, 10, 1) or rng.random() < 0.6:
            set_rate("USD", day, f"{rng.uniform(270, 300):.4f}")
            set_rate("EUR", day, f"{rng.uniform(290, 330):.4f}")
            set_rate("GBP", day, f"{rng.uniform(340, 380):.4f}")
            rated.add(day)
        day += timedelta(days=1)
    rows, n = [], 0
    day = date(2022, 11, 20)
    while day <= stop:
        for _ in range(rng.randint(0, 3)):
            name, country = rng.choice(CLIENTS)
            currency = rng.choice(("USD", "USD", "EUR", "GBP"))
            if currency != "USD" and day >= date(2023, 10, 1) and day not in rated:
                currency = "USD"
            bank = rng.choice((first_bank.code, second_bank.code)) if currency == "USD" else ""
            rows.append({
                "reference": f"R-{n}", "value_date": day,
                "amount": D(rng.randint(100, 900_000)) / 100, "currency": currency,
                "conversion_rate": D("281.25"), "client_name": name, "client_country": country,
                "bank": bank or first_bank.code,
            })  # fmt: skip
            n += 1
        day += timedelta(days=1)
    rows.sort(key=lambda r: r["value_date"])
    for row in rows[:120]:  # one by one, then as an import
        receipt_record(firm=firm, actor=None, today=RECORDED_ON, **row)
    outcome = receipts_record_many(firm=firm, actor=None, rows=rows[120:], today=RECORDED_ON)
    assert [o.error for o in outcome if o.error] == []
    standing = list(Receipt.objects.filter(firm=firm).order_by("pk"))
    for k, receipt in enumerate(rng.sample(standing, 12)):
        movement_reverse(
            firm=firm, actor=None, kind="receipt", movement_id=receipt.pk,
            reference=f"REV-{k}", reason="typed twice", today=RECORDED_ON,
        )  # fmt: skip
    return firm, first_bank, second_bank


def test_the_dashboard_equals_the_receipts_valued_one_by_one():
    firm, first_bank, second_bank = varied_firm()
    without_rates = Receipt.objects.filter(firm=firm, ref_buy__isnull=True).exclude(currency="USD")
    assert without_rates.exists()  # valued by the table of their day, or unvalued
    # A day's table rate arriving later values the receipts that kept none.
    later = without_rates.order_by("value_date").first().value_date
    set_rate("USD", later, "280.0")
    set_rate("EUR", later, "305.5")
    set_rate("GBP", later, "355.5")
    assert client_months_verify() == []
    for today in (date(2023, 12, 15), date(2023, 12, 31), date(2023, 10, 22), date(2023, 6, 3)):
        for banks in (WHOLE_FIRM, bank_slice(first_bank), bank_slice(second_bank)):
            board = selectors.dashboard(firm, today=today, banks=banks)
            expected = reference(firm, today, banks)
            assert figures(board) == expected, (today, banks)
            assert expected["clients"] and expected["regions"]
        board = selectors.dashboard(firm, today=today)
        head = board.headroom
        assert (head.proceeds_usd, head.used_usd, head.unvalued) == reference_headroom(firm, today)
    assert reference(firm, date(2023, 6, 3), WHOLE_FIRM)["unvalued"] > 0
    # The slices split the firm: the two banks' USD flows add up to the whole firm's.
    whole, first, second = (
        selectors.dashboard(firm, today=RECORDED_ON, banks=b)
        for b in (WHOLE_FIRM, bank_slice(first_bank), bank_slice(second_bank))
    )
    assert second.months[-1].receipts_usd > 0
    assert (
        whole.months[-1].receipts_usd
        == first.months[-1].receipts_usd + second.months[-1].receipts_usd
    )


def test_the_dashboard_reads_the_same_queries_whatever_the_receipts():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    firm = open_firm()
    row = {"amount": D("250"), "currency": "USD", "conversion_rate": D("280.5"),
           "client_country": "US"}  # fmt: skip

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            selectors.dashboard(firm, today=RECORDED_ON)
        return len(captured.captured_queries)

    receipts_record_many(
        firm=firm, actor=None, today=RECORDED_ON,
        rows=[{**row, "reference": "A-0", "client_name": "A", "value_date": date(2023, 12, 1)}],
    )  # fmt: skip
    few = queries()
    receipts_record_many(
        firm=firm, actor=None, today=RECORDED_ON,
        rows=[
            {**row, "reference": f"B-{n}", "client_name": f"Client {n % 40}",
             "value_date": date(2023, 1 + n // 34, 2 + n % 27)}
            for n in range(400)
        ],
    )  # fmt: skip
    assert queries() == few


def test_a_tampered_client_month_is_reported_by_the_check_and_its_command():
    firm = open_firm()
    receipt_record(
        firm=firm, actor=None, reference="R-1", value_date=date(2023, 11, 10), amount=D("10.00"),
        currency="USD", conversion_rate=D("280.5"), client_name="Acme", client_country="US",
        today=RECORDED_ON,
    )  # fmt: skip
    call_command("esfca_verify")
    row = ClientMonth.objects.get(firm=firm)
    assert (row.month, row.client_name, row.receipts, row.amount) == (
        date(2023, 11, 1),
        "Acme",
        1,
        D("10.00"),
    )
    ClientMonth.objects.filter(pk=row.pk).update(amount=D("11.00"))
    problems = client_months_verify()
    assert len(problems) == 1 and f"firm {firm.pk}, 2023-11" in problems[0]
    with pytest.raises(CommandError, match="1 problems"):
        call_command("esfca_verify")
    ClientMonth.objects.filter(pk=row.pk).update(amount=row.amount)
    assert client_months_verify() == []
