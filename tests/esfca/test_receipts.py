"""receipt_record: the split, every refusal (changing nothing), replays, backdating."""

from datetime import date
from decimal import Decimal as D

import pytest

from esfca import errors
from esfca.models import Receipt, RetentionRuleVersion
from esfca.services import receipt_record
from exporters.models import Firm
from ledger.errors import FxRateMissing
from ledger.models import Account

from .conftest import esfca_balance, open_firm, set_rate, snapshot

pytestmark = pytest.mark.django_db
NOV = date(2025, 11, 4)


def record(firm, **overrides):
    fields = {
        "firm": firm,
        "actor": None,
        "reference": "FT-1",
        "value_date": NOV,
        "amount": D("20000.00"),
        "currency": "USD",
        "conversion_rate": D("280.7000"),
        "client_name": "Gulf Retail LLC",
        "client_country": "AE",
        "purpose_code": "9184",
        "today": date(2025, 11, 30),
    }
    fields.update(overrides)
    return receipt_record(**fields)


def test_contract_example_posts_the_split_through_the_ledger():
    firm = open_firm()
    receipt, created = record(firm)
    assert created
    assert (receipt.retained, receipt.converted, receipt.allowed_retention) == (
        D("10000.00"),
        D("10000.00"),
        D("10000.00"),
    )
    assert (receipt.tax_rate, receipt.tax_withheld, receipt.pkr_credited) == (
        D("0.0025"),
        D("14035.00"),
        D("2792965.00"),
    )
    assert receipt.rule_effective_from == date(2023, 10, 23)
    assert receipt.rule_ratio == D("0.50")
    assert receipt.rate_source == "bank"
    assert esfca_balance(firm) == D("10000.00")
    pkr = Account.objects.get(owner=firm, kind=Account.Kind.PKR_BANK)
    assert pkr.balance == D("2792965.00")
    tax = Account.objects.get(owner=firm, kind=Account.Kind.TAX_WITHHELD)
    assert tax.balance == D("14035.00")
    assert receipt.transaction.fx_rate == D("280.7000")


def test_replay_returns_the_stored_receipt_and_posts_nothing():
    firm = open_firm()
    first, _ = record(firm)
    before = snapshot()
    again, created = record(firm, conversion_rate=D("280.7"))  # same decimal, other spelling
    assert not created
    assert again.pk == first.pk
    assert snapshot() == before


def test_same_reference_with_other_fields_is_a_conflict_and_changes_nothing():
    firm = open_firm()
    record(firm)
    before = snapshot()
    with pytest.raises(errors.DuplicateReference):
        record(firm, amount=D("20000.01"))
    assert snapshot() == before


def test_the_same_reference_in_another_firm_is_independent():
    a, b = open_firm(), open_firm()
    record(a)
    _, created = record(b)
    assert created


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"amount": D("0")}, "amount"),
        ({"amount": D("-5.00")}, "amount"),
        ({"amount": D("10.001")}, "amount"),
        ({"amount": D("NaN")}, "amount"),
        ({"amount": D("1e40")}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "PKR"}, "currency"),
        ({"value_date": date(2025, 12, 1)}, "value_date"),
        ({"client_country": "XX"}, "client_country"),
        ({"client_country": ""}, "client_country"),
        ({"purpose_code": "1234"}, "purpose_code"),
        ({"retain": D("-1.00")}, "retain"),
        ({"conversion_rate": D("0")}, "conversion_rate"),
        ({"conversion_rate": D("280.1234567")}, "conversion_rate"),
        ({"reference": "x" * 121}, "reference"),
        ({"client_name": " "}, "client_name"),
    ],
)
def test_field_validation_refuses_and_changes_nothing(overrides, field):
    firm = open_firm()
    before = snapshot()
    with pytest.raises(errors.InvalidInput) as refused:
        record(firm, **overrides)
    assert field in refused.value.details
    assert refused.value.code == "validation_error"
    assert snapshot() == before


def test_no_esfca_in_that_currency():
    firm = open_firm(currencies=("USD",))
    before = snapshot()
    with pytest.raises(errors.NoAccount) as refused:
        record(firm, currency="EUR")
    assert refused.value.code == "no_account"
    assert snapshot() == before


