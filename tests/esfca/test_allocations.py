"""allocation_create, conversion_create, transfer_create: rules.md §4."""

from datetime import date
from decimal import Decimal as D

import pytest

from esfca import errors
from esfca.models import Allocation
from esfca.services import (
    allocation_create,
    conversion_create,
    receipt_record,
    transfer_create,
)
from exporters.models import Firm
from ledger.errors import InsufficientFunds
from ledger.models import Account, FxRate

from .conftest import esfca_balance, open_firm, set_rate, snapshot

pytestmark = pytest.mark.django_db
DAY = date(2025, 11, 20)
TODAY = date(2025, 11, 30)


def fund(firm, amount="20000.00", currency="USD", reference="R1", day=date(2025, 11, 4), bank=""):
    receipt, _ = receipt_record(
        bank=bank,
        firm=firm,
        actor=None,
        reference=reference,
        value_date=day,
        amount=D(amount),
        currency=currency,
        conversion_rate=D("280.7000"),
        client_name="Client",
        client_country="US",
        purpose_code="9184",
        today=TODAY,
    )
    return receipt


def allocate(firm, **overrides):
    fields = {
        "firm": firm,
        "actor": None,
        "reference": "AWS-1",
        "value_date": DAY,
        "category": "cloud_infrastructure",
        "amount": D("2500.00"),
        "currency": "USD",
        "payee_name": "Amazon Web Services EMEA SARL",
        "payee_country": "LU",
        "today": TODAY,
    }
    fields.update(overrides)
    return allocation_create(**fields)


def test_allocation_debits_the_esfca_and_reports_the_balance_after():
    firm = open_firm()
    fund(firm)
    allocation, created = allocate(firm)
    assert created
    assert allocation.balance_after == D("7500.00")
    assert esfca_balance(firm) == D("7500.00")
    payee = Account.objects.get(owner=firm, kind=Account.Kind.PAYEE)
    assert (payee.category, payee.balance) == ("cloud_infrastructure", D("2500.00"))
    again, created = allocate(firm)
    assert (again.pk, created) == (allocation.pk, False)
    assert esfca_balance(firm) == D("7500.00")


def test_never_overdraws_and_changes_nothing():
    firm = open_firm()
    fund(firm)  # 10,000.00 retained
    before = snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        allocate(firm, amount=D("10000.01"))
    assert refused.value.code == "insufficient_funds"
    assert snapshot() == before


@pytest.mark.parametrize(
    "overrides", [{"payee_country": "PK"}, {"category": "groceries"}, {"category": ""}]
)
def test_category_not_permitted(overrides):
    firm = open_firm()
    fund(firm)
    before = snapshot()
    with pytest.raises(errors.CategoryNotPermitted):
        allocate(firm, **overrides)
    assert snapshot() == before


def test_no_account_in_that_currency():
    firm = open_firm()
    with pytest.raises(errors.NoAccount):
        allocate(firm, currency="EUR")


def test_validation_errors():
    firm = open_firm()
    with pytest.raises(errors.InvalidInput) as refused:
        allocate(firm, amount=D("0"), payee_country="ZZ", payee_name="")
    assert set(refused.value.details) == {"amount", "payee_country", "payee_name"}


def equity(firm, **overrides):
    fields = {
        "reference": "EQ-1",
        "category": "overseas_equity",
        "amount": D("1000.00"),
        "payee_name": "Subsidiary FZ-LLC",
        "payee_country": "AE",
        "investee_name": "Subsidiary FZ-LLC",
        "investee_country": "AE",
    }
    fields.update(overrides)
    return allocate(firm, **fields)


def test_equity_needs_investee_fields():
    firm = open_firm()
    with pytest.raises(errors.InvalidInput) as refused:
        equity(firm, investee_name="", investee_country="")
    assert {"investee_name", "investee_country"} <= set(refused.value.details)


def test_equity_in_india_without_sbp_approval_is_refused():
    firm = open_firm()
    fund(firm)
    set_rate("USD", DAY, "280.6469")
    before = snapshot()
    with pytest.raises(errors.EquityNotPermitted) as refused:
        equity(firm, investee_country="IN", payee_country="IN")
    assert "SBP approval" in refused.value.message
    assert snapshot() == before
    allocation, _ = equity(
        firm, investee_country="IN", payee_country="IN", sbp_approval_reference="EPD/2025/9"
    )
    assert allocation.usd_equivalent == D("1000.00")


