"""Filing, freezing, review and revisions (rules.md §5)."""

import hashlib
import json
from datetime import date
from decimal import Decimal

import pytest

from esfca import services as money
from esfca.errors import InvalidInput, InvalidState
from esfca.models import AuditEvent, Conversion, MonthlySummary, SummaryEvent, SummaryReview
from esfca.summaries import services
from esfca.summaries.figures import summary_compute, summary_detail
from tests.esfca.summaries.conftest import OCTOBER, booked_on, receipt

pytestmark = pytest.mark.django_db


def file(world, day=date(2025, 11, 7), month=OCTOBER):
    with booked_on(day):
        return services.summary_file(firm=world.firm, month=month, actor=world.officer)


def decide(world, summary, decision, comment="", day=date(2025, 11, 8)):
    """The world's bank decides its slice (the firm banks at one bank); the summary back."""
    review = SummaryReview.objects.get(summary=summary, bank=world.bank)
    with booked_on(day):
        return services.review_decide(
            review=review, decision=decision, comment=comment, actor=world.reviewer
        ).summary


def test_filing_freezes_the_figures_with_their_sha256(world):
    live = summary_compute(firm=world.firm, month=OCTOBER)
    summary = file(world)
    assert summary.status == "filed"
    assert summary.revision == 1
    assert summary.filed_by == world.officer
    assert summary.filed_at.date() == date(2025, 11, 7)
    assert summary.snapshot["currencies"] == live["currencies"]
    canonical = json.dumps(summary.snapshot, sort_keys=True, separators=(",", ":"))
    assert summary.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert SummaryEvent.objects.get(summary=summary).action == "filed"
    audit = AuditEvent.objects.get(action="summary_filed")
    assert (audit.actor, audit.firm, audit.object_id) == (
        world.officer,
        world.firm,
        str(summary.pk),
    )
    assert audit.details["sha256"] == summary.sha256


def test_a_backdated_entry_never_changes_the_snapshot(world):
    summary = file(world)
    frozen, digest = json.dumps(summary.snapshot, sort_keys=True), summary.sha256
    receipt(world.firm, "BACKDATED", date(2025, 10, 28), "1000.00", booked=date(2025, 11, 9))
    summary.refresh_from_db()
    assert json.dumps(summary.snapshot, sort_keys=True) == frozen
    assert summary.sha256 == digest
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    usd = {c["currency"]: c for c in detail["currencies"]}["USD"]
    assert usd["receipts_count"] == 2  # the filed figures, not the live ones
    assert usd["closing"] == "12220.82"
    assert detail["sha256"] == digest
    assert [f["code"] for f in detail["flags"] if f["rule"] == 8] == ["changed_after_filing"]
    live = summary_compute(firm=world.firm, month=OCTOBER)
    assert {c["currency"]: c for c in live["currencies"]}["USD"]["receipts_count"] == 3


def test_the_month_must_have_ended(world):
    with booked_on(date(2025, 10, 31)), pytest.raises(InvalidState) as caught:
        services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    assert caught.value.code == "invalid_state"
    assert not MonthlySummary.objects.exists()


def test_filed_or_accepted_cannot_be_filed_again(world):
    summary = file(world)
    with pytest.raises(InvalidState):
        file(world)
    decide(world, summary, "accepted")
    with pytest.raises(InvalidState):
        file(world)
    assert MonthlySummary.objects.count() == 1


