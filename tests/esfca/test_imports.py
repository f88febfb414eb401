"""The import job end to end on PostgreSQL: chunks judged ahead of the lock and written by
the writer thread (transactional tests: the import runs outside any transaction)."""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esfca import imports
from esfca.models import ImportJob, Receipt
from ledger.verify import ledger_verify

from .conftest import open_firm, set_rate, snapshot

TODAY = date(2025, 11, 30)


@given(total=st.integers(0, 60_000))
def test_chunks_cover_every_row_once_short_at_both_ends(total):
    bounds = imports.chunk_bounds(total)
    sizes = [end - start for start, end in pairwise(bounds)]
    assert bounds[0] == 0 and bounds[-1] == total and all(size > 0 for size in sizes)
    assert all(size <= imports.CHUNK for size in sizes)
    if total > imports.CHUNK:
        assert sizes[0] == sizes[-1] == imports.EDGE


def a_file(rows: int, days: list[date]) -> bytes:
    lines = [",".join(imports.COLUMNS)]
    for i in range(rows):
        day = days[i * len(days) // rows]
        if i % 97 == 13:  # a refused row now and then
            lines.append(f"F-{i:04d},{day},12.345,USD,,,Client {i % 5},US,9184")
        else:
            lines.append(f"F-{i:04d},{day},{1000 + 7 * i}.50,USD,,,Client {i % 5},US,9184")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_postgresql")
def test_a_file_in_many_chunks_imports_as_its_dry_run_said(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 40)
    monkeypatch.setattr(imports, "EDGE", 7)
    days = [date(2025, 10, 1) + timedelta(days=k) for k in range(60)]
    for day in days:
        set_rate("USD", day, "280.50")
    firm = open_firm()
    data = a_file(300, days)
    job = imports.import_job_create(firm=firm, actor=None, filename="many.csv", data=data)
    before = snapshot()

    checked = imports.import_dry_run(job_id=job.pk)
    assert snapshot() == before  # the dry run kept nothing
    done = imports.import_run(job_id=job.pk)

    assert (done.status, done.processed, done.accepted + done.refused) == ("done", 300, 300)
    assert done.refused == sum(1 for i in range(300) if i % 97 == 13)
    assert [line["row"] for line in done.report] == list(range(2, 302))
    assert done.report == checked.report  # every line: status, figures, refusal
    assert Receipt.objects.filter(firm=firm).count() == done.accepted
    assert ledger_verify().ok

    again = imports.import_job_create(firm=firm, actor=None, filename="again.csv", data=data)
    after = snapshot()
    replayed = imports.import_run(job_id=again.pk)
    assert (replayed.replayed, replayed.refused, replayed.accepted) == (
        done.accepted,
        done.refused,
        0,
    )
    assert snapshot() == after
    assert ImportJob.objects.count() == 2


def test_a_row_may_name_the_bank_credited():
    """rules.md §11: the optional last column names the bank (needed when the currency is
    held at more than one); a file without it reads as before."""
    header = ",".join(imports.COLUMNS)
    [named, plain] = imports.read_csv(
        f"{header}\nB-1,2025-11-04,10.00,USD,,,Client,US,9184,habb\n"
        "B-2,2025-11-04,10.00,USD,,,Client,US,9184\n".encode()
    )
    assert imports.row_kwargs(named)["bank"] == "HABB"
    assert imports.row_kwargs(plain)["bank"] == ""
