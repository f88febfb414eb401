"""Reverse and Correct from a movement's page (rules.md §9): the officer's buttons, the
reason required, the confirm screen computed by the service and rolled back, the timeline."""

from decimal import Decimal

import pytest
from django.urls import reverse

from esfca.models import Allocation, Receipt
from esfca.services import firm_account_open, receipt_record
from tests.esfca.conftest import iban_pk, snapshot

from .test_movement_pages import detail_url, text_of

pytestmark = pytest.mark.django_db


def action_url(name: str, kind: str, movement) -> str:
    return reverse(f"{kind}_{name}", kwargs={"firm_id": movement.firm_id, "pk": movement.pk})


def allocation_post(**overrides) -> dict:
    data = {
        "reference": "AWS-PREV-1B", "value_date": "", "currency": "USD",
        "category": "cloud_infrastructure", "amount": "450.00",
        "payee_name": "Amazon Web Services", "payee_country": "US",
        "reversal_reference": "REV-AWS", "reason": "The invoice was 450.00, not 500.00.",
    }  # fmt: skip
    return {**data, **overrides}


def test_only_the_officer_sees_the_buttons(world, client_for):
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    officer = client_for("officer").get(detail_url("receipt", receipt)).content.decode()
    assert action_url("reverse", "receipt", receipt) in officer
    assert action_url("correct", "receipt", receipt) in officer
    viewer = client_for("viewer").get(detail_url("receipt", receipt)).content.decode()
    assert action_url("reverse", "receipt", receipt) not in viewer


def test_reverse_needs_a_reason_then_reverses_once(world, client_for):
    client = client_for("officer")
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    url = action_url("reverse", "receipt", receipt)
    before = snapshot()
    response = client.post(url, {"reversal_reference": "REV-1", "reason": ""})
    assert response.status_code == 422 and snapshot() == before
    response = client.post(url, {"reversal_reference": "REV-1", "reason": "Recorded twice."})
    assert response.status_code == 302 and response["Location"] == detail_url("receipt", receipt)
    reversal = Receipt.objects.get(reference="REV-1")
    assert (reversal.reverses, reversal.reason, reversal.created_by) == (
        receipt,
        "Recorded twice.",
        world.officer,
    )
    page = text_of(client.get(detail_url("receipt", receipt)))
    timeline = page.split('id="timeline"')[1].split("</ol>")[0]
    link = f'<a href="{detail_url("receipt", reversal)}">REV-1</a>'
    assert f"Reversed</strong> by officer as {link}" in timeline
    assert "“Recorded twice.”" in timeline
    assert url not in page  # reversed once: no button any more
    page = text_of(client.get(detail_url("receipt", reversal)))
    assert f'Reversal of <a href="{detail_url("receipt", receipt)}">INV-NOW-1</a>' in page
    assert action_url("reverse", "receipt", reversal) not in page  # not itself reversible
    before = snapshot()
    response = client.post(url, {"reversal_reference": "REV-2", "reason": "Again."})
    assert response.status_code == 422
    assert "INV-NOW-1 was already reversed by REV-1." in response.content.decode()
    assert snapshot() == before