def test_file_return_refile_keeps_every_revision(world):
    first = file(world)
    returned = decide(world, first, "returned", "Purpose codes of October missing.")
    assert returned.status == "returned"
    assert returned.decided_by == world.reviewer
    assert returned.comment == "Purpose codes of October missing."
    receipt(world.firm, "FIX", date(2025, 10, 28), "500.00", booked=date(2025, 10, 28))
    second = file(world, day=date(2025, 11, 9))
    assert (second.revision, second.status) == (2, "filed")
    assert second.sha256 != first.sha256
    decide(world, second, "accepted", day=date(2025, 11, 10))

    latest = summary_detail(firm=world.firm, month=OCTOBER)
    assert (latest["revision"], latest["status"]) == (2, "accepted")
    assert [r["status"] for r in latest["revisions"]] == ["returned", "accepted"]
    old = summary_detail(firm=world.firm, month=OCTOBER, revision=1)
    assert (old["revision"], old["status"], old["sha256"]) == (1, "returned", first.sha256)
    assert old["comment"] == "Purpose codes of October missing."
    assert {c["currency"]: c for c in old["currencies"]}["USD"]["receipts_count"] == 2
    assert {c["currency"]: c for c in latest["currencies"]}["USD"]["receipts_count"] == 3
    actions = list(
        SummaryEvent.objects.filter(summary__firm=world.firm)
        .order_by("id")
        .values_list("summary__revision", "action")
    )
    assert actions == [(1, "filed"), (1, "returned"), (2, "filed"), (2, "accepted")]
    assert list(
        AuditEvent.objects.filter(object_type="MonthlySummary")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["summary_filed", "summary_returned", "summary_filed", "summary_accepted"]


def test_only_a_filed_summary_is_decided(world):
    summary = file(world)
    decide(world, summary, "accepted")
    with pytest.raises(InvalidState):
        decide(world, summary, "returned", "too late")
    summary.refresh_from_db()
    assert summary.status == "accepted"


def test_decision_is_validated(world):
    summary = file(world)
    with pytest.raises(InvalidInput) as caught:
        decide(world, summary, "maybe")
    assert "decision" in caught.value.details
    with pytest.raises(InvalidInput) as caught:
        decide(world, summary, "returned", "  ")
    assert "comment" in caught.value.details
    summary.refresh_from_db()
    assert summary.status == "filed"


def test_a_draft_is_filed_in_place(world):
    draft = services.summary_prepare_draft(firm=world.firm, month=OCTOBER)
    assert (draft.status, draft.revision, draft.sha256) == ("draft", 1, "")
    assert services.summary_prepare_draft(firm=world.firm, month=OCTOBER).pk == draft.pk
    filed = file(world)
    assert filed.pk == draft.pk and filed.status == "filed"
    assert services.summary_prepare_draft(firm=world.firm, month=OCTOBER) is None
    assert MonthlySummary.objects.count() == 1


def test_draft_payload_is_live(world):
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    assert (detail["status"], detail["revision"], detail["sha256"]) == ("draft", 1, None)
    assert detail["due_date"] == "2025-11-10"
    assert detail["revisions"] == []


# --- a reversal after filing (rules.md §9) -------------------------------------------------


def correct_conversion(world, day, rate="281.0000"):
    """CONV-1 (USD 500.00 on 2025-10-22) corrected to the same amount at another rate,
    booked on ``day``: the summary counts conversions in USD only, so no figure moves."""
    conversion = Conversion.objects.get(firm=world.firm, reference="CONV-1")
    with booked_on(day):
        return money.movement_correct(
            firm=world.firm, actor=None, kind="conversion", movement_id=conversion.pk,
            reference="REV-CONV-1", reason="rate typed wrong",
            corrected={"reference": "CONV-1B", "value_date": date(2025, 10, 22),
                       "amount": Decimal("500.00"), "currency": "USD", "rate": Decimal(rate)},
        )  # fmt: skip


def filing_codes(detail) -> list[str]:
    return [f["code"] for f in detail["flags"] if f["rule"] == 8]


def test_a_correction_after_filing_that_moves_no_figure_flags_the_month_and_allows_a_refile(
    world,
):
    first = file(world)
    correct_conversion(world, date(2025, 11, 9))
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    assert detail["changes"] == []  # every figure as filed
    assert filing_codes(detail) == ["changed_after_filing"]
    message = next(f["message"] for f in detail["flags"] if f["rule"] == 8)
    assert "reversed on 2025-11-09, after filing on 2025-11-07" in message
    assert "reversed_at" not in detail and "reversed_at" not in first.snapshot
    second = file(world, day=date(2025, 11, 10))
    assert (second.revision, second.status) == (2, "filed")
    assert second.snapshot["currencies"] == first.snapshot["currencies"]
    assert filing_codes(summary_detail(firm=world.firm, month=OCTOBER)) == []
    with pytest.raises(InvalidState):  # unchanged since revision 2
        file(world, day=date(2025, 11, 11))


def test_a_correction_recorded_before_filing_does_not_flag_the_month(world):
    correct_conversion(world, date(2025, 11, 5))
    file(world)
    assert filing_codes(summary_detail(firm=world.firm, month=OCTOBER)) == []
    with pytest.raises(InvalidState):
        file(world, day=date(2025, 11, 8))
