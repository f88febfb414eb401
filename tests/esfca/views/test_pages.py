"""What the pages do: the live preview, recording and refusing, imports, lists, formats."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from esfca import imports
from esfca.models import Allocation, ImportJob, MonthlySummary, Receipt
from esfca.templatetags.esfca_ui import day, money
from ledger.models import Account, FxRate
from tests.esfca.conftest import snapshot

pytestmark = pytest.mark.django_db


def url(name, world, **kwargs):
    return reverse(name, kwargs={"firm_id": world.firm.pk, **kwargs})


def receipt_post(world, **overrides):
    data = {
        "reference": "INV-T-1",
        "value_date": world.today.isoformat(),
        "currency": "USD",
        "amount": "3000.00",
        "retain_mode": "max",
        "client_name": "Umbrella Corp",
        "client_country": "us",
        "purpose_code": "9184",
    }
    return {**data, **overrides}


def test_amounts_and_dates_are_formatted_for_pakistan():
    assert money(Decimal("2792965")) == "2,792,965.00"
    assert money(Decimal("-1234.5")) == "-1,234.50"
    assert money(None) == "—"
    from datetime import date

    assert day(date(2025, 11, 4)) == "04 Nov 2025"


def test_preview_shows_the_split_before_saving_and_saves_nothing(world, client_for):
    officer = client_for("officer")  # signed in (an audited event) before the snapshot
    before = snapshot()
    response = officer.post(url("receipt_preview", world), receipt_post(world))
    assert response.status_code == 200
    html = response.content.decode()
    # The month already has USD 10,000 with 5,000 retained: 13,000 × 50% − 5,000 = 1,500.
    assert "USD 1,500.00" in html
    # Tax 0.25% of 3,000 × 280 = 2,100.00; PKR credited 1,500 × 280 − 2,100 = 417,900.00.
    assert "PKR 2,100.00" in html and "PKR 417,900.00" in html
    assert snapshot() == before


def test_preview_explains_a_refusal_in_plain_words(world, client_for):
    response = client_for("officer").post(
        url("receipt_preview", world),
        receipt_post(world, retain_mode="amount", retain_amount="2000.00"),
    )
    html = response.content.decode()
    assert "This receipt would be refused." in html
    assert "At most 1500.00 USD of this receipt may be retained." in html
    response = client_for("officer").post(
        url("receipt_preview", world), receipt_post(world, currency="GBP")
    )
    assert "Lahore Software has no GBP ESFCA." in response.content.decode()


def test_recording_a_receipt_and_a_refusal(world, client_for):
    client = client_for("officer")
    response = client.post(url("receipt_new", world), receipt_post(world))
    assert response.status_code == 302
    receipt = Receipt.objects.get(reference="INV-T-1")
    assert (receipt.retained, receipt.pkr_credited) == (Decimal("1500.00"), Decimal("417900.00"))
    assert receipt.client_country == "US"

    before = snapshot()
    response = client.post(
        url("receipt_new", world),
        receipt_post(world, reference="INV-T-2", retain_mode="amount", retain_amount="2000.00"),
    )
    assert response.status_code == 422
    assert "At most 1500.00 USD of this receipt may be retained." in response.content.decode()
    response = client.post(
        url("receipt_new", world), receipt_post(world, reference="INV-T-3", client_country="XX")
    )
    assert "is not an ISO 3166 alpha-2 country code" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("1e30", "Write the number out in full, without an exponent."),
        ("1e3", "Write the number out in full, without an exponent."),
        ("1234567890123456.00", "Use at most 15 digits."),
        ("-3000.00", "The amount must be greater than zero."),
        ("3000.005", "Use at most two decimal places."),
    ],
)
def test_the_preview_refuses_what_the_save_refuses_and_never_errs(world, client_for, typed, said):
    officer = client_for("officer")
    response = officer.post(url("receipt_preview", world), receipt_post(world, amount=typed))
    assert response.status_code == 200
    assert "This receipt would be refused." in response.content.decode()
    assert said in response.content.decode()
    saved = officer.post(url("receipt_new", world), receipt_post(world, amount=typed))
    assert saved.status_code == 422 and said in saved.content.decode()
    assert not Receipt.objects.filter(reference="INV-T-1").exists()


def test_amounts_typed_with_thousands_separators_are_read_as_shown(world, client_for):
    officer = client_for("officer")
    response = officer.post(url("receipt_preview", world), receipt_post(world, amount="3,000.00"))
    assert "USD 1,500.00" in response.content.decode()  # as "3000.00" in the test above
    response = officer.post(
        url("receipt_new", world),
        receipt_post(world, amount="3,000.00", retain_mode="amount", retain_amount="1,000.50"),
    )
    assert response.status_code == 302
    receipt = Receipt.objects.get(reference="INV-T-1")
    assert (receipt.amount.amount, receipt.retained) == (Decimal("3000.00"), Decimal("1000.50"))


def test_a_loss_on_the_dashboard_reads_as_a_loss_without_a_minus(world, client_for):
    # Today's USD rate well below what the retained dollars cost: an unrealised loss.
    FxRate.objects.filter(currency="USD", date=world.today).update(
        buy=Decimal("200.0000"), sell=Decimal("201.0000")
    )
    page = client_for("officer").get(url("firm_dashboard", world)).content.decode()
    assert ">loss</span> PKR " in page
    assert "PKR -" not in page


def test_this_amount_left_empty_is_refused_not_read_as_the_maximum(world, client_for):
    client = client_for("officer")
    before = snapshot()
    response = client.post(
        url("receipt_new", world), receipt_post(world, retain_mode="amount", retain_amount="")
    )
    assert response.status_code == 422
    assert "Enter the amount to retain, or choose the allowed maximum." in (
        response.content.decode()
    )
    assert not Receipt.objects.filter(reference="INV-T-1").exists()
    assert snapshot() == before


def test_allocation_page_shows_balance_and_rules_and_refuses_pakistani_payees(world, client_for):
    client = client_for("officer")
    context = client.get(
        url("allocation_context", world), {"currency": "USD", "category": "overseas_equity"}
    ).content.decode()
    assert "USD 8,490.00" in context and "Investments in IN need a prior SBP approval" in context
    data = {
        "reference": "PAY-1", "value_date": world.today.isoformat(), "currency": "USD",
        "category": "marketing_abroad", "amount": "100.00", "payee_name": "Karachi Ads",
        "payee_country": "PK",
    }  # fmt: skip
    response = client.post(url("allocation_new", world), data)
    assert response.status_code == 422
    assert "an ESFCA pays only payees abroad" in response.content.decode()
    response = client.post(url("allocation_new", world), {**data, "payee_country": "AE"})
    assert response.status_code == 302
    assert Allocation.objects.get(reference="PAY-1").balance_after == Decimal("8390.00")


def test_conversion_and_transfer(world, client_for):
    client = client_for("officer")
    today = world.today.isoformat()
    response = client.post(
        url("conversion_new", world),
        {"reference": "CV-1", "value_date": today, "currency": "USD", "amount": "100.00"},
    )
    assert response.status_code == 302
    usd = Account.objects.get(owner=world.firm, kind="esfca", currency="USD")
    eur = Account.objects.get(owner=world.firm, kind="esfca", currency="EUR")
    response = client.post(
        url("transfer_new", world),
        {"reference": "TR-1", "value_date": today, "from_account": usd.pk,
         "to_account": eur.pk, "amount": "300.00"},
    )  # fmt: skip
    assert response.status_code == 302
    usd.refresh_from_db()
    eur.refresh_from_db()
    assert (usd.balance, eur.balance) == (Decimal("8090.00"), Decimal("280.00"))


def test_lists_filter_and_export_plain_decimals(world, client_for):
    client = client_for("viewer")
    page = client.get(url("receipts", world), {"country": "DE"}).content.decode()
    assert "INV-NOW-1" in page and "INV-PREV-1" not in page and "10,000.00" in page
    month = f"{world.last_month:%Y-%m}"
    page = client.get(url("receipts", world), {"month": month}).content.decode()
    assert "INV-PREV-1" in page and "INV-NOW-1" not in page
    csv_text = b"".join(
        client.get(url("receipts_csv", world), {"client": "globex"}).streaming_content
    ).decode()
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("reference,value_date,currency,amount")
    assert lines[1].startswith(f"INV-NOW-1,{world.today.replace(day=1).isoformat()},USD,10000.00")
    assert len(lines) == 2
    allocations = b"".join(
        client.get(
            url("allocations_csv", world), {"category": "cloud_infrastructure"}
        ).streaming_content
    ).decode()
    assert "AWS-PREV-1" in allocations and ",500.00," in allocations


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_is_read_without_floats(world):
    from datetime import date

    data = _xlsx(
        [
            imports.COLUMNS,
            ["X-1", date(2025, 3, 14), 1234.1, "USD", None, None, "Acme", "US", "9184"],
        ]
    )
    [row] = imports.read_xlsx(data)
    assert row["value_date"] == "2025-03-14"
    assert row["amount"] == "1234.1"
    assert imports.row_kwargs(row)["amount"] == Decimal("1234.1")


def test_import_dry_run_then_import_is_idempotent(
    world, client_for, django_capture_on_commit_callbacks
):
    client = client_for("officer")
    template = client.get(url("import_template", world, fmt="xlsx"))
    assert load_workbook(io.BytesIO(template.content)).active["A1"].value == "reference"
    day_ = world.today.isoformat()
    body = (
        ",".join(imports.COLUMNS) + "\n"
        f"IMP-1,{day_},200.00,USD,,,Hooli,US,9184\n"
        f"IMP-2,{day_},300.005,USD,,,Hooli,US,9184\n"
        f"IMP-3,{day_},300.00,JPY,,,Hooli,US,9184\n"
    )
    upload = io.BytesIO(body.encode())
    upload.name = "receipts.csv"
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import_new", world), {"file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.status, job.accepted, job.refused) == ("checked", 1, 2)
    assert snapshot() == before  # the dry run kept nothing
    report = client.get(response["Location"]).content.decode()
    assert "Use at most two decimal places." in report
    assert "Use one of" in report

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import_run", world, job_id=job.pk))
    job.refresh_from_db()
    assert (job.status, job.accepted, job.processed) == ("done", 1, 3)
    assert Receipt.objects.filter(reference="IMP-1").count() == 1

    upload = io.BytesIO(body.encode())
    upload.name = "again.csv"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import_new", world), {"file": upload})
    again = ImportJob.objects.exclude(pk=job.pk).get()
    assert (again.accepted, again.replayed, again.refused) == (0, 1, 2)
    entries = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("import_run", world, job_id=again.pk))
    assert snapshot()[:3] == entries[:3]  # re-importing posts nothing


def test_an_unreadable_file_is_explained(world, client_for, django_capture_on_commit_callbacks):
    """The worker reads the file (the upload only keeps it): its refusal is the job's,
    shown on the job's page, and nothing of the file is kept."""
    upload = io.BytesIO(b"amount\n1\n")
    upload.name = "bad.csv"
    client = client_for("officer")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("import_new", world), {"file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.status, job.total, imports.job_file(job)) == ("failed", 0, b"")
    page = client.get(response["Location"]).content.decode()
    assert "missing: client_country, client_name, currency" in page

    upload = io.BytesIO(b"amount\n1\n")
    upload.name = "receipts.txt"  # the kind is checked at once, on the form
    response = client.post(url("import_new", world), {"file": upload})
    assert response.status_code == 422
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    assert ImportJob.objects.count() == 1


def test_month_page_files_and_downloads(world, client_for):
    summary = world.summary
    client = client_for("officer")
    month = f"{world.last_month:%Y-%m}"
    page = client.get(url("month", world, month=month)).content.decode()
    assert "Review history" in page and "Filed" in page
    response = client.post(url("month_file", world, month=month), follow=True)
    assert "already filed" in response.content.decode()
    pdf = client.get(url("month_download", world, month=month, fmt="pdf"))
    assert pdf.content.startswith(b"%PDF")
    assert MonthlySummary.objects.get(pk=summary.pk).status == "filed"


def test_reviewer_accepts_and_the_queue_shows_flags(world, client_for):
    client = client_for("reviewer")
    queue = client.get(reverse("review_queue")).content.decode()
    assert world.firm.name in queue and world.foreign_firm.name not in queue
    target = reverse("review_summary", kwargs={"pk": world.review.pk})
    response = client.post(target, {"decision": "returned", "comment": ""})
    assert response.status_code == 422
    assert "A return needs a comment." in response.content.decode()
    response = client.post(
        target, {"decision": "accepted", "comment": "Fine.", "confirm_flags": "on"}
    )
    assert response.status_code == 302
    assert MonthlySummary.objects.get(pk=world.summary.pk).status == "accepted"
    portfolio = client.get(reverse("portfolio"), {"month": f"{world.last_month:%Y-%m}"})
    assert world.firm.name in portfolio.content.decode()


def test_login_logout_and_password_reset(world, client):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = client.post(
        reverse("login"), {"username": "officer", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.post(reverse("logout")).status_code == 302
    client.post(reverse("password_reset"), {"email": "officer@example.com"})
    assert len(mail.outbox) == 1
    assert "/reset/" in mail.outbox[0].body


def test_urdu_is_right_to_left(world, client_for):
    client = client_for("officer")
    client.post(reverse("set_language"), {"language": "ur", "next": "/"})
    html = client.get(reverse("home")).content.decode()
    assert 'dir="rtl"' in html and 'lang="ur"' in html
    assert "ڈیش بورڈ" in html and "2,377,200.00" in html
    assert "North America" not in html and "شمالی امریکہ" in html  # regions translated too
    allocations = client.get(reverse("allocations", args=[world.firm.pk])).content.decode()
    assert "کلاؤڈ انفراسٹرکچر" in allocations  # and allocation categories


def test_receipt_page_names_the_bank_when_the_currency_is_held_at_two(world, client_for):
    """rules.md §11: the receipt form asks for the bank once USD is held at SCBL and HABB."""
    from esfca.services import firm_account_open
    from exporters.validators import iban_pk

    for n, currency in enumerate(("PKR", "USD"), start=80):
        firm_account_open(
            firm=world.firm, bank=world.foreign_bank, currency=currency, iban=iban_pk("HABB", n)
        )
    client = client_for("officer")
    assert "Bank credited" in client.get(url("receipt_new", world)).content.decode()
    refused = client.post(url("receipt_new", world), receipt_post(world, reference="TWO-1"))
    assert refused.status_code == 422
    assert "Name the bank" in refused.content.decode()
    assert not Receipt.objects.filter(reference="TWO-1").exists()
    done = client.post(
        url("receipt_new", world), receipt_post(world, reference="TWO-1", bank="HABB")
    )
    assert done.status_code == 302
    assert Receipt.objects.get(reference="TWO-1").esfca.bank == world.foreign_bank
