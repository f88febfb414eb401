"""receipts_record_many: exactly what receipt_record gives row by row, in far fewer queries."""

import random
import time
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction

from esfca.models import AuditEvent, Receipt
from esfca.services import (
    receipt_record,
    receipts_check_chunks,
    receipts_record_chunks,
    receipts_record_many,
)
from esfca.services.batch import Carried
from esfca.services.chunks import ChunkWriter, judge_ahead
from exporters.errors import DomainError
from exporters.models import Firm
from ledger.models import Account, Entry, Transaction
from ledger.verify import ledger_verify

from .conftest import open_firm, set_rate, snapshot

pytestmark = pytest.mark.django_db
TODAY = date(2025, 11, 30)
CURRENCIES = ("USD", "EUR", "GBP")
RECEIPT_FIELDS = (
    "value_date",
    "currency",
    "retain_requested",
    "allowed_retention",
    "retained",
    "converted",
    "conversion_rate",
    "converted_on",
    "rate_source",
    "ref_buy",
    "ref_buy_usd",
    "tax_rate",
    "tax_withheld",
    "pkr_credited",
    "rule_id",
    "rule_basis",
    "client_name",
    "client_country",
    "purpose_code",
    "request_fingerprint",
)


def rates_for(days, *, skip_eur_on=()):
    for n, day in enumerate(days):
        set_rate("USD", day, f"{280 + n % 7}.1234")
        set_rate("GBP", day, f"{355 + n % 5}.5")
        if day not in skip_eur_on:
            set_rate("EUR", day, f"{301 + n % 3}.777")


def random_rows(rng: random.Random, n: int, days: list[date]) -> list[dict]:
    """Mostly in date order with some backdated rows, replays, conflicts and faults."""
    rows = []
    cursor = 0
    for i in range(n):
        cursor = min(len(days) - 1, cursor + rng.choice((0, 0, 0, 1)))
        day = days[cursor]
        if rng.random() < 0.05:
            day = days[max(0, cursor - rng.randint(1, 5))]  # backdated
        row = {
            "reference": f"R-{i}",
            "value_date": day,
            "amount": D(rng.randint(100, 900_000)) / 100,
            "currency": rng.choice(CURRENCIES),
            "client_name": f"Client {rng.randint(1, 9)}",
            "client_country": "US",
            "purpose_code": "9184",
        }
        dice = rng.random()
        if dice < 0.15:
            row["retain"] = (row["amount"] * D(rng.choice(("0", "0.1", "0.5", "0.9")))).quantize(
                D("0.01")
            )  # some of these are above the limit
        elif dice < 0.20:
            row["conversion_rate"] = D("279.5")
        elif dice < 0.22:
            row["client_country"] = "XX"  # validation_error
        elif dice < 0.24:
            row["purpose_code"] = "1234"  # unknown purpose code
        elif dice < 0.26:
            row["converted_on"] = day + timedelta(days=1)
        elif dice < 0.27:
            row["amount"] = D("-5.00")
        if rows and rng.random() < 0.06:
            row = dict(rng.choice(rows))  # a replay (or a refusal again)
        elif rows and rng.random() < 0.03:
            row = {**rng.choice(rows), "client_name": "Someone else"}  # duplicate_reference
        rows.append(row)
    return rows


def refusal(exc):
    details = dict(exc.details)
    if "existing_id" in details:  # ids differ between firms: compare what they point at
        details["existing_id"] = Receipt.objects.get(pk=details["existing_id"]).reference
    return ("refused", exc.code, exc.message, details)


def one_by_one(firm, rows):
    outcomes = []
    for row in rows:
        try:
            receipt, created = receipt_record(firm=firm, actor=None, today=TODAY, **row)
        except DomainError as exc:
            outcomes.append(refusal(exc))
        else:
            outcomes.append(("created" if created else "replayed", receipt.reference))
    return outcomes


def in_bulk(firm, rows):
    return [
        refusal(o.error) if o.error else (o.status, o.receipt.reference)
        for o in receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)
    ]


def receipts_of(firm):
    return {
        r.reference: (r.amount.amount, *(getattr(r, f) for f in RECEIPT_FIELDS))
        for r in Receipt.objects.filter(firm=firm)
    }


def balances_of(firm):
    return {(a.kind, a.currency, a.category): a.balance for a in Account.objects.filter(owner=firm)}


