"""One firm, two banks (rules.md §11): receipts name their bank, each bank reviews its own
slice of a filed summary, a reviewer sees nothing of the other bank's accounts, a changed
month is filed again, and a return is emailed to the firm at once.

The worked world's firm banks at SCBL (PKR, USD, EUR); here it also opens PKR and USD at
HABB, whose reviewer (``world.other_reviewer``) reviews HABB's slice only.
"""

import csv
import io
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from esfca import services as money
from esfca.errors import InvalidInput, InvalidState, NoAccount
from esfca.models import AuditEvent, Conversion, MonthlySummary, SummaryEvent, SummaryReview
from esfca.summaries import services
from esfca.summaries.figures import summary_compute, summary_detail
from esfca.summaries.flags import figures_diff, flags_compared
from exporters.models import Bank
from exporters.selectors import WHOLE_FIRM, bank_slice, firm_slice_for
from exporters.validators import iban_pk
from ledger.models import Account
from tests.esfca.second_factor import log_in
from tests.esfca.summaries.conftest import OCTOBER, booked_on, receipt

pytestmark = pytest.mark.django_db

HABB_RECEIPT = "1234.56"  # a figure found nowhere in SCBL's slice


def open_at(firm, bank: Bank, *currencies: str) -> None:
    for n, currency in enumerate(currencies, start=50):
        money.firm_account_open(
            firm=firm, bank=bank, currency=currency, iban=iban_pk(bank.code, firm.pk * 100 + n)
        )


def account(firm, bank: Bank, currency: str) -> Account:
    return Account.objects.get(owner=firm, bank=bank, currency=currency)


@pytest.fixture
def two_banks(world):
    """The firm at SCBL and HABB, one October receipt credited at HABB."""
    open_at(world.firm, world.other_bank, "PKR", "USD")
    receipt(world.firm, "HB-1", date(2025, 10, 28), HABB_RECEIPT, bank="HABB", client_country="GB")
    return world


def file(world, day=date(2025, 11, 7)):
    with booked_on(day):
        return services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)


def decide(review, decision, user, comment="", day=date(2025, 11, 8)):
    with booked_on(day):
        return services.review_decide(review=review, decision=decision, comment=comment, actor=user)


def slice_of(summary, world, bank) -> SummaryReview:
    return SummaryReview.objects.get(summary=summary, bank=bank)


# --- receipts at several banks ----------------------------------------------------------------


def test_a_receipt_names_its_bank_when_the_currency_is_held_at_two(world):
    open_at(world.firm, world.other_bank, "PKR", "USD")
    entries = Account.objects.count()
    with pytest.raises(InvalidInput) as caught:
        receipt(world.firm, "AMBIG", date(2025, 10, 28), "100.00")
    assert caught.value.code == "validation_error"
    assert "bank" in caught.value.details
    assert Account.objects.count() == entries
    assert account(world.firm, world.other_bank, "USD").balance == Decimal("0.00")

    r = receipt(
        world.firm, "AT-HABB", date(2025, 10, 28), "100.00", bank="HABB", retain=Decimal("50.00")
    )
    assert r.esfca == account(world.firm, world.other_bank, "USD")
    # The PKR side at the same bank, not at the first opened PKR account.
    pkr = account(world.firm, world.other_bank, "PKR")
    pkr.refresh_from_db()
    assert pkr.balance == r.pkr_credited > 0
    # EUR is held at one bank only: no bank needed.
    receipt(world.firm, "EUR-1", date(2025, 10, 28), "100.00", "EUR")


def test_no_pkr_account_at_the_receipt_bank_is_no_account(world):
    open_at(world.firm, world.other_bank, "USD")  # no PKR account at HABB
    with pytest.raises(NoAccount):
        receipt(world.firm, "NO-PKR", date(2025, 10, 28), "100.00", bank="HABB")
    assert account(world.firm, world.other_bank, "USD").balance == Decimal("0.00")


# --- the slice ------------------------------------------------------------------------------


