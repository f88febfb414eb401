"""Every page costs the same number of queries in a small world and in one grown in every
direction (issue 15: no N+1): more receipts, months, firms at the bank, filed, returned and
accepted summaries, a reversal, a second bank."""

import json
import os

from django.urls import reverse

from esfca.models import SummaryReview
from esfca.summaries.figures import summary_detail
from esfca.summaries.reviews import review_queue, review_rows
from exporters.selectors import bank_slice
from tests.esfca.pages import grow, months_before, queries


def _pages(world) -> list[tuple[str, str, str, dict]]:
    """(name, role, url, query) of every page whose cost is counted."""
    firm = world.firm.pk
    month = f"{world.last_month:%Y-%m}"
    this_month = f"{world.today:%Y-%m}"
    review = reverse("review_summary", kwargs={"pk": world.review.pk})
    return [
        ("dashboard", "officer", reverse("firm_dashboard", kwargs={"firm_id": firm}), {}),
        ("home", "officer", reverse("home"), {}),
        ("dashboard (slice)", "reviewer", reverse("firm_dashboard", kwargs={"firm_id": firm}), {}),
        ("receipts", "officer", reverse("receipts", kwargs={"firm_id": firm}), {}),
        ("receipts of a month", "officer", reverse("receipts", kwargs={"firm_id": firm}),
         {"month": month, "currency": "USD"}),
        ("receipts (slice)", "reviewer", reverse("receipts", kwargs={"firm_id": firm}), {}),
        ("allocations", "officer", reverse("allocations", kwargs={"firm_id": firm}), {}),
        ("month (filed)", "officer", reverse("month", kwargs={"firm_id": firm, "month": month}),
         {}),
        ("month (draft)", "officer",
         reverse("month", kwargs={"firm_id": firm, "month": this_month}), {}),
        ("month (slice)", "reviewer",
         reverse("month", kwargs={"firm_id": firm, "month": month}), {}),
        ("review queue", "reviewer", reverse("review_queue"), {}),
        ("review queue (all)", "reviewer", reverse("review_queue"), {"status": "all"}),
        ("review summary", "reviewer", review, {}),
        ("portfolio", "reviewer", reverse("portfolio"), {"month": month}),
    ]  # fmt: skip


def _counts(world, client_for) -> tuple[dict[str, int], dict[str, list[str]]]:
    clients = {role: client_for(role) for role in ("officer", "reviewer")}
    counts, sql = {}, {}
    for name, role, url, params in _pages(world):
        counts[name], sql[name] = queries(clients[role], url, **params)
    return counts, sql


def test_every_page_costs_the_same_queries_whatever_the_data(world, client_for):
    # One of everything first (a page may query a kind of row only when it has one),
    # then many more of each.
    grow(world, receipts=2, months=3, firms=1)
    small, small_sql = _counts(world, client_for)
    grow(world, receipts=24, months=6, firms=3, after=3)
    large, large_sql = _counts(world, client_for)
    if os.environ.get("QUERY_DUMP"):
        with open(os.environ["QUERY_DUMP"], "w") as out:
            json.dump({"small": small_sql, "large": large_sql}, out, indent=1)
    grown = {name: (small[name], large[name]) for name in small if small[name] != large[name]}
    assert not grown, "\n\n".join(
        f"{name}: {n} → {m} queries\n" + "\n".join(large_sql[name])
        for name, (n, m) in grown.items()
    )


def test_the_queue_flags_a_changed_month_as_the_live_summary_does(world, client_for):
    """The queue reads each slice's flags as filed and finds a month changed since filing
    from the ledger's record times; the summary recomputes it. They agree on every row."""
    grow(world)
    rows = review_rows(list(review_queue(user=world.reviewer)))
    changed = set()
    for row in rows:
        review = SummaryReview.objects.select_related("summary__firm", "bank").get(pk=row["id"])
        live = summary_detail(
            firm=review.summary.firm, month=review.summary.month,
            revision=review.summary.revision, banks=bank_slice(review.bank),
        )  # fmt: skip
        filed = review.snapshot["flags"]
        queued = [f for f in row["flags"] if f["code"] != "changed_after_filing"]
        assert queued == filed
        is_changed = any(f["code"] == "changed_after_filing" for f in row["flags"])
        assert is_changed == any(f["code"] == "changed_after_filing" for f in live["flags"]), row
        if is_changed:
            changed.add((row["firm"], row["month"], row["revision"]))
    late = f"{months_before(world.last_month, 3)[2]:%Y-%m}"
    # The late receipt's month and every later month of the firm (their opening moved).
    assert (world.firm.pk, late, 1) in changed
    assert (world.firm.pk, f"{world.last_month:%Y-%m}", 1) in changed
    before = f"{months_before(world.last_month, 4)[3]:%Y-%m}"  # the month before the late one
    assert (world.firm.pk, before, 1) not in changed
    page = client_for("reviewer").get(reverse("review_queue"), {"status": "all"})
    assert page.content.decode().count("was recorded on") == len(changed)
