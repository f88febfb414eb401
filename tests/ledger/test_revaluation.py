"""Revaluation of ESFCA balances (average cost against the latest rate), checked to the paisa."""

from datetime import date
from decimal import Decimal

import pytest

from exporters.models import Bank, Firm
from ledger.errors import FxRateMissing
from ledger.models import Account, FxRate, Transaction
from ledger.posting import credit, debit, transaction_post
from ledger.revaluation import revaluation_for_account, revaluation_for_firm
from ledger.services import account_open

pytestmark = pytest.mark.django_db

D = Decimal
KIND = Transaction.Kind


def rate(on, buy, sell, source="SBP-WACR", status="active"):
    FxRate.objects.create(
        currency="USD", date=on, source=source, buy=D(buy), sell=D(sell), status=status
    )


def post(key, kind, on, legs, fx_rate=None):
    return transaction_post(
        key=key,
        kind=kind,
        value_date=on,
        legs=legs,
        fx_rate=None if fx_rate is None else D(fx_rate),
    )


@pytest.fixture
def firm_book():
    firm = Firm.objects.create(name="Indus Code", ntn="1234567", kind=Firm.Kind.IT_COMPANY)
    bank_a = Bank.objects.create(code="MEZN", name="Meezan")
    bank_b = Bank.objects.create(code="HABB", name="HBL")
    esfca_a = account_open(kind=Account.Kind.ESFCA, currency="USD", owner=firm, bank=bank_a)
    esfca_b = account_open(kind=Account.Kind.ESFCA, currency="USD", owner=firm, bank=bank_b)
    proceeds = account_open(kind=Account.Kind.CLIENT_PROCEEDS, currency="USD", owner=firm)
    payee = account_open(kind=Account.Kind.PAYEE, currency="USD", owner=firm, category="cloud")

    rate(date(2025, 11, 6), "280.6469", "281.0788")
    rate(date(2025, 11, 6), "280.9000", "280.9000", source="OXR")  # lower priority: not used
    rate(date(2025, 11, 7), "282.1000", "282.5000")
    rate(date(2025, 11, 10), "300.0000", "301.0000", status="held")  # held: never used

    def move(key, kind, day, into, out_of, amount, fx_rate=None):
        legs = [debit(into, D(amount)), credit(out_of, D(amount))]
        post(key, kind, date(2025, 11, day), legs, fx_rate)

    move("r1", KIND.RECEIPT, 3, esfca_a, proceeds, "1000.00", "280.5000")
    move("rb", KIND.RECEIPT, 3, esfca_b, proceeds, "300.00", "280.4000")
    move("r2", KIND.RECEIPT, 4, esfca_a, proceeds, "500.00", "281.2345")
    move("a1", KIND.ALLOCATION, 5, payee, esfca_a, "700.00")
    move("t1", KIND.TRANSFER, 6, esfca_a, esfca_b, "200.00")
    move("r3", KIND.RECEIPT, 11, esfca_a, proceeds, "100.00", "283.0000")
    return firm, esfca_a, esfca_b


def test_worked_example_to_the_paisa(firm_book):
    """ESFCA A (USD), revalued on Monday 2025-11-10:

    03 Nov receipt  +1,000.00 at its own rate 280.5000: cost 280,500.00
    04 Nov receipt    +500.00 at 281.2345:              cost 140,617.25 → 421,117.25 for 1,500.00
    05 Nov allocation −700.00 at average cost: 421,117.25 × 700/1,500 = 196,521.38333…
                      remaining 421,117.25 × 800/1,500 = 3,368,938/15 = 224,595.86666… (exact)
    06 Nov transfer   +200.00 (not a receipt: table buying rate of that day, SBP-WACR 280.6469
                      over OXR 280.9000) = 56,129.38 → cost 3,368,938/15 + 56,129.38
                      = 42,108,787/150 = 280,725.24666…, balance 1,000.00
    11 Nov receipt (after the date) is left out.
    Cost rounded once, half up: 280,725.25 (rounding the 05 Nov average first would not give it).
    Latest active rate on or before 10 Nov: SBP-WACR 07 Nov buy 282.1000 (the held 10 Nov 300.0000
    is not used); 1 working day old, not stale. Value 1,000.00 × 282.1000 = 282,100.00.
    Unrealised gain 282,100.00 − 280,725.25 = 1,374.75.
    """
    _, esfca_a, _ = firm_book
    result = revaluation_for_account(esfca_a, on=date(2025, 11, 10))

    assert result.balance == D("1000.00")
    assert result.pkr_cost == D("280725.25")
    assert (result.rate, result.rate_date, result.rate_source) == (
        D("282.1000"),
        date(2025, 11, 7),
        "SBP-WACR",
    )
    assert result.stale is False
    assert result.pkr_value == D("282100.00")
    assert result.unrealised_gain == D("1374.75")


