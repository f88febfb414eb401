"""Review bank by bank (rules.md §11) in a real browser: the firm banks at SCBL and HABB;
SCBL's reviewer accepts SCBL's slice, HABB's reviewer returns HABB's, and the summary's
status follows; the officer then sees the return on the dashboard."""

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from esfca.models import MonthlySummary, SummaryReview
from esfca.services import firm_account_open, receipt_record
from esfca.summaries.services import summary_file
from exporters.validators import iban_pk
from tests.e2e.test_officer_and_reviewer import log_in
from tests.esfca.views.world import make_world

pytestmark = pytest.mark.django_db(transaction=True)


def decide(page: Page, decision: str, comment: str = "") -> None:
    page.get_by_label("Decision").select_option(decision)
    if comment:
        page.get_by_label("Comment").fill(comment)
    confirm = page.get_by_label("I have read the open flags")
    if decision == "accepted" and confirm.count():
        # Open flags: accepting without confirming is refused, then confirmed.
        page.get_by_role("button", name="Record the decision").click()
        expect(page.locator("#field-confirm_flags .errorlist")).to_contain_text("confirm")
        page.get_by_label("Decision").select_option(decision)
        page.get_by_label("I have read the open flags").check()
    page.get_by_role("button", name="Record the decision").click()


def test_each_bank_decides_its_slice(page: Page, live_server, shoot):
    world = make_world(file_last_month=False)
    firm, habb = world.firm, world.foreign_bank
    for n, currency in enumerate(("PKR", "USD"), start=60):
        firm_account_open(firm=firm, bank=habb, currency=currency, iban=iban_pk("HABB", n))
    receipt_record(
        firm=firm, actor=None, reference="HB-E2E-1", value_date=world.last_month,
        amount=Decimal("777.00"), currency="USD", bank="HABB", client_name="Umbrella plc",
        client_country="GB", purpose_code="9184",
    )  # fmt: skip
    summary = summary_file(firm=firm, month=world.last_month, actor=world.officer)
    slices = {r.bank.code: r for r in SummaryReview.objects.filter(summary=summary)}
    assert set(slices) == {"SCBL", "HABB"}

    # SCBL's reviewer: the slice has no default decision; accepting leaves the summary filed.
    log_in(page, live_server, "reviewer")
    page.goto(f"{live_server.url}/review/summaries/{slices['SCBL'].pk}/")
    expect(page.get_by_label("Decision")).to_have_value("")
    expect(page.locator("body")).not_to_contain_text("HB-E2E-1")
    expect(page.locator("#reviews")).to_contain_text("HABB")
    decide(page, "accepted")
    expect(page.locator("#slice-status")).to_have_text("accepted")
    expect(page.locator("#summary-status")).to_have_text("filed")
    shoot("20-bank-a-accepted")
    page.get_by_role("button", name="Log out").click()

    # HABB's reviewer returns HABB's slice: the summary is returned.
    log_in(page, live_server, "foreign_reviewer")
    page.goto(f"{live_server.url}/review/summaries/{slices['HABB'].pk}/")
    expect(page.locator("#summary-status")).to_have_text("filed")
    expect(page.locator("body")).not_to_contain_text("INV-PREV-1")
    decide(page, "returned", "HB-E2E-1: client contract missing.")
    expect(page.locator("#slice-status")).to_have_text("returned")
    expect(page.locator("#summary-status")).to_have_text("returned")
    shoot("21-bank-b-returned")
    page.get_by_role("button", name="Log out").click()
    assert MonthlySummary.objects.get(pk=summary.pk).status == "returned"
    assert dict(SummaryReview.objects.values_list("bank__code", "status")) == {
        "SCBL": "accepted",
        "HABB": "returned",
    }

    # Nothing waits unseen: the officer's dashboard and month page say it was returned.
    log_in(page, live_server, "officer")
    expect(page.locator(".returned-banner")).to_contain_text("client contract missing")
    page.locator(".returned-banner").get_by_role("link").click()
    expect(page.locator("#returned-banner")).to_contain_text("client contract missing")
    expect(page.get_by_role("button", name="File again (new revision)")).to_be_visible()
    shoot("22-officer-sees-the-return")