def test_no_pkr_account():
    firm = open_firm()
    Account.objects.filter(owner=firm, kind=Account.Kind.PKR_BANK).update(owner=open_firm())
    before = snapshot()
    with pytest.raises(errors.NoAccount):
        record(firm)
    assert snapshot() == before


def test_no_rule_in_force_before_the_first_version():
    freelancer = open_firm(
        kind=Firm.Kind.FREELANCER, registration_body=Firm.RegistrationBody.SELF_DECLARATION
    )
    before = snapshot()
    with pytest.raises(errors.NoRuleInForce) as refused:
        record(freelancer, value_date=date(2023, 1, 12))
    assert refused.value.code == "no_rule_in_force"
    assert refused.value.message == "No retention rule for freelancers is in force on 2023-01-12."
    assert snapshot() == before
    with pytest.raises(errors.NoRuleInForce) as refused:
        record(open_firm(), value_date=date(2001, 1, 2))
    assert refused.value.message == "No retention rule for IT companies is in force on 2001-01-02."


def test_order_of_checks_account_before_rule_before_rate():
    firm = open_firm(currencies=("USD",))
    with pytest.raises(errors.NoAccount):  # no EUR ESFCA and no rule/rate either
        record(firm, currency="EUR", value_date=date(2020, 1, 1), conversion_rate=None)
    with pytest.raises(errors.NoRuleInForce):  # rule missing and rate missing
        record(firm, value_date=date(2020, 1, 1), conversion_rate=None)


def test_missing_buying_rate_is_refused_never_taken_from_another_day():
    firm = open_firm()
    set_rate("USD", date(2025, 11, 3), "280.5000")
    before = snapshot()
    with pytest.raises(FxRateMissing) as refused:
        record(firm, conversion_rate=None)
    assert refused.value.code == "fx_rate_missing"
    assert snapshot() == before


def test_non_usd_receipt_needs_the_reference_rates_for_the_monthly_rule():
    firm = open_firm(currencies=("EUR",))
    set_rate("EUR", NOV, "323.3014")  # no USD rate that day
    before = snapshot()
    with pytest.raises(FxRateMissing):
        record(firm, currency="EUR", conversion_rate=D("323.0000"))
    assert snapshot() == before


def test_asking_above_the_limit_is_refused_with_the_allowed_figure():
    firm = open_firm()
    before = snapshot()
    with pytest.raises(errors.RetentionLimitExceeded) as refused:
        record(firm, retain=D("10000.01"))
    assert refused.value.details == {"allowed_retention": "10000.00"}
    assert snapshot() == before


def test_asking_for_less_or_nothing_is_valid():
    firm = open_firm()
    receipt, _ = record(firm, retain=D("0.00"))
    assert receipt.retained == D("0.00")
    assert receipt.converted == D("20000.00")
    assert receipt.pkr_credited == D("5614000.00") - D("14035.00")
    other, _ = record(firm, reference="FT-2", retain=D("1500.00"))
    assert other.retained == D("1500.00")


def test_worked_month_floor_then_half():
    firm = open_firm()
    first, _ = record(firm, reference="A", amount=D("4000.00"))
    second, _ = record(firm, reference="B", amount=D("20000.00"), value_date=date(2025, 11, 10))
    assert first.retained == D("3990.00")
    assert second.retained == D("8010.00")


def test_35_to_50_percent_switch_on_2023_10_23():
    firm = open_firm()
    before_switch, _ = record(
        firm, reference="old", value_date=date(2023, 10, 20), today=date(2023, 11, 1)
    )
    assert before_switch.retained == D("7000.00")  # 35% per receipt
    assert before_switch.rule_basis == "per_receipt"
    after_switch, _ = record(
        firm, reference="new", value_date=date(2023, 10, 23), today=date(2023, 11, 1)
    )
    # Calendar month: P = 40,000 (both receipts), half = 20,000, already 7,000 -> 13,000.
    assert after_switch.retained == D("13000.00")
    assert after_switch.rule_ratio == D("0.50")


def test_per_receipt_example_of_june_2023():
    firm = open_firm()
    receipt, _ = record(
        firm, amount=D("10000.00"), value_date=date(2023, 6, 1), today=date(2023, 6, 30)
    )
    assert receipt.retained == D("3500.00")