def test_correct_starts_from_the_movement_shows_both_effects_then_records_them(world, client_for):
    client = client_for("officer")
    original = Allocation.objects.get(reference="AWS-PREV-1")
    url = action_url("correct", "allocation", original)
    form = client.get(url).content.decode()
    assert 'value="500.00"' in form and 'value="Amazon Web Services"' in form
    assert f'value="{world.last_month.isoformat()}"' in form

    data = allocation_post(value_date=world.last_month.isoformat())
    before = snapshot()
    confirm = client.post(url, data)
    assert confirm.status_code == 200 and snapshot() == before  # computed, rolled back
    effects = text_of(confirm).split('id="effects"')[1]
    assert "1. The reversal REV-AWS" in effects
    assert "2. The corrected movement AWS-PREV-1B" in effects
    reversal_entries = effects.split('id="reversal-entries"')[1].split("</table>")[0]
    new_entries = effects.split('id="new-entries"')[1].split("</table>")[0]
    assert "500.00" in reversal_entries and "450.00" in new_entries
    assert 'name="confirm"' in confirm.content.decode()

    done = client.post(url, {**data, "confirm": "1"})
    new = Allocation.objects.get(reference="AWS-PREV-1B")
    assert done.status_code == 302 and done["Location"] == detail_url("allocation", new)
    assert new.corrects == original and new.amount.amount == Decimal("450.00")
    assert Allocation.objects.get(reference="REV-AWS").reverses == original
    page = text_of(client.get(detail_url("allocation", original)))
    assert f'Corrected into <a href="{detail_url("allocation", new)}">AWS-PREV-1B</a>' in page
    page = text_of(client.get(detail_url("allocation", new)))
    assert f'Corrects <a href="{detail_url("allocation", original)}">AWS-PREV-1</a>' in page


def test_a_refused_correction_shows_the_refusal_and_records_nothing(world, client_for):
    client = client_for("officer")
    original = Allocation.objects.get(reference="AWS-PREV-1")
    url = action_url("correct", "allocation", original)
    data = allocation_post(value_date=world.last_month.isoformat(), payee_country="PK")
    before = snapshot()
    for extra in ({}, {"confirm": "1"}):
        response = client.post(url, {**data, **extra})
        assert response.status_code == 422
        assert "an ESFCA pays only payees abroad" in response.content.decode()
        assert 'name="confirm"' not in response.content.decode()
    assert snapshot() == before


def test_a_receipt_correction_starts_from_its_own_request(world, client_for):
    receipt = Receipt.objects.get(reference="INV-NOW-1")
    form = client_for("officer").get(action_url("correct", "receipt", receipt)).content.decode()
    assert 'value="10000.00"' in form and 'value="Globex GmbH"' in form
    assert 'value="max"' in form and 'id="id_conversion_rate"' in form
    assert 'name="reference" value=' not in form  # a correction needs a new reference


def test_a_receipt_correction_names_its_bank_when_the_currency_is_held_at_several(
    world, client_for
):
    """rules.md §11: the correction form offers "Bank credited" like the receipt form,
    pre-filled with the original's bank, and the corrected receipt is credited there."""
    for n, currency in enumerate(("PKR", "USD"), start=70):
        firm_account_open(
            firm=world.firm, bank=world.foreign_bank, currency=currency, iban=iban_pk("HABB", n)
        )
    original, _created = receipt_record(
        firm=world.firm, actor=world.officer, reference="HB-1", value_date=world.today,
        amount=Decimal("800.00"), currency="USD", bank="HABB", client_name="Initech",
        client_country="GB", purpose_code="9184",
    )  # fmt: skip
    client = client_for("officer")
    url = action_url("correct", "receipt", original)
    form = client.get(url).content.decode()
    assert 'name="bank"' in form and '<option value="HABB" selected>' in form
    other = Receipt.objects.get(reference="INV-NOW-1")
    other_form = client.get(action_url("correct", "receipt", other)).content.decode()
    assert '<option value="SCBL" selected>' in other_form

    data = {
        "reference": "HB-1B", "value_date": world.today.isoformat(), "currency": "USD",
        "amount": "900.00", "retain_mode": "max", "client_name": "Initech",
        "client_country": "GB", "purpose_code": "9184", "bank": "HABB",
        "reversal_reference": "REV-HB-1", "reason": "The client paid 900.00.",
    }  # fmt: skip
    confirm = client.post(url, data)
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.content.decode()
    done = client.post(url, {**data, "confirm": "1"})
    new = Receipt.objects.get(reference="HB-1B")
    assert done.status_code == 302 and done["Location"] == detail_url("receipt", new)
    assert (new.corrects, new.esfca.bank.code) == (original, "HABB")
    assert Receipt.objects.get(reference="REV-HB-1").esfca == original.esfca
