"""The officer corrects a conversion after a return and refiles (rules.md §9), in a real
browser: a conversion of last month booked at a rate of 0.0001 PKR per USD; the officer
files the month, the bank's reviewer returns it, the officer sees the return, corrects the
conversion from its page (both effects shown before confirming), files revision 2, and the
reviewer's queue shows revision 2 filed."""

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from esfca.models import Conversion, MonthlySummary, SummaryReview
from esfca.services import conversion_create
from ledger.selectors import account_balance
from ledger.verify import ledger_verify
from tests.e2e.test_officer_and_reviewer import log_in
from tests.e2e.test_review_by_bank import decide
from tests.esfca.views.world import make_world

pytestmark = pytest.mark.django_db(transaction=True)

RETURN_COMMENT = "CNV-PREV-1 was booked at 0.0001 PKR per USD; please correct and refile."


def correct_the_conversion(page: Page, shoot) -> None:
    """From the conversion's page: Correct, the form pre-filled, both effects, confirm."""
    expect(page.get_by_role("heading", name="Conversion to PKR CNV-PREV-1")).to_be_visible()
    expect(page.locator("#figures")).to_contain_text("PKR 0.10")
    page.get_by_role("link", name="Correct").click()
    expect(page.get_by_label("Amount to convert")).to_have_value("1000.00")
    expect(page.get_by_label("Reference", exact=True)).to_have_value("")
    page.get_by_label("Reference", exact=True).fill("CNV-PREV-1B")
    page.get_by_label("Bank's rate (PKR per unit)").fill("280.5000")
    page.get_by_label("Reference of the reversal").fill("REV-CNV-1")
    page.get_by_label("Reason").fill("The bank's rate was 280.5000, not 0.0001.")
    page.get_by_role("button", name="Show both effects").click()
    expect(page.locator("#effects")).to_contain_text("1. The reversal REV-CNV-1")
    expect(page.locator("#reversal-entries")).to_contain_text("0.10")
    expect(page.locator("#new-entries")).to_contain_text("280,500.00")
    shoot("30-conversion-correction-confirm")
    assert not Conversion.objects.filter(reference="CNV-PREV-1B").exists()
    page.get_by_role("button", name="Confirm the correction").click()
    expect(page.get_by_role("heading", name="Conversion to PKR CNV-PREV-1B")).to_be_visible()
    expect(page.locator("#figures")).to_contain_text("PKR 280,500.00")
    expect(page.locator("#timeline")).to_contain_text("Corrects CNV-PREV-1")


def test_officer_corrects_a_conversion_after_a_return_and_refiles(page: Page, live_server, shoot):
    world = make_world(file_last_month=False)
    firm, month = world.firm, f"{world.last_month:%Y-%m}"
    wrong, _created = conversion_create(
        firm=firm, actor=world.officer, reference="CNV-PREV-1", value_date=world.last_month,
        amount=Decimal("1000.00"), currency="USD", rate=Decimal("0.0001"),
    )  # fmt: skip
    pkr_before = account_balance(account_id=wrong.pkr_account_id)

    # The officer files the month: revision 1.
    log_in(page, live_server, "officer")
    page.goto(f"{live_server.url}/firms/{firm.pk}/months/{month}/")
    page.get_by_role("button", name="File this month").click()
    expect(page.locator("#summary-status")).to_have_text("filed")
    expect(page.locator(".subtitle").first).to_contain_text("revision 1")
    page.get_by_role("button", name="Log out").click()

    # The bank's reviewer returns it with a comment.
    log_in(page, live_server, "reviewer")
    page.locator("#queue").get_by_role("link", name=firm.name).click()
    decide(page, "returned", RETURN_COMMENT)
    expect(page.locator("#summary-status")).to_have_text("returned")
    page.get_by_role("button", name="Log out").click()

    # The officer sees the return on the dashboard, then on the month page.
    log_in(page, live_server, "officer")
    expect(page.locator(".returned-banner")).to_contain_text(RETURN_COMMENT)
    page.locator(".returned-banner").get_by_role("link").click()
    expect(page.locator("#returned-banner")).to_contain_text(RETURN_COMMENT)

    # The month's flag on the conversion's rate links to its page; corrected from there.
    expect(page.locator("#flags")).to_contain_text("below SBP's buying rate")
    page.locator("#flags").get_by_role("link", name="CNV-PREV-1").click()
    expect(page).to_have_url(f"{live_server.url}/firms/{firm.pk}/conversions/{wrong.pk}/")
    correct_the_conversion(page, shoot)

    # Back on its month: the rate's flag is gone; the correction, recorded after filing,
    # flags the month changed though no figure moved (§6.8, rules.md §9); filed again as
    # revision 2, which leaves no flag.
    page.get_by_role("link", name="its month").click()
    expect(page.locator("#flags li")).to_have_count(1)
    expect(page.locator("#flags")).to_contain_text("reversed on")
    page.get_by_role("button", name="File again (new revision)").click()
    expect(page.locator("#summary-status")).to_have_text("filed")
    expect(page.locator(".subtitle").first).to_contain_text("revision 2")
    expect(page.locator("#flags")).to_have_count(0)
    expect(page.locator("#returned-banner")).to_have_count(0)
    shoot("31-month-refiled")
    page.get_by_role("button", name="Log out").click()

    # The reviewer's queue shows revision 2, filed.
    log_in(page, live_server, "reviewer")
    row = page.locator("#queue tbody tr", has_text=firm.name)
    expect(row).to_have_count(1)
    expect(row.locator("td.num")).to_have_text("2")
    expect(row).to_contain_text("filed")
    shoot("32-queue-revision-2")

    summary = MonthlySummary.objects.filter(firm=firm, month=world.last_month).first()
    assert (summary.revision, summary.status) == (2, "filed")  # the latest revision first
    assert SummaryReview.objects.get(summary=summary, bank=world.bank).status == "filed"
    new = Conversion.objects.get(reference="CNV-PREV-1B")
    assert (new.corrects, new.pkr_amount) == (wrong, Decimal("280500.00"))
    assert Conversion.objects.get(reference="REV-CNV-1").reverses == wrong
    # The PKR account: the wrong 0.10 taken back, the corrected 280,500.00 credited.
    pkr_after = account_balance(account_id=new.pkr_account_id)
    assert pkr_after == pkr_before - Decimal("0.10") + Decimal("280500.00")
    report = ledger_verify()
    assert report.ok, report.problems