def test_freelancer_self_declared_pays_one_percent():
    freelancer = open_firm(
        kind=Firm.Kind.FREELANCER, registration_body=Firm.RegistrationBody.SELF_DECLARATION
    )
    set_rate("USD", NOV, "280.6469", "281.0788")
    receipt, _ = record(freelancer, amount=D("3000.00"), conversion_rate=None)
    assert receipt.tax_rate == D("0.0100")
    assert receipt.retained == D("2970.00")
    assert receipt.converted == D("30.00")
    assert receipt.conversion_rate == D("280.6469")
    assert receipt.rate_source == "table"
    assert receipt.pkr_credited == D("0.00")


def test_multi_currency_month_in_usd_equivalents():
    firm = open_firm(currencies=("USD", "EUR"))
    set_rate("EUR", NOV, "323.3014")
    set_rate("USD", NOV, "280.6469")
    eur, _ = record(firm, reference="E", currency="EUR", amount=D("10000.00"), conversion_rate=None)
    assert eur.retained == D("5000.00")
    assert (eur.ref_buy, eur.ref_buy_usd) == (D("323.3014"), D("280.6469"))
    usd, _ = record(firm, reference="U", amount=D("10000.00"), conversion_rate=None)
    assert usd.retained == D("5000.00")
    assert esfca_balance(firm, "EUR") == D("5000.00")


def test_unregistered_firm_retains_nothing():
    firm = open_firm(registration_body="")
    receipt, _ = record(firm, reference="plain")
    assert receipt.retained == D("0.00")
    with pytest.raises(errors.RetentionLimitExceeded) as refused:
        record(firm, reference="ask", retain=D("1.00"))
    assert refused.value.details["allowed_retention"] == "0.00"


def test_backdated_receipt_that_would_push_a_later_one_over_is_refused():
    firm = open_firm()
    record(firm, reference="late", value_date=date(2025, 11, 20), amount=D("4000.00"))
    before = snapshot()
    with pytest.raises(errors.RetentionLimitExceeded) as refused:
        record(
            firm,
            reference="early",
            value_date=date(2025, 11, 5),
            amount=D("4000.00"),
            retain=D("1010.01"),
        )
    # With the early one in the month the later receipt's limit becomes 5,000 - early's
    # retention; 3,990 retained later leaves 1,010.00 for the early one.
    assert refused.value.details["allowed_retention"] == "1010.00"
    assert "at most 1010.00 USD fits" in refused.value.message
    assert snapshot() == before
    fitting, _ = record(
        firm,
        reference="early",
        value_date=date(2025, 11, 5),
        amount=D("4000.00"),
        retain=D("1010.00"),
    )
    assert (fitting.retained, fitting.allowed_retention) == (D("1010.00"), D("1010.00"))


def test_a_backdated_max_retains_the_largest_figure_that_fits():
    # rules.md §2: for a backdated receipt ``max`` is the largest retention that keeps
    # every later receipt fitting; it is retained, not refused.
    firm = open_firm()
    late, _ = record(firm, reference="late", value_date=date(2025, 11, 20), amount=D("4000.00"))
    early, created = record(
        firm, reference="early", value_date=date(2025, 11, 5), amount=D("4000.00")
    )
    assert created and (early.retained, early.allowed_retention) == (D("1010.00"), D("1010.00"))
    assert early.converted == D("2990.00")
    late.refresh_from_db()
    assert late.retained == D("3990.00")  # untouched, and still within its limit
    # A second one earlier still: the later receipts leave nothing more to retain.
    earliest, _ = record(
        firm, reference="earliest", value_date=date(2025, 11, 1), amount=D("1000.00")
    )
    assert earliest.retained == D("0.00")
    with pytest.raises(errors.RetentionLimitExceeded) as refused:
        record(
            firm, reference="ask", value_date=date(2025, 11, 2), amount=D("100.00"),
            retain=D("0.01"),
        )  # fmt: skip
    assert refused.value.details["allowed_retention"] == "0.00"


def test_backdated_receipt_that_fits_is_recorded():
    firm = open_firm()
    record(firm, reference="late", value_date=date(2025, 11, 20), amount=D("20000.00"))
    early, _ = record(firm, reference="early", value_date=date(2025, 11, 5), amount=D("20000.00"))
    # P = 40,000 -> 20,000 allowed in all; early alone allows 10,000 (its own position)
    # and the later receipt's 10,000 still fits within 20,000 - 10,000.
    assert early.retained == D("10000.00")


