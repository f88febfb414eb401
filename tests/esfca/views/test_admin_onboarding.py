"""A platform admin opens a firm's accounts in the Django admin, through the API's own
service (``firm_account_open``): its refusals are the form's errors."""

import pytest
from django.test import Client
from django.urls import reverse

from esfca.models import AuditEvent
from exporters.models import Bank, User
from exporters.validators import iban_pk
from ledger.models import Account
from tests.esfca.second_factor import log_in
from tests.exporters.factories import FirmFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    admin = User.objects.create_superuser("root", "root@example.com", "x")
    client = Client()
    log_in(client, admin)
    return client


@pytest.fixture
def bank():
    return Bank.objects.create(code="MEZN", name="Meezan Bank")


def open_url(firm) -> str:
    return reverse("admin:exporters_firm_open_account", args=[firm.pk])


def test_a_new_firm_gets_its_accounts_and_its_dashboard_shows_them(admin_client, bank):
    firm = FirmFactory(name="Quetta Cloud")
    change = admin_client.get(reverse("admin:exporters_firm_change", args=[firm.pk]))
    assert open_url(firm) in change.content.decode()
    for n, currency in enumerate(("PKR", "USD")):
        response = admin_client.post(
            open_url(firm), {"bank": bank.pk, "currency": currency, "iban": iban_pk("MEZN", n)}
        )
        assert response.status_code == 302
    opened = Account.objects.filter(owner=firm).values_list("kind", "currency", "bank__code")
    assert sorted(opened) == [("esfca", "USD", "MEZN"), ("pkr_bank", "PKR", "MEZN")]
    assert AuditEvent.objects.filter(firm=firm, action="account_opened").count() == 2
    change = admin_client.get(reverse("admin:exporters_firm_change", args=[firm.pk]))
    assert iban_pk("MEZN", 1) in change.content.decode()  # listed on the firm's page
    dashboard = admin_client.get(reverse("firm_dashboard", args=[firm.pk])).content.decode()
    assert "No ESFCA is open yet" not in dashboard and iban_pk("MEZN", 1) in dashboard


def test_an_invalid_iban_is_a_form_error_and_opens_nothing(admin_client, bank):
    firm = FirmFactory()
    good = iban_pk("MEZN", 7)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)  # one digit off: mod-97 fails
    response = admin_client.post(open_url(firm), {"bank": bank.pk, "currency": "USD", "iban": bad})
    assert response.status_code == 422
    assert "Enter a valid Pakistani IBAN (PK…, mod-97 check)." in response.content.decode()
    other_bank = iban_pk("SCBL", 7)
    response = admin_client.post(
        open_url(firm), {"bank": bank.pk, "currency": "USD", "iban": other_bank}
    )
    assert "The IBAN&#x27;s bank code SCBL is not MEZN." in response.content.decode()
    assert not Account.objects.filter(owner=firm).exists()


def test_a_second_account_in_the_same_bank_and_currency_is_refused(admin_client, bank):
    firm = FirmFactory(name="Sialkot Apps")
    data = {"bank": bank.pk, "currency": "USD", "iban": iban_pk("MEZN", 11)}
    assert admin_client.post(open_url(firm), data).status_code == 302
    response = admin_client.post(open_url(firm), {**data, "iban": iban_pk("MEZN", 12)})
    assert response.status_code == 422
    assert "Sialkot Apps already has a USD account at MEZN." in response.content.decode()
    assert Account.objects.filter(owner=firm, currency="USD").count() == 1


def test_only_a_platform_admin_opens_accounts(bank):
    firm = FirmFactory()
    staff = User.objects.create_user("clerk", "clerk@example.com", "x", is_staff=True)
    client = Client()
    log_in(client, staff)
    data = {"bank": bank.pk, "currency": "USD", "iban": iban_pk("MEZN", 3)}
    assert client.post(open_url(firm), data).status_code == 403
    assert not Account.objects.filter(owner=firm).exists()