def test_later_date_takes_the_new_receipt_and_flags_the_stale_rate(firm_book):
    """On Wed 2025-11-12: + receipt 11 Nov 100.00 at 283.0000 = 28,300.00 →
    cost 280,725.24666… + 28,300 = 309,025.24666… → 309,025.25 for 1,100.00.
    The 07 Nov rate is 3 working days old (10, 11, 12 Nov) > 2: stale.
    Value 1,100.00 × 282.1000 = 310,310.00; gain 310,310.00 − 309,025.25 = 1,284.75.
    """
    _, esfca_a, _ = firm_book
    result = revaluation_for_account(esfca_a, on=date(2025, 11, 12))

    assert (result.balance, result.pkr_cost) == (D("1100.00"), D("309025.25"))
    assert result.stale is True
    assert (result.pkr_value, result.unrealised_gain) == (D("310310.00"), D("1284.75"))


def test_firm_revaluation_covers_each_esfca(firm_book, django_assert_max_num_queries):
    """ESFCA B: +300.00 at 280.4000 = 84,120.00; −200.00 at average 280.4000 = 56,080.00 →
    cost 28,040.00 for 100.00; value 100.00 × 282.1000 = 28,210.00; gain 170.00 (on 10 Nov).
    """
    firm, esfca_a, esfca_b = firm_book
    with django_assert_max_num_queries(6):
        results = revaluation_for_firm(firm.pk, on=date(2025, 11, 10))

    assert [r.account_id for r in results] == [esfca_a.pk, esfca_b.pk]
    b = results[1]
    assert (b.balance, b.pkr_cost, b.pkr_value, b.unrealised_gain) == (
        D("100.00"),
        D("28040.00"),
        D("28210.00"),
        D("170.00"),
    )
    assert results[0].unrealised_gain == D("1374.75")


def test_a_loss_is_negative_and_an_empty_account_is_zero(firm_book):
    """Before any table rate (05 Nov): no value. On 07 Nov with the rate of that day (282.1000)
    ESFCA A is worth 1,000.00 × 282.1 = 282,100.00 against 280,725.25: still a gain; with a
    lower rate stored for 07 Nov by hand there would be a loss. A fresh ESFCA: all zero.
    """
    firm, esfca_a, _ = firm_book
    early = revaluation_for_account(esfca_a, on=date(2025, 11, 5))
    assert (early.balance, early.pkr_cost) == (D("800.00"), D("224595.87"))
    assert (early.rate, early.pkr_value, early.unrealised_gain) == (None, None, None)

    rate(date(2025, 11, 7), "279.0000", "279.5000", source="MANUAL")  # priority below SBP
    rate(date(2025, 11, 10), "279.0000", "279.5000", source="MANUAL")
    loss = revaluation_for_account(esfca_a, on=date(2025, 11, 10))
    assert loss.rate == D("279.0000")  # 10 Nov manual (the held SBP one is skipped)
    assert loss.unrealised_gain == D("279000.00") - D("280725.25") == D("-1725.25")

    empty = account_open(
        kind=Account.Kind.ESFCA,
        currency="USD",
        owner=firm,
        bank=Bank.objects.create(code="UNIL", name="UBL"),
    )
    zero = revaluation_for_account(empty, on=date(2025, 11, 10))
    assert (zero.balance, zero.pkr_cost, zero.pkr_value, zero.unrealised_gain) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )


def test_a_non_receipt_inflow_needs_the_rate_of_its_day(firm_book):
    firm, esfca_a, _ = firm_book
    proceeds = Account.objects.get(owner=firm, kind=Account.Kind.CLIENT_PROCEEDS)
    legs = [debit(esfca_a, D("10.00")), credit(proceeds, D("10.00"))]
    post("o1", KIND.OTHER, date(2025, 11, 8), legs)  # a Saturday: no rate that day
    with pytest.raises(FxRateMissing, match="No USD rate for 2025-11-08"):
        revaluation_for_account(esfca_a, on=date(2025, 11, 10))


def test_only_esfca_accounts_are_revalued(firm_book):
    firm, _, _ = firm_book
    proceeds = Account.objects.get(owner=firm, kind=Account.Kind.CLIENT_PROCEEDS)
    with pytest.raises(ValueError, match="Only ESFCA"):
        revaluation_for_account(proceeds, on=date(2025, 11, 10))