def test_the_slice_holds_the_bank_accounts_and_their_movements_only(two_banks):
    world = two_banks
    habb = {c["currency"]: c for c in summary_compute(
        firm=world.firm, month=OCTOBER, banks=bank_slice(world.other_bank)
    )["currencies"]}  # fmt: skip
    assert set(habb) == {"USD"}
    assert (habb["USD"]["receipts_count"], habb["USD"]["receipts"]) == (1, HABB_RECEIPT)
    assert habb["USD"]["allocations_total"] == "0.00"
    assert habb["USD"]["closing"] == habb["USD"]["ledger_closing"] == habb["USD"]["retained"]
    scbl = {c["currency"]: c for c in summary_compute(
        firm=world.firm, month=OCTOBER, banks=bank_slice(world.bank)
    )["currencies"]}  # fmt: skip
    assert scbl["USD"]["closing"] == "12220.82"  # the worked month, untouched by HABB
    assert scbl["USD"]["receipts_count"] == 2
    whole = {c["currency"]: c for c in summary_compute(firm=world.firm, month=OCTOBER)[
        "currencies"
    ]}  # fmt: skip
    assert whole["USD"]["receipts_count"] == 3


def test_firm_slice_for_each_role(two_banks):
    world = two_banks
    assert firm_slice_for(world.officer, world.firm) == WHOLE_FIRM
    assert firm_slice_for(world.viewer, world.firm) == WHOLE_FIRM
    assert firm_slice_for(world.reviewer, world.firm) == bank_slice(world.bank)
    assert firm_slice_for(world.other_reviewer, world.firm) == bank_slice(world.other_bank)


# --- one review per bank per revision ---------------------------------------------------------


def test_filing_opens_one_review_per_bank_with_its_slice_frozen(two_banks):
    world = two_banks
    summary = file(world)
    reviews = {r.bank.code: r for r in summary.reviews.select_related("bank")}
    assert set(reviews) == {"SCBL", "HABB"}
    assert all(r.status == "filed" for r in reviews.values())
    habb = {c["currency"]: c for c in reviews["HABB"].snapshot["currencies"]}
    assert set(habb) == {"USD"} and habb["USD"]["receipts"] == HABB_RECEIPT
    assert reviews["HABB"].snapshot["banks"] == ["HABB"]
    assert {c["currency"]: c for c in reviews["SCBL"].snapshot["currencies"]}["USD"][
        "closing"
    ] == "12220.82"
    assert summary.snapshot["banks"] == ["HABB", "SCBL"]
    assert AuditEvent.objects.get(action="summary_filed").details["banks"] == ["HABB", "SCBL"]


def test_accepted_when_every_bank_accepted(two_banks):
    world = two_banks
    summary = file(world)
    first = decide(slice_of(summary, world, world.bank), "accepted", world.reviewer)
    assert (first.status, first.summary.status) == ("accepted", "filed")
    second = decide(slice_of(summary, world, world.other_bank), "accepted", world.other_reviewer)
    assert (second.status, second.summary.status) == ("accepted", "accepted")
    assert list(
        SummaryEvent.objects.filter(summary=summary)
        .order_by("id")
        .values_list("action", "review__bank__code")
    ) == [("filed", None), ("accepted", "SCBL"), ("accepted", "HABB")]


def test_one_return_returns_the_summary_and_closes_the_other_slices(
    two_banks, mailoutbox, django_capture_on_commit_callbacks
):
    world = two_banks
    summary = file(world)
    with django_capture_on_commit_callbacks(execute=True):
        returned = decide(
            slice_of(summary, world, world.other_bank),
            "returned",
            world.other_reviewer,
            "Client of HB-1 unknown to us.",
        )
    assert (returned.status, returned.summary.status) == ("returned", "returned")
    scbl = slice_of(summary, world, world.bank)
    assert scbl.status == "closed"
    with pytest.raises(InvalidState) as caught:
        decide(scbl, "accepted", world.reviewer)
    assert caught.value.code == "invalid_state"
    summary.refresh_from_db()
    assert (summary.status, summary.comment) == ("returned", "Client of HB-1 unknown to us.")
    # Nothing waits unseen: the firm's finance officer is emailed at once.
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [world.officer.email]
    assert "returned" in mail.subject and "Client of HB-1 unknown to us." in mail.body


def test_a_new_revision_is_reviewed_again_by_every_bank(two_banks):
    world = two_banks
    first = file(world)
    decide(slice_of(first, world, world.bank), "accepted", world.reviewer)
    decide(slice_of(first, world, world.other_bank), "returned", world.other_reviewer, "Fix.")
    second = file(world, day=date(2025, 11, 9))
    assert (second.revision, second.status) == (2, "filed")
    assert sorted(second.reviews.values_list("status", flat=True)) == ["filed", "filed"]
    # Revision 1's slices keep their decisions.
    assert sorted(first.reviews.values_list("status", flat=True)) == ["accepted", "returned"]


