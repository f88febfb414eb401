"""The demo data: realistic shape, every category, idempotent, and a ledger that proves itself."""

import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command

from esfca.models import Allocation, Receipt
from esfca.services import month_item
from exporters.models import Firm
from ledger.models import Entry
from ledger.verify import ledger_verify

from .conftest import sqlite_manage

pytestmark = pytest.mark.django_db


def test_load_demo_is_realistic_and_idempotent():
    call_command("load_demo", stdout=io.StringIO())
    counts = (Receipt.objects.count(), Allocation.objects.count(), Entry.objects.count())
    assert Firm.objects.count() == 6
    assert {f.kind for f in Firm.objects.all()} == {"it_company", "freelancer"}
    assert {f.registration_body for f in Firm.objects.all()} >= {
        "PSEB",
        "PASHA",
        "SELF_DECLARATION",
    }
    assert set(Allocation.objects.values_list("category", flat=True)) == set(
        Allocation.Category.values
    )
    assert {r.client_country for r in Receipt.objects.all()} >= {"US", "AE", "GB", "SG"}

    monthly = defaultdict(Decimal)
    for receipt in Receipt.objects.all():
        usd = month_item(receipt).usd_amount
        monthly[receipt.value_date.strftime("%Y-%m")] += Decimal(usd.numerator) / usd.denominator
    assert len(monthly) == 18
    assert max(monthly, key=monthly.get) == "2025-12"  # the record month

    assert ledger_verify().ok
    call_command("load_demo", stdout=io.StringIO())
    assert (Receipt.objects.count(), Allocation.objects.count(), Entry.objects.count()) == counts


def test_the_embedded_default_demo_proves_itself_on_sqlite(tmp_path):
    """`make run`'s setup (SQLite, the demo) passes the operator's checks: the ledger's
    movements add up in SQLite's arithmetic too (its decimals are binary floating point)."""
    _, manage = sqlite_manage(tmp_path / "demo.sqlite3")
    for command in (("migrate", "--noinput"), ("load_demo",)):
        done = manage(*command)
        assert done.returncode == 0, done.stderr
    for command in ("ledger_verify", "esfca_verify"):
        done = manage(command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "NOT" not in done.stdout