def ordered_references(firm):
    return list(
        Receipt.objects.filter(firm=firm).order_by("pk").values_list("reference", flat=True)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_batch_gives_what_receipt_record_gives_row_by_row(seed):
    rng = random.Random(seed)
    days = [date(2025, 9, 1) + timedelta(days=k) for k in range(0, 85, 2)]
    rates_for(days, skip_eur_on=set(days[5:8]))  # fx_rate_missing for EUR on some days
    rows = random_rows(rng, 240, days)
    firm_a = open_firm(currencies=CURRENCIES)
    firm_b = open_firm(currencies=CURRENCIES)

    bulk = in_bulk(firm_a, rows)
    single = one_by_one(firm_b, rows)

    assert bulk == single
    statuses = {o[0] for o in bulk}
    codes = {o[1] for o in bulk if o[0] == "refused"}
    assert statuses == {"created", "replayed", "refused"}
    assert {"validation_error", "duplicate_reference", "fx_rate_missing"} <= codes
    same_books(firm_a, firm_b)
    created = sum(1 for o in bulk if o[0] == "created")
    assert Receipt.objects.filter(firm=firm_a).count() == created
    assert AuditEvent.objects.filter(firm=firm_a, action="receipt_recorded").count() == created
    assert Transaction.objects.filter(key__startswith=f"receipt:{firm_a.pk}:").count() == created


def test_a_retention_above_the_month_limit_is_refused_like_receipt_record():
    day = date(2025, 11, 4)
    rates_for([day])
    rows = [
        {"reference": "A", "value_date": day, "amount": D("4000.00"), "currency": "USD",
         "client_name": "C", "client_country": "US"},
        {"reference": "B", "value_date": day, "amount": D("20000.00"), "currency": "USD",
         "retain": D("8010.01"), "client_name": "C", "client_country": "US"},
        {"reference": "C", "value_date": day, "amount": D("20000.00"), "currency": "USD",
         "client_name": "C", "client_country": "US"},
    ]  # fmt: skip
    firm = open_firm()

    outcomes = receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)

    assert [o.status for o in outcomes] == ["created", "refused", "created"]
    assert outcomes[1].code == "retention_limit_exceeded"
    assert outcomes[1].details == {"allowed_retention": "8010.00"}
    assert outcomes[0].receipt.retained == D("3990.00")  # rules.md §2 worked example
    assert outcomes[2].receipt.retained == D("8010.00")


def test_a_second_run_replays_every_row_and_posts_nothing():
    days = [date(2025, 10, 1) + timedelta(days=k) for k in range(20)]
    rates_for(days)
    rows = random_rows(random.Random(7), 120, days)
    firm = open_firm(currencies=CURRENCIES)
    first = receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)
    before = snapshot()

    again = receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)

    assert snapshot() == before
    for one, two in zip(first, again, strict=True):
        if one.status == "refused":
            assert two.status == "refused"
        else:
            assert (two.status, two.receipt.pk) == ("replayed", one.receipt.pk)


def test_refused_rows_leave_nothing_behind():
    day = date(2025, 11, 4)
    rates_for([day])
    firm = open_firm()
    before = snapshot()
    rows = [
        {"reference": "", "value_date": day, "amount": D("10.00"), "currency": "USD",
         "client_name": "C", "client_country": "US"},
        {"reference": "X", "value_date": day, "amount": D("10.00"), "currency": "GBP",
         "client_name": "C", "client_country": "US"},
        {"reference": "Y", "value_date": date(2025, 11, 5), "amount": D("10.00"),
         "currency": "USD", "client_name": "C", "client_country": "US"},
    ]  # fmt: skip

    outcomes = receipts_record_many(firm=firm, actor=None, rows=rows, today=TODAY)

    assert [o.code for o in outcomes] == ["validation_error", "no_account", "fx_rate_missing"]
    assert snapshot() == before


def test_a_chunk_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    days = [date(2025, 8, 1) + timedelta(days=k) for k in range(0, 120, 3)]
    rates_for(days)
    firm = open_firm(currencies=CURRENCIES)
    rows = random_rows(random.Random(11), 500, days)
    rows = [r for r in rows if r["client_country"] == "US"]
    by_date = sorted({r["reference"]: r for r in rows}.values(), key=lambda r: r["value_date"])
    receipts_record_many(firm=firm, actor=None, rows=by_date[:5], today=TODAY)
    entries = Entry.objects.count()

    # 50 measured: per flush at most 3 each for the receipt days, client months and tallies;
    # 2 for the audit head. A bound whatever the number of rows.
    with django_assert_max_num_queries(56):
        outcomes = receipts_record_many(firm=firm, actor=None, rows=by_date, today=TODAY)

    assert sum(o.created for o in outcomes) > 400
    assert Entry.objects.count() > entries


# --- chunks judged ahead of the lock (receipts_record_chunks, PostgreSQL) -----------------


def in_chunks(firm, rows, size, between=lambda n: None):
    def chunks():
        for n, start in enumerate(range(0, len(rows), size)):
            between(n)
            yield rows[start : start + size]

    return list(receipts_record_chunks(firm=firm, actor=None, chunks=chunks(), today=TODAY))