def test_a_later_rule_edit_never_changes_a_recorded_receipt():
    firm = open_firm()
    receipt, _ = record(firm)
    RetentionRuleVersion.objects.filter(
        firm_kind="it_company", effective_from=date(2023, 10, 23)
    ).update(ratio=D("0.40"))
    receipt.refresh_from_db()
    assert receipt.rule_ratio == D("0.50")
    assert receipt.retained == D("10000.00")
    assert Receipt.objects.get(pk=receipt.pk).allowed_retention == D("10000.00")


def test_retain_with_trailing_zeros_is_stored_at_the_minor_unit():
    firm = open_firm()
    receipt, _ = record(firm, retain=D("1.000000000000000000000"))
    assert receipt.retained == D("1.00")
    receipt.refresh_from_db()
    assert receipt.retained == D("1.00")
    assert receipt.retain_requested == "1.00"


def test_before_the_withholding_parameter_nothing_is_withheld():
    # rules.md §3 seeds the tax rates from 2022-07-01; the 35% rule is in force from 2021.
    firm = open_firm()
    receipt, _ = record(
        firm, amount=D("10000.00"), value_date=date(2021, 3, 1), today=date(2021, 3, 31)
    )
    assert receipt.retained == D("3500.00")
    assert receipt.tax_rate == D("0")
    assert receipt.tax_withheld == D("0.00")
    assert receipt.pkr_credited == D("6500.00") * D("280.7000")


def test_backdated_per_receipt_receipts_need_no_reference_rates():
    firm = open_firm(currencies=("EUR",))
    later, _ = record(
        firm,
        reference="later",
        currency="EUR",
        value_date=date(2023, 6, 15),
        conversion_rate=D("310.0000"),
        today=date(2023, 6, 30),
    )
    early, _ = record(
        firm,
        reference="early",
        currency="EUR",
        value_date=date(2023, 6, 1),
        conversion_rate=D("309.0000"),
        today=date(2023, 6, 30),
    )
    assert (later.retained, early.retained) == (D("7000.00"), D("7000.00"))


def test_amounts_beyond_what_the_books_can_hold_are_refused_cleanly():
    from ledger.errors import LedgerError

    firm = open_firm()
    before = snapshot()
    with pytest.raises((errors.InvalidInput, LedgerError)) as refused:
        record(firm, amount=D("999999999999.99"), retain=D("0.00"))
    assert refused.value.code == "validation_error"
    assert snapshot() == before


def test_the_preview_is_the_services_judgement_and_writes_nothing():
    from esfca.selectors import receipt_preview

    firm = open_firm()
    record(firm, reference="late", value_date=date(2025, 11, 20), amount=D("4000.00"))
    before = snapshot()
    accounts = Account.objects.count()
    backdated = receipt_preview(
        firm,
        value_date=date(2025, 11, 5),
        amount=D("4000.00"),
        currency="USD",
        conversion_rate=D("280.7000"),
    )
    assert backdated.ok  # max: the largest figure that fits (rules.md §2)
    assert (backdated.allowed, backdated.retained) == (D("1010.00"), D("1010.00"))
    asked = receipt_preview(
        firm,
        value_date=date(2025, 11, 5),
        amount=D("4000.00"),
        currency="USD",
        retain=D("2000.00"),
        conversion_rate=D("280.7000"),
    )
    assert not asked.ok
    assert asked.allowed == D("1010.00")  # the same figure receipt_record refuses with
    fresh = open_firm()
    preview = receipt_preview(
        fresh,
        value_date=NOV,
        amount=D("20000.00"),
        currency="USD",
        conversion_rate=D("280.7000"),
    )
    assert preview.ok
    assert (preview.split.retained, preview.split.tax_withheld, preview.split.pkr_credited) == (
        D("10000.00"),
        D("14035.00"),
        D("2792965.00"),
    )
    assert snapshot()[:3] == before[:3]  # no entry, transaction or receipt written
    assert Account.objects.count() == accounts + 2  # only open_firm's two bank accounts