def test_refile_a_changed_month_without_waiting_for_a_return(two_banks):
    world = two_banks
    first = file(world)
    with pytest.raises(InvalidState):  # unchanged since filing
        file(world, day=date(2025, 11, 8))
    receipt(world.firm, "LATE", date(2025, 10, 28), "300.00", bank="SCBL",
            booked=date(2025, 11, 8))  # fmt: skip
    second = file(world, day=date(2025, 11, 9))
    assert (second.revision, second.status) == (2, "filed")
    assert set(first.reviews.values_list("status", flat=True)) == {"closed"}
    with pytest.raises(InvalidState):
        decide(slice_of(first, world, world.bank), "accepted", world.reviewer)
    # The month shows what changed since the last filed revision, figure by figure.
    receipt(world.firm, "LATER", date(2025, 10, 28), "200.00", bank="HABB",
            booked=date(2025, 11, 10))  # fmt: skip
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    changed = {(c["currency"], c["figure"]): c for c in detail["changes"]}
    assert changed[("USD", "receipts_count")]["before"] == "4"
    assert changed[("USD", "receipts_count")]["after"] == "5"
    # SCBL's slice did not change: its reviewer sees no change, HABB's does.
    scbl = summary_detail(firm=world.firm, month=OCTOBER, banks=bank_slice(world.bank))
    assert scbl["changes"] == []
    habb = summary_detail(firm=world.firm, month=OCTOBER, banks=bank_slice(world.other_bank))
    assert {c["figure"] for c in habb["changes"]} >= {"receipts_count", "receipts"}


def test_a_reversal_after_filing_flags_the_slice_of_its_own_bank_only(two_banks):
    """CONV-1 (SCBL) corrected at another rate after filing: no figure moves, SCBL's slice
    and the whole month are flagged changed, HABB's slice is not."""
    world = two_banks
    file(world)
    conversion = Conversion.objects.get(firm=world.firm, reference="CONV-1")
    with booked_on(date(2025, 11, 9)):
        money.movement_correct(
            firm=world.firm, actor=None, kind="conversion", movement_id=conversion.pk,
            reference="REV-CONV-1", reason="rate typed wrong",
            corrected={"reference": "CONV-1B", "value_date": date(2025, 10, 22),
                       "amount": Decimal("500.00"), "currency": "USD",
                       "rate": Decimal("281.0000")},
        )  # fmt: skip

    def codes(flags):
        return [f["code"] for f in flags if f["rule"] == 8]

    whole = summary_detail(firm=world.firm, month=OCTOBER)
    scbl = summary_detail(firm=world.firm, month=OCTOBER, banks=bank_slice(world.bank))
    habb = summary_detail(firm=world.firm, month=OCTOBER, banks=bank_slice(world.other_bank))
    assert whole["changes"] == scbl["changes"] == habb["changes"] == []
    assert codes(whole["flags"]) == codes(scbl["flags"]) == ["changed_after_filing"]
    assert codes(habb["flags"]) == []
    (a_row,) = api(world.reviewer).get("/api/v1/reviews/").json()["results"]
    (b_row,) = api(world.other_reviewer).get("/api/v1/reviews/").json()["results"]
    assert (codes(a_row["flags"]), codes(b_row["flags"])) == (["changed_after_filing"], [])


def test_diff_and_flag_comparison_are_plain():
    before = [{"currency": "USD", "closing": "1.00", "allocations": {"a": "1.00"}}]
    after = [{"currency": "USD", "closing": "2.00", "allocations": {"a": "1.00"}}]
    assert figures_diff(before, after) == [
        {"currency": "USD", "figure": "closing", "before": "1.00", "after": "2.00"}
    ]
    old = {"code": "x", "object": "receipt:A"}
    kept = {"code": "y", "object": "receipt:B"}
    new = {"code": "z", "object": "receipt:C"}
    rows = flags_compared([old, kept], [kept, new])
    assert [(r["flag"]["code"], r["state"]) for r in rows] == [
        ("y", "open"),
        ("z", "new"),
        ("x", "resolved"),
    ]