def test_equity_needs_an_active_taxpayer():
    firm = open_firm(active_taxpayer=False)
    fund(firm)
    with pytest.raises(errors.EquityNotPermitted) as refused:
        equity(firm)
    assert "Active Taxpayer" in refused.value.message


def test_equity_cap_for_freelancers_is_the_usd_100000_floor_without_export_history():
    freelancer = open_firm(
        kind=Firm.Kind.FREELANCER,
        registration_body=Firm.RegistrationBody.PSEB,
        active_taxpayer=True,
    )
    set_rate("USD", DAY, "280.6469")
    for n in range(25):  # 25 x 10,000 retained
        fund(freelancer, amount="20000.00", reference=f"R{n}", day=date(2025, 11, 1 + n % 19))
    allocation, _ = equity(freelancer, amount=D("99000.00"))
    assert allocation.usd_equivalent == D("99000.00")
    before = snapshot()
    with pytest.raises(errors.EquityCapExceeded) as refused:
        equity(freelancer, reference="EQ-2", amount=D("1000.01"))
    assert refused.value.details["cap_usd"] == "100000.00"
    assert snapshot() == before


def test_the_equity_cap_counts_earlier_remittances_at_their_stored_usd_equivalent():
    freelancer = open_firm(
        kind=Firm.Kind.FREELANCER,
        registration_body=Firm.RegistrationBody.PSEB,
        active_taxpayer=True,
        currencies=("USD", "EUR"),
    )
    later = date(2025, 11, 21)
    set_rate("USD", DAY, "280.0000")
    set_rate("EUR", DAY, "300.0000")
    set_rate("USD", later, "280.0000")
    fund(freelancer, amount="20000.00", currency="EUR", reference="E1", day=DAY)
    fund(freelancer, amount="20000.00", reference="U1", day=DAY)
    first, _ = equity(freelancer, currency="EUR", amount=D("1000.00"))
    assert first.usd_equivalent == D("1071.43")  # 1,000 × 300 / 280, half up
    # The table's EUR rate of that day held for review afterwards: the remittance stays
    # what it was recorded as, it is not re-priced (nor refused for want of a rate).
    FxRate.objects.filter(currency="EUR", date=DAY).update(status=FxRate.Status.HELD)
    second, created = equity(freelancer, reference="EQ-2", amount=D("1000.00"), value_date=later)
    assert created and second.usd_equivalent == D("1000.00")


def test_it_company_equity_from_july_2024_is_capped_only_by_the_balance():
    firm = open_firm()
    set_rate("USD", DAY, "280.6469")
    for n in range(25):
        fund(firm, amount="20000.00", reference=f"R{n}", day=date(2025, 11, 1 + n % 19))
    allocation, _ = equity(firm, amount=D("150000.00"))
    assert allocation.balance_after == esfca_balance(firm)


def test_conversion_to_pkr_at_the_days_buying_rate():
    firm = open_firm()
    fund(firm)
    set_rate("USD", DAY, "280.6469", "281.0788")
    conversion, created = conversion_create(
        firm=firm,
        actor=None,
        reference="CV-1",
        value_date=DAY,
        amount=D("1000.00"),
        currency="USD",
        today=TODAY,
    )
    assert created
    assert conversion.rate == D("280.6469")
    assert conversion.pkr_amount == D("280646.90")
    assert esfca_balance(firm) == D("9000.00")
    pkr = Account.objects.get(owner=firm, kind=Account.Kind.PKR_BANK)
    assert pkr.balance == D("2792965.00") + D("280646.90")


def test_transfer_between_own_esfcas_across_currencies():
    firm = open_firm(currencies=("USD", "EUR"))
    fund(firm)
    set_rate("USD", DAY, "280.6469")
    set_rate("EUR", DAY, "323.3014")
    usd = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="USD")
    eur = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA, currency="EUR")
    transfer, _ = transfer_create(
        firm=firm,
        actor=None,
        reference="TR-1",
        value_date=DAY,
        from_account_id=usd.pk,
        to_account_id=eur.pk,
        amount=D("1000.00"),
        today=TODAY,
    )
    # 1,000 x 280.6469 / 323.3014 = 868.0665... -> 868.07 EUR
    assert transfer.to_amount == D("868.07")
    assert esfca_balance(firm, "USD") == D("9000.00")
    assert esfca_balance(firm, "EUR") == D("868.07")


