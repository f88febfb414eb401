"""The officer's month and the reviewer's queue, in a real browser (Chromium)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from esfca.models import Allocation, ImportJob, MonthlySummary, Receipt
from esfca.second_factor import second_factor_expected
from esfca.services import receipt_record
from esfca.summaries.services import summary_file
from exporters.models import User
from tests.esfca.second_factor import totp_code, totp_device
from tests.esfca.views.world import PASSWORD, make_world, open_firm_with_accounts

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, live_server, username: str) -> None:
    """The login page, then for a reviewer or an admin the second factor's page with the code
    their authenticator app would show (computed from the device's key)."""
    user = User.objects.get(username=username)
    device = totp_device(user) if second_factor_expected(user) else None
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if device is not None:
        expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
        page.get_by_label("Code").fill(totp_code(device))
        page.get_by_role("button", name="Verify").click()


def test_officer_month(page: Page, live_server, shoot, artifacts, tmp_path):
    world = make_world(file_last_month=False)
    firm = world.firm
    log_in(page, live_server, "officer")
    expect(page.get_by_role("heading", name=firm.name)).to_be_visible()
    expect(page.locator("#h-headroom")).to_contain_text("Retention headroom")
    shoot("01-officer-dashboard")

    # A receipt, with the live preview before saving.
    page.get_by_role("link", name="Record a receipt").first.click()
    page.get_by_label("Reference").fill("INV-E2E-1")
    page.get_by_label("Value date").fill(world.today.isoformat())
    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Amount received").fill("3000.00")
    page.get_by_label("Client", exact=True).fill("Umbrella Corp")
    page.get_by_label("Client country (ISO code)").fill("US")
    expect(page.locator("#preview-figures")).to_contain_text("Allowed retention")
    expect(page.locator("#preview-figures")).to_contain_text("USD 1,500.00")
    shoot("02-receipt-preview")
    page.get_by_role("button", name="Record the receipt").click()
    expect(page.locator(".messages")).to_contain_text("Receipt INV-E2E-1 recorded")
    assert Receipt.objects.get(firm=firm, reference="INV-E2E-1").retained == Decimal("1500.00")

    # A refused one: asking to retain more than the headroom left.
    page.goto(f"{live_server.url}/firms/{firm.pk}/receipts/new/")
    page.get_by_label("Reference").fill("INV-E2E-2")
    page.get_by_label("Value date").fill(world.today.isoformat())
    page.get_by_label("Amount received").fill("1000.00")
    page.get_by_label("This amount:").check()
    page.get_by_label("Amount to retain").fill("1000.00")
    page.get_by_label("Client", exact=True).fill("Umbrella Corp")
    page.get_by_label("Client country (ISO code)").fill("US")
    expect(page.locator("#preview-refusal")).to_contain_text(
        "At most 500.00 USD of this receipt may be retained."
    )
    page.get_by_role("button", name="Record the receipt").click()
    refusal = page.locator(".errorlist.nonfield")
    expect(refusal).to_contain_text("At most 500.00 USD of this receipt may be retained.")
    shoot("03-receipt-refused")
    assert not Receipt.objects.filter(reference="INV-E2E-2").exists()

    # Import a file: template, dry run report, then the import.
    page.get_by_role("link", name="Import", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV template").click()
    header = download.value.path().read_text().strip()
    day = world.today.isoformat()
    upload = tmp_path / "receipts.csv"
    upload.write_text(
        f"{header}\n"
        f"IMP-1,{day},200.00,USD,,,Hooli,US,9184\n"
        f"IMP-2,{day},300.00,USD,0,,Pied Piper,US,9184\n"
        f"IMP-3,{day},100.00,USD,,,Nobody,XX,9184\n"
    )
    page.get_by_label("CSV or XLSX file").set_input_files(str(upload))
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#count-accepted")).to_have_text("2")
    expect(page.locator("#count-refused")).to_have_text("1")
    expect(page.locator("#import-report")).to_contain_text("'XX' is not an ISO 3166")
    shoot("04-import-dry-run")
    assert not Receipt.objects.filter(reference__startswith="IMP-").exists()
    page.get_by_role("button", name="Import 2 receipts").click()
    expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    expect(page.locator("#count-accepted")).to_have_text("2")
    shoot("05-import-done")
    assert Receipt.objects.filter(reference__startswith="IMP-").count() == 2
    assert ImportJob.objects.get().status == ImportJob.Status.DONE

    # Allocate, with the live balance and the category's rules.
    page.get_by_role("link", name="Allocate", exact=True).click()
    page.get_by_label("Reference", exact=True).fill("AWS-E2E-1")
    page.get_by_label("Value date").fill(world.today.isoformat())
    page.get_by_label("Purpose").select_option("overseas_equity")
    expect(page.locator("#alloc-context")).to_contain_text("Overseas equity is a capital payment")
    page.get_by_label("Purpose").select_option("cloud_infrastructure")
    expect(page.locator("#live-balance")).to_contain_text("USD")
    page.get_by_label("Amount", exact=True).fill("250.00")
    page.get_by_label("Payee", exact=True).fill("Amazon Web Services")
    page.get_by_label("Payee country (ISO code)").fill("US")
    shoot("06-allocate")
    page.get_by_role("button", name="Record the allocation").click()
    expect(page.locator(".messages")).to_contain_text("Allocation AWS-E2E-1 recorded")
    assert Allocation.objects.filter(reference="AWS-E2E-1").exists()

    # File last month and download its PDF.
    page.goto(f"{live_server.url}/firms/{firm.pk}/months/{world.last_month:%Y-%m}/")
    expect(page.locator("#summary-status")).to_have_text("draft")
    page.get_by_role("button", name="File this month").click()
    expect(page.locator("#summary-status")).to_have_text("filed")
    expect(page.locator("#history")).to_contain_text("Filed")
    shoot("07-month-filed")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = artifacts.parent / download.value.suggested_filename
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert MonthlySummary.objects.get(firm=firm).status == MonthlySummary.Status.FILED

    # The same dashboard in Urdu, right to left.
    page.goto(f"{live_server.url}/")
    page.get_by_label("Language").select_option("ur")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    shoot("08-dashboard-urdu")


def test_reviewer_queue(page: Page, live_server, shoot):
    world = make_world()
    other = open_firm_with_accounts("Multan Tech", world.bank, 3, currencies=("USD",))
    receipt_record(
        firm=other, actor=None, reference="M-1", value_date=world.last_month,
        amount=Decimal("1200.00"), currency="USD", client_name="Wayne Enterprises",
        client_country="US",
    )  # fmt: skip
    summary_file(firm=other, month=world.last_month, actor=None)
    log_in(page, live_server, "reviewer")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    queue = page.locator("#queue")
    expect(queue).to_contain_text(world.firm.name)
    expect(queue).to_contain_text("Multan Tech")
    expect(queue).not_to_contain_text(world.foreign_firm.name)
    shoot("10-review-queue")

    queue.get_by_role("link", name=world.firm.name).click()
    expect(page.locator("#summary-status")).to_have_text("filed")
    shoot("11-review-summary")
    page.get_by_label("Decision").select_option("accepted")
    confirm = page.get_by_label("I have read the open flags")
    if confirm.count():  # accepting with open flags asks for a confirmation
        confirm.check()
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#summary-status")).to_have_text("accepted")
    expect(page.locator("#history")).to_contain_text("Accepted")

    page.get_by_role("link", name="Review queue").click()
    page.locator("#queue").get_by_role("link", name="Multan Tech").click()
    page.get_by_label("Decision").select_option("returned")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator(".errorlist")).to_contain_text("A return needs a comment.")
    page.get_by_label("Comment").fill("Purpose code missing on M-1; please correct and refile.")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#summary-status")).to_have_text("returned")
    shoot("12-review-returned")
    statuses = dict(MonthlySummary.objects.values_list("firm__name", "status"))
    assert statuses == {world.firm.name: "accepted", "Multan Tech": "returned"}

    page.get_by_role("link", name="Portfolio").click()
    expect(page.get_by_role("heading", name=re.compile("Portfolio of"))).to_be_visible()
    expect(page.locator("table")).to_contain_text("Multan Tech")
    shoot("13-portfolio")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert "Multan Tech" in download.value.path().read_text()


def test_viewer_opens_a_receipt_from_the_list(page: Page, live_server, shoot):
    world = make_world()
    log_in(page, live_server, "viewer")
    page.get_by_role("link", name="Receipts", exact=True).click()
    page.get_by_role("link", name="INV-NOW-1").click()
    expect(page.get_by_role("heading", name="Receipt INV-NOW-1")).to_be_visible()
    expect(page.locator("#figures")).to_contain_text("USD 10,000.00")
    expect(page.locator("#rules")).to_contain_text("the buying rate of the value date")
    expect(page.locator("#entries tbody tr")).to_have_count(
        Receipt.objects.get(reference="INV-NOW-1").transaction.entries.count()
    )
    expect(page.locator("#timeline")).to_contain_text("Recorded by officer")
    shoot("09-receipt-page")
    page.get_by_role("link", name="its month").click()
    expect(page.locator("#month-pick")).to_contain_text(f"{world.last_month:%b %Y} · filed")


def test_officer_corrects_an_allocation_after_seeing_both_effects(page: Page, live_server, shoot):
    make_world(file_last_month=False)
    log_in(page, live_server, "officer")
    page.get_by_role("link", name="Allocations", exact=True).first.click()
    page.get_by_role("link", name="AWS-PREV-1").click()
    page.get_by_role("link", name="Correct").click()
    expect(page.get_by_label("Amount", exact=True)).to_have_value("500.00")
    page.get_by_label("Reference", exact=True).fill("AWS-PREV-1B")
    page.get_by_label("Amount", exact=True).fill("450.00")
    page.get_by_label("Reference of the reversal").fill("REV-AWS")
    page.get_by_label("Reason").fill("The invoice was 450.00.")
    page.get_by_role("button", name="Show both effects").click()
    expect(page.locator("#reversal-entries")).to_contain_text("500.00")
    expect(page.locator("#new-entries")).to_contain_text("450.00")
    shoot("14-correction-confirm")
    assert not Allocation.objects.filter(reference="AWS-PREV-1B").exists()
    page.get_by_role("button", name="Confirm the correction").click()
    expect(page.get_by_role("heading", name="Allocation AWS-PREV-1B")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Corrects AWS-PREV-1")
    assert Allocation.objects.get(reference="AWS-PREV-1B").corrects.reference == "AWS-PREV-1"
