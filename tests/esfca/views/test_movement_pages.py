"""A page per movement (receipt, allocation, conversion, transfer), the links to it from the
lists and the flags, and the month picker across years with overdue months."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from esfca.models import Allocation, Conversion, Parameter, Receipt, Transfer
from esfca.services import conversion_create, receipt_record, transfer_create
from esfca.summaries.months import month_picker
from esfca.summaries.services import summary_file
from ledger.models import Account
from tests.esfca.second_factor import log_in

from .world import make_world, rates_for

pytestmark = pytest.mark.django_db

PLURAL = {"receipt": "receipts", "allocation": "allocations", "conversion": "conversions",
          "transfer": "transfers"}  # fmt: skip


def conversion_and_transfer(world) -> tuple[Conversion, Transfer]:
    today = world.today
    conversion, _ = conversion_create(
        firm=world.firm, actor=world.officer, reference="CV-1", value_date=today,
        amount=Decimal("100.00"), currency="USD",
    )  # fmt: skip
    usd, eur = (
        Account.objects.get(owner=world.firm, kind="esfca", currency=c) for c in ("USD", "EUR")
    )
    transfer, _ = transfer_create(
        firm=world.firm, actor=world.officer, reference="TR-1", value_date=today,
        from_account_id=usd.pk, to_account_id=eur.pk, amount=Decimal("300.00"),
    )  # fmt: skip
    return conversion, transfer


def movements(world) -> dict:
    conversion, transfer = conversion_and_transfer(world)
    return {
        "receipt": Receipt.objects.get(firm=world.firm, reference="INV-NOW-1"),
        "allocation": Allocation.objects.get(firm=world.firm, reference="AWS-PREV-1"),
        "conversion": conversion,
        "transfer": transfer,
    }


def detail_url(kind: str, movement) -> str:
    return reverse(f"{kind}_detail", kwargs={"firm_id": movement.firm_id, "pk": movement.pk})


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_url_style_follows_the_lists(world):
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    assert detail_url("receipt", receipt) == f"/firms/{world.firm.pk}/receipts/{receipt.pk}/"


def test_receipt_page_shows_figures_rule_rates_entries_and_who_recorded_it(world, client_for):
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    html = text_of(client_for("viewer").get(detail_url("receipt", receipt)))
    assert "Receipt INV-NOW-1" in html
    # 10,000 first in the month under the 2023-10-23 rule: 5,000 retained, 5,000 converted at
    # 280; tax 0.25% of 2,800,000 = 7,000; PKR 1,400,000 − 7,000 = 1,393,000.
    for figure in ("USD 10,000.00", "5,000.00", "PKR 7,000.00", "PKR 1,393,000.00"):
        assert figure in html
    assert "23 Oct 2023" in html and "50%" in html and "USD 5,000.00" in html
    assert "calendar month" in html and "0.25%" in html
    assert "280.0000" in html and "the buying rate of the value date" in html
    assert "Globex GmbH (DE)" in html and "9182" in html
    entries = html.split('id="entries"')[1].split("</table>")[0]
    assert entries.count("<tr>") == 1 + receipt.transaction.entries.count()
    assert "ESFCA · SCBL" in entries and "10,000.00" in entries and "PKR" in entries
    assert "Recorded</strong> by officer" in html


def test_a_receipt_page_shows_the_reference_rates_it_was_valued_at(world, client_for):
    usd = Receipt.objects.get(reference="INV-NOW-1")
    html = text_of(client_for("officer").get(detail_url("receipt", usd)))
    assert "none needed for this receipt" in html  # USD: no rate to value it in USD
    eur, _ = receipt_record(
        firm=world.firm, actor=world.officer, reference="INV-EUR", value_date=world.today,
        amount=Decimal("1000.00"), currency="EUR", client_name="Globex GmbH",
        client_country="DE", purpose_code="9182", conversion_rate=Decimal("302.5"),
    )  # fmt: skip
    html = text_of(client_for("officer").get(detail_url("receipt", eur)))
    rules = html.split('id="rules"')[1].split("</dl>")[0]
    assert "Reference buying rate, EUR</dt><dd>300.0000" in rules
    assert "Reference buying rate, USD</dt><dd>280.0000" in rules
    assert "302.5000 <small>(the bank's actual rate)" in rules


def test_allocation_conversion_and_transfer_pages(world, client_for):
    found = movements(world)
    client = client_for("officer")
    allocation = text_of(client.get(detail_url("allocation", found["allocation"])))
    assert "Allocation AWS-PREV-1" in allocation and "Cloud infrastructure" in allocation
    assert "Amazon Web Services (US)" in allocation and "USD 500.00" in allocation
    assert "Reference buying rate, USD" in allocation
    conversion = text_of(client.get(detail_url("conversion", found["conversion"])))
    assert "Conversion to PKR CV-1" in conversion and "PKR 28,000.00" in conversion
    assert "Reference buying rate, USD</dt><dd>280.0000" in conversion
    transfer = text_of(client.get(detail_url("transfer", found["transfer"])))
    assert "Transfer between own ESFCAs TR-1" in transfer
    # 300 USD × 280 / 300 = 280.00 EUR.
    assert "USD 300.00" in transfer and "EUR 280.00" in transfer
    assert "Reference buying rate, EUR</dt><dd>300.0000" in transfer


@pytest.mark.parametrize("kind", list(PLURAL))
def test_every_kind_for_every_role(world, client_for, kind):
    """Officer, viewer, the firm's bank reviewer and the admin see it; another tenant gets
    a 404; the anonymous the login page."""
    movement = movements(world)[kind]
    url = detail_url(kind, movement)
    seen = {
        role: client_for(role).get(url).status_code
        for role in ("officer", "viewer", "reviewer", "admin", "foreign_officer",
                     "foreign_reviewer")
    }  # fmt: skip
    assert seen == {"officer": 200, "viewer": 200, "reviewer": 200, "admin": 200,
                    "foreign_officer": 404, "foreign_reviewer": 404}  # fmt: skip
    response = client_for("anonymous").get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_movement_is_found_only_under_its_own_firm_and_kind(world, client_for):
    foreign = Receipt.objects.get(reference="K-1")
    client = client_for("admin")  # sees both firms
    url = reverse("receipt_detail", kwargs={"firm_id": world.firm.pk, "pk": foreign.pk})
    assert client.get(url).status_code == 404
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    assert client.get(detail_url("receipt", foreign)).status_code == 200
    url = reverse("allocation_detail", kwargs={"firm_id": world.firm.pk, "pk": receipt.pk + 999})
    assert client.get(url).status_code == 404


def test_lists_link_to_the_movement_pages(world, client_for):
    client = client_for("viewer")
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    page = client.get(reverse("receipts", args=[world.firm.pk])).content.decode()
    assert f'href="{detail_url("receipt", receipt)}">INV-NOW-1</a>' in page
    allocation = Allocation.objects.get(reference="AWS-PREV-1")
    page = client.get(reverse("allocations", args=[world.firm.pk])).content.decode()
    assert f'href="{detail_url("allocation", allocation)}">AWS-PREV-1</a>' in page


def flagged_world():
    """Last month with a receipt that has no purpose code (flag §6.4), filed."""
    world = make_world(file_last_month=False)
    receipt, _ = receipt_record(
        firm=world.firm, actor=world.officer, reference="INV-NOCODE", value_date=world.last_month,
        amount=Decimal("100.00"), currency="USD", client_name="Hooli", client_country="US",
    )  # fmt: skip
    summary_file(firm=world.firm, month=world.last_month, actor=world.officer)
    return world, receipt


def test_flags_on_the_month_page_link_to_the_movement(db):
    world, receipt = flagged_world()
    client = Client()
    client.force_login(world.viewer)
    month = reverse("month", args=[world.firm.pk, f"{world.last_month:%Y-%m}"])
    flags = client.get(month).content.decode().split('id="flags"')[1].split("</ul>")[0]
    assert f'<a href="{detail_url("receipt", receipt)}">receipt:INV-NOCODE</a>' in flags
    # The firm-wide flags name no movement: no link (none here), and the reviewer's copy of
    # the summary links the same way.
    log_in(client, world.reviewer)
    review = reverse("review_summary", args=[world.firm.summaries.get().reviews.get().pk])
    assert f'href="{detail_url("receipt", receipt)}"' in client.get(review).content.decode()


def test_the_movement_page_lists_its_flags_and_the_filed_summaries_naming_it(db):
    world, receipt = flagged_world()
    client = Client()
    log_in(client, world.reviewer)
    html = text_of(client.get(detail_url("receipt", receipt)))
    timeline = html.split('id="timeline"')[1].split("</ol>")[0]
    assert "§6.4" in timeline and "The receipt has no purpose code." in timeline
    label = f"{world.last_month:%b %Y}"
    assert f"Named in the filed summary of {label}, revision 1" in timeline
    assert "filed by officer" in timeline
    clean = Receipt.objects.get(reference="INV-PREV-1")
    html = text_of(client.get(detail_url("receipt", clean)))
    assert "No compliance flag names this movement." in html and "Named in" not in html


# --- the month picker ------------------------------------------------------------------------


def test_the_picker_reaches_every_month_with_data_across_years(world, client_for):
    old = (world.today.replace(day=1) - timedelta(days=800)).replace(day=3)
    rates_for([old])
    receipt_record(
        firm=world.firm, actor=world.officer, reference="INV-OLD", value_date=old,
        amount=Decimal("100.00"), currency="USD", client_name="Hooli", client_country="US",
        purpose_code="9184",
    )  # fmt: skip
    page = client_for("viewer").get(reverse("month", args=[world.firm.pk, f"{world.today:%Y-%m}"]))
    html = text_of(page)
    picker = html.split('id="month-pick"')[1].split("</select>")[0]
    values = re.findall(r'<option value="(\d{4}-\d{2})"', picker)
    assert values == [f"{world.today:%Y-%m}", f"{world.last_month:%Y-%m}", f"{old:%Y-%m}"]
    assert f'<optgroup label="{old.year}">' in picker
    assert f'<option value="{old:%Y-%m}" >{old:%b %Y} · overdue</option>' in picker
    assert f"{world.last_month:%b %Y} · filed" in picker
    assert 'id="overdue"' not in html  # this month is not due yet
    page = client_for("viewer").get(reverse("month", args=[world.firm.pk, f"{old:%Y-%m}"]))
    assert 'id="overdue"' in page.content.decode()


def test_overdue_follows_the_due_day_parameter(db):
    world = make_world(file_last_month=False)
    month = world.last_month
    this_month = world.today.replace(day=1)

    def overdue(day: int) -> bool:
        picker = month_picker(world.firm, today=this_month.replace(day=day), selected=month)
        return picker.selected.overdue

    assert (overdue(10), overdue(11)) == (False, True)  # seed: due the 10th
    Parameter.objects.create(key=Parameter.Key.FILING_DUE_DAY, effective_from=month, value="5")
    assert (overdue(5), overdue(6)) == (False, True)
    summary_file(firm=world.firm, month=month, actor=world.officer)
    assert overdue(28) is False  # filed (late): no longer overdue