def test_transfer_to_another_firms_account_is_refused():
    firm, other = open_firm(), open_firm()
    fund(firm)
    usd = Account.objects.get(owner=firm, kind=Account.Kind.ESFCA)
    foreign = Account.objects.get(owner=other, kind=Account.Kind.ESFCA)
    before = snapshot()
    with pytest.raises(errors.InvalidInput) as refused:
        transfer_create(
            firm=firm,
            actor=None,
            reference="TR-X",
            value_date=DAY,
            from_account_id=usd.pk,
            to_account_id=foreign.pk,
            amount=D("1.00"),
            today=TODAY,
        )
    assert "to_account" in refused.value.details
    assert snapshot() == before


def test_allocation_idempotency_conflict():
    firm = open_firm()
    fund(firm)
    allocate(firm)
    with pytest.raises(errors.DuplicateReference):
        allocate(firm, amount=D("1.00"))
    assert Allocation.objects.count() == 1


def test_a_backdated_allocation_may_not_overdraw_the_past():
    firm = open_firm()
    fund(firm)  # 10,000.00 retained on 2025-11-04
    before = snapshot()
    with pytest.raises(InsufficientFunds) as refused:
        allocate(firm, value_date=date(2025, 11, 3), amount=D("100.00"))
    assert refused.value.details["balance"] == "0.00"
    assert snapshot() == before
    allocation, _ = allocate(firm, value_date=date(2025, 11, 4), amount=D("100.00"))
    assert allocation.balance_after == D("9900.00")


def test_a_backdated_debit_must_leave_every_later_day_covered():
    firm = open_firm()
    fund(firm, reference="R1", day=date(2025, 11, 4))  # +10,000.00
    allocate(firm, reference="A-LATE", value_date=date(2025, 11, 20), amount=D("9000.00"))
    fund(firm, reference="R2", day=date(2025, 11, 25))  # +10,000.00 later
    # Today's balance is 11,000.00, but on 20 Nov only 1,000.00 was left: a 2,000.00
    # debit dated 10 Nov would take 20 Nov below zero.
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        allocate(firm, reference="A-BACK", value_date=date(2025, 11, 10), amount=D("2000.00"))
    assert snapshot() == before
    with pytest.raises(InsufficientFunds):
        conversion_create(
            firm=firm,
            actor=None,
            reference="CV-BACK",
            value_date=date(2025, 11, 10),
            amount=D("1000.01"),
            currency="USD",
            rate=D("280.0000"),
            today=TODAY,
        )
    allowed, _ = allocate(
        firm, reference="A-OK", value_date=date(2025, 11, 10), amount=D("1000.00")
    )
    assert allowed.balance_after == D("10000.00")


def test_equity_before_any_equity_rule_is_refused_not_crashed():
    firm = open_firm()
    receipt_record(
        firm=firm,
        actor=None,
        reference="OLD",
        value_date=date(2021, 3, 1),
        amount=D("10000.00"),
        currency="USD",
        conversion_rate=D("160.0000"),
        client_name="Client",
        client_country="US",
        today=TODAY,
    )
    with pytest.raises(errors.EquityNotPermitted) as refused:
        equity(firm, value_date=date(2021, 2, 1))
    assert "No overseas equity rule" in refused.value.message


def test_an_esfca_at_a_second_bank_can_be_chosen():
    from esfca.services import firm_account_open
    from tests.exporters.factories import BankFactory

    from .conftest import iban_pk

    firm = open_firm()
    second = BankFactory(code="MEZN")
    first = firm.accounts.get(currency="USD").bank.code
    firm_account_open(firm=firm, bank=second, currency="USD", iban=iban_pk("MEZN", 42))
    receipt = fund(firm, bank=first)  # USD at two banks: the receipt names one (§11)
    assert receipt.esfca.bank.code == first != "MEZN"
    with pytest.raises(InsufficientFunds):
        allocate(firm, bank="MEZN")
    with pytest.raises(errors.NoAccount):
        allocate(firm, bank="HABB")