# --- what a reviewer of the other bank reads: JSON and documents -----------------------------


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


SCBL_SECRETS = ("OCT-2", "20000.00", "12220.82", "SCBL", "AWS-1")


def test_a_reviewer_of_one_bank_sees_nothing_of_the_other(two_banks):
    world = two_banks
    file(world)
    firm = world.firm.pk
    b = api(world.other_reviewer)
    summary = b.get(f"/api/v1/firms/{firm}/summaries/2025-10/").json()
    assert [c["currency"] for c in summary["currencies"]] == ["USD"]
    assert summary["currencies"][0]["receipts"] == HABB_RECEIPT
    assert summary["banks"] == ["HABB"]
    # Which banks review the summary, never their figures (nor their comments).
    assert {r["bank"]: r["id"] is not None for r in summary["reviews"]} == {
        "HABB": True,
        "SCBL": False,
    }
    text = str({k: v for k, v in summary.items() if k != "reviews"})
    for secret in SCBL_SECRETS:
        assert secret not in text, secret

    receipts = b.get(f"/api/v1/firms/{firm}/receipts/").json()
    assert [r["reference"] for r in receipts["results"]] == ["HB-1"]
    assert b.get(f"/api/v1/firms/{firm}/allocations/").json()["count"] == 0
    assert b.get(f"/api/v1/firms/{firm}/conversions/").json()["count"] == 0
    assert b.get(f"/api/v1/firms/{firm}/transfers/").json()["count"] == 0
    balances = b.get(f"/api/v1/firms/{firm}/balances/").json()["accounts"]
    assert {a["bank"] for a in balances} == {"HABB"}
    accounts = b.get(f"/api/v1/firms/{firm}/accounts/").json()["results"]
    assert {a["bank"] for a in accounts} == {"HABB"}
    # The firm's own people still see all of it.
    whole = api(world.officer).get(f"/api/v1/firms/{firm}/balances/").json()["accounts"]
    assert {a["bank"] for a in whole} == {"HABB", "SCBL"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_downloads_of_the_other_bank_reviewer_hold_its_slice_only(two_banks, fmt):
    world = two_banks
    file(world)
    url = f"/api/v1/firms/{world.firm.pk}/summaries/2025-10/download/?format={fmt}"
    content = api(world.other_reviewer).get(url).content
    if fmt == "csv":
        text = "\n".join(",".join(row) for row in csv.reader(io.StringIO(content.decode())))
    elif fmt == "xlsx":
        book = load_workbook(io.BytesIO(content))
        text = "\n".join(
            " ".join(str(v) for v in row if v is not None)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    else:
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
        ).stdout.decode()
    assert "1234.56" in text.replace(",", "") or "1,234.56" in text
    for secret in ("OCT-2", "12220.82", "12,220.82", "20000.00", "20,000.00", "SCBL"):
        assert secret not in text, secret


def test_the_review_queue_and_decisions_are_per_bank(two_banks):
    world = two_banks
    file(world)
    a_rows = api(world.reviewer).get("/api/v1/reviews/").json()["results"]
    b_rows = api(world.other_reviewer).get("/api/v1/reviews/").json()["results"]
    assert [(r["bank"], r["status"]) for r in a_rows] == [("SCBL", "filed")]
    assert [(r["bank"], r["status"]) for r in b_rows] == [("HABB", "filed")]
    assert {"id", "firm", "month", "bank", "status", "flags"} <= set(b_rows[0])
    a_url = f"/api/v1/reviews/{a_rows[0]['id']}/decision/"
    b_url = f"/api/v1/reviews/{b_rows[0]['id']}/decision/"
    # Another bank's slice is not found for a reviewer; a firm user may not decide.
    denied = api(world.other_reviewer).post(a_url, {"decision": "accepted"}, format="json")
    assert denied.status_code == 404
    assert (
        api(world.officer).post(a_url, {"decision": "accepted"}, format="json").status_code == 403
    )
    ok = api(world.reviewer).post(a_url, {"decision": "accepted"}, format="json")
    assert ok.status_code == 200
    assert (ok.json()["status"], ok.json()["summary_status"]) == ("accepted", "filed")
    back = api(world.other_reviewer).post(
        b_url, {"decision": "returned", "comment": "Missing invoice."}, format="json"
    )
    assert (back.json()["status"], back.json()["summary_status"]) == ("returned", "returned")
    again = api(world.other_reviewer).post(b_url, {"decision": "accepted"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    summary = api(world.officer).get(f"/api/v1/firms/{world.firm.pk}/summaries/2025-10/").json()
    assert summary["status"] == "returned"
    assert {r["bank"]: (r["status"], r["comment"]) for r in summary["reviews"]} == {
        "SCBL": ("accepted", ""),
        "HABB": ("returned", "Missing invoice."),
    }
    assert MonthlySummary.objects.get().status == "returned"


# --- the reviewer's page ----------------------------------------------------------------------


def test_the_reviewer_page_confirms_open_flags_and_marks_new_ones(two_banks, client):
    from django.urls import reverse

    world = two_banks
    receipt(world.firm, "HB-NOCODE", date(2025, 10, 28), "100.00", bank="HABB", purpose_code="")
    summary = file(world)
    review = slice_of(summary, world, world.other_bank)
    receipt(world.firm, "HB-LATE", date(2025, 10, 28), "50.00", bank="HABB", purpose_code="",
            booked=date(2025, 11, 8))  # fmt: skip
    log_in(client, world.other_reviewer)
    url = reverse("review_summary", kwargs={"pk": review.pk})
    page = client.get(url)
    assert page.status_code == 200
    states = {(r["flag"]["object"], r["state"]) for r in page.context["flag_rows"]}
    assert ("receipt:HB-NOCODE", "open") in states
    assert ("receipt:HB-LATE", "new") in states
    text = page.content.decode()
    assert "OCT-2" not in text and "12,220.82" not in text  # SCBL's slice stays out
    assert 'value="" selected' in text  # no default decision
    refused = client.post(url, {"decision": "accepted"})
    assert refused.status_code == 422
    assert "confirm" in refused.content.decode()
    review.refresh_from_db()
    assert review.status == "filed"
    accepted = client.post(url, {"decision": "accepted", "confirm_flags": "on"})
    assert accepted.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.summary.status) == ("accepted", "filed")


def test_the_migration_gives_summaries_filed_before_one_review_per_bank(two_banks):
    import importlib

    from django.apps import apps

    world = two_banks
    summary = file(world)
    decide(slice_of(summary, world, world.bank), "returned", world.reviewer, "Fix it.")
    SummaryEvent.objects.filter(summary=summary).update(review=None)  # as before the migration
    SummaryReview.objects.filter(summary=summary).delete()
    migration = importlib.import_module("esfca.migrations.0008_summary_reviews")
    migration.reviews_for_filed_summaries(apps, None)
    rows = {r.bank.code: r for r in SummaryReview.objects.filter(summary=summary)}
    assert set(rows) == {"SCBL", "HABB"}
    assert {r.status for r in rows.values()} == {"returned"}
    assert rows["SCBL"].comment == "Fix it."
    assert rows["SCBL"].snapshot == {}  # two banks: no slice was frozen then


def test_a_round_trip_across_banks_names_no_receipt_of_the_other_bank(two_banks):
    """A payment from HABB within days of a receipt credited at SCBL is flagged (§6.6) in
    HABB's slice, without the SCBL receipt's reference or amount; SCBL's slice does not
    show the HABB payment."""
    from tests.esfca.summaries.conftest import allocation

    world = two_banks
    receipt(world.firm, "RT-A", date(2025, 10, 28), "1000.00", bank="SCBL", client_country="US")
    allocation(world.firm, "RT-PAY", date(2025, 10, 28), "950.00", "software_subscriptions",
               "US", bank="HABB")  # fmt: skip
    whole = summary_compute(firm=world.firm, month=OCTOBER)["flags"]
    assert any(f["code"] == "round_tripping" and "RT-A" in f["message"] for f in whole)
    habb = summary_compute(firm=world.firm, month=OCTOBER, banks=bank_slice(world.other_bank))
    [flag] = [f for f in habb["flags"] if f["code"] == "round_tripping"]
    assert flag["object"] == "allocation:RT-PAY"
    assert "RT-A" not in flag["message"] and "1000.00" not in flag["message"]
    assert "a receipt credited at another bank" in flag["message"]
    scbl = summary_compute(firm=world.firm, month=OCTOBER, banks=bank_slice(world.bank))
    assert not [f for f in scbl["flags"] if "RT-PAY" in f["object"] + f["message"]]