def figures(done):
    return [
        refusal(o.error) if o.error else (o.status, o.receipt.reference)
        for chunk in done
        for o in chunk.outcomes
    ]


def same_books(firm_a, firm_b):
    assert receipts_of(firm_a) == receipts_of(firm_b)
    assert ordered_references(firm_a) == ordered_references(firm_b)
    assert balances_of(firm_a) == balances_of(firm_b)
    assert audit_of(firm_a) == audit_of(firm_b)


def audit_of(firm):
    """Each receipt's audit row: what it names (by reference, ids differ between firms)."""
    references = dict(Receipt.objects.filter(firm=firm).values_list("pk", "reference"))
    return sorted(
        (references[int(e.object_id)], e.object_type, e.details, e.actor_id)
        for e in AuditEvent.objects.filter(firm=firm, action="receipt_recorded")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
@pytest.mark.parametrize("seed", [4, 5])
def test_chunks_judged_ahead_of_the_lock_give_what_receipt_record_gives(seed):
    rng = random.Random(seed)
    days = [date(2025, 9, 1) + timedelta(days=k) for k in range(0, 85, 2)]
    rates_for(days, skip_eur_on=set(days[5:8]))
    rows = random_rows(rng, 240, days)
    firm_a = open_firm(currencies=CURRENCIES)
    firm_b = open_firm(currencies=CURRENCIES)

    done = in_chunks(firm_a, rows, 8)
    single = one_by_one(firm_b, rows)

    assert figures(done) == single
    same_books(firm_a, firm_b)
    # Both ways were taken: chunks kept as judged ahead, and chunks with a backdated row
    # or a reused reference judged again under the lock.
    assert {chunk.ahead for chunk in done} == {True, False}
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_a_receipt_recorded_elsewhere_meanwhile_is_seen_by_the_next_chunk():
    days = [date(2025, 11, 3) + timedelta(days=k) for k in range(20)]
    rates_for(days)
    rows = [
        {"reference": f"R-{i}", "value_date": days[i // 4], "amount": D("3000.00"),
         "currency": "USD", "client_name": "C", "client_country": "US"}
        for i in range(60)
    ]  # fmt: skip
    # Kept nothing: the month's headroom grows by half of it for the receipts after it.
    elsewhere = {"reference": "ELSEWHERE", "value_date": days[9], "amount": D("10000.00"),
                 "currency": "USD", "retain": D("0"), "client_name": "D",
                 "client_country": "GB"}  # fmt: skip
    firm_a = open_firm()
    firm_b = open_firm()

    def record_elsewhere(n):
        if n == 2:  # once chunk 1 is committed, before chunk 2 (judged ahead) is written
            deadline = time.monotonic() + 30
            while Receipt.objects.filter(firm=firm_a).count() < 40:
                assert time.monotonic() < deadline, "chunk 1 was never written"
                time.sleep(0.01)
            receipt_record(firm=firm_a, actor=None, today=TODAY, **elsewhere)

    done = in_chunks(firm_a, rows, 20, between=record_elsewhere)
    single = one_by_one(firm_b, [*rows[:40], elsewhere, *rows[40:]])

    assert figures(done) == single[:40] + single[41:]
    same_books(firm_a, firm_b)
    assert [chunk.ahead for chunk in done] == [True, True, False]
    first_after = Receipt.objects.get(firm=firm_a, reference="R-40")
    assert first_after.retained > D("1500.00")  # more than half: the headroom it left
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_a_chunk_judged_before_its_firm_changed_is_recorded_again_under_the_lock():
    days = [date(2025, 11, 3) + timedelta(days=k) for k in range(4)]
    rates_for(days)
    rows = [
        {"reference": f"R-{i}", "value_date": days[i // 2], "amount": D("3000.00"),
         "currency": "USD", "client_name": "C", "client_country": "US"}
        for i in range(8)
    ]  # fmt: skip
    firm = open_firm()
    writer = ChunkWriter(firm, None, TODAY)
    ahead = judge_ahead(firm, None, rows, TODAY, Carried())
    assert ahead.batch is not None and ahead.outcomes[0].receipt.retained > 0
    # The registration ends between the judgement and the write: no longer registered on
    # any of the rows' dates, so nothing may be retained (rules.md §2 eligibility).
    ended = days[0] - timedelta(days=1)
    Firm.objects.filter(pk=firm.pk).update(registration_expires=ended)
    try:
        done = writer.submit(ahead).result()
    finally:
        writer.close()
    assert done.ahead is False  # the judgement did not hold: recorded again under the lock
    stored = Receipt.objects.filter(firm=firm)
    assert stored.count() == 8 and {r.retained for r in stored} == {D("0.00")}
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_in_order_chunks_are_all_kept_as_judged_ahead():
    days = [date(2025, 10, 1) + timedelta(days=k) for k in range(40)]
    rates_for(days)
    rows = [
        {"reference": f"O-{i}", "value_date": days[i // 5], "amount": D(1000 + 37 * i),
         "currency": CURRENCIES[i % 3], "client_name": f"C{i % 4}", "client_country": "US"}
        for i in range(200)
    ]  # fmt: skip
    firm_a = open_firm(currencies=CURRENCIES)
    firm_b = open_firm(currencies=CURRENCIES)

    done = in_chunks(firm_a, rows, 25)
    single = one_by_one(firm_b, rows)

    assert figures(done) == single
    assert all(chunk.ahead for chunk in done) and len(done) == 8
    same_books(firm_a, firm_b)
    again = in_chunks(firm_a, rows, 25)  # a re-import: every row a replay, nothing posted
    assert {o.status for chunk in again for o in chunk.outcomes} == {"replayed"}
    same_books(firm_a, firm_b)


@pytest.mark.parametrize("seed", [6, 7])
def test_a_dry_run_gives_what_the_import_gives_and_keeps_nothing(seed):
    rng = random.Random(seed)
    days = [date(2025, 9, 1) + timedelta(days=k) for k in range(0, 85, 2)]
    rates_for(days, skip_eur_on=set(days[5:8]))
    rows = random_rows(rng, 200, days)
    firm_a = open_firm(currencies=CURRENCIES)
    firm_b = open_firm(currencies=CURRENCIES)
    chunks = [rows[start : start + 8] for start in range(0, len(rows), 8)]
    before = snapshot()

    with transaction.atomic():
        checked = [
            refusal(o.error) if o.error else (o.status, o.value("reference"))
            for outcomes in receipts_check_chunks(
                firm=firm_a, actor=None, chunks=iter(chunks), today=TODAY
            )
            for o in outcomes
        ]  # read inside: a refusal names the receipt it would clash with
        transaction.set_rollback(True)

    assert snapshot() == before
    assert checked == one_by_one(firm_b, rows)


def backdated_rows(rng: random.Random, later: int, n: int) -> list[dict]:
    """A month's later receipts (the 20th to the 28th), then ``n`` rows all dated before
    them in random order: ``max`` mostly, some amounts asked (some too much), several
    currencies."""
    rows = []
    for i in range(later + n):
        day = date(2025, 10, rng.randint(20, 28) if i < later else rng.randint(1, 19))
        row = {
            "reference": f"B-{i}",
            "value_date": day,
            "amount": D(rng.randint(100, 900_000)) / 100,
            "currency": rng.choice(CURRENCIES),
            "client_name": "Client",
            "client_country": "US",
        }
        if i >= later and rng.random() < 0.3:
            share = D(rng.choice(("0", "0.01", "0.1", "0.5", "0.9")))
            row["retain"] = (row["amount"] * share).quantize(D("0.01"))
        rows.append(row)
    if later:
        rows[:later] = sorted(rows[:later], key=lambda r: r["value_date"])
    return rows


@pytest.mark.parametrize("seed", [21, 22])
def test_backdated_rows_are_judged_like_receipt_record(seed):
    # rules.md §2: each row dated before later receipts of its month keeps them all within
    # their limits; max takes the largest figure that fits, an amount that does not fit is
    # refused naming it.
    rng = random.Random(seed)
    rates_for([date(2025, 10, d) for d in range(1, 32)])
    rows = backdated_rows(rng, 40, 160)
    firm_a = open_firm(currencies=CURRENCIES)
    firm_b = open_firm(currencies=CURRENCIES)

    bulk = in_bulk(firm_a, rows)
    single = one_by_one(firm_b, rows)

    assert bulk == single
    same_books(firm_a, firm_b)
    pushed = [o for o in bulk if o[0] == "refused" and "would push later receipts" in o[2]]
    assert pushed, "some asked amounts do not fit"
    backdated = Receipt.objects.filter(firm=firm_a, value_date__lt=date(2025, 10, 20))
    assert backdated.filter(retain_requested="max", retained__gt=0).exists()
    assert ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_backdated_rows_are_judged_ahead_of_the_lock_like_receipt_record():
    rng = random.Random(23)
    rates_for([date(2025, 10, d) for d in range(1, 32)])
    rows = backdated_rows(rng, 30, 90)
    firm_a = open_firm(currencies=CURRENCIES)
    firm_b = open_firm(currencies=CURRENCIES)

    done = in_chunks(firm_a, rows, 16)
    single = one_by_one(firm_b, rows)

    assert figures(done) == single
    same_books(firm_a, firm_b)
    # Backdated rows are judged ahead of the lock from the month's days carried forward;
    # only the chunk that first dates a row back into a month carried without its days
    # (the later receipts came in the chunk before) is judged again under the lock.
    assert [chunk.ahead for chunk in done] == [True, False, True, True, True, True, True, True]
    assert ledger_verify().ok
