"""rules.md as pure functions: every worked example, plus properties (no database)."""

from datetime import date
from decimal import Decimal as D
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from esfca import policy
from esfca.policy import MonthItem, RetentionRule

MONTHLY_2023 = RetentionRule(
    "it_company", date(2023, 10, 23), D("0.50"), D("5000"), "calendar_month"
)
PER_RECEIPT_2021 = RetentionRule("it_company", date(2021, 2, 19), D("0.35"), D("0"), "per_receipt")
RULES = [
    PER_RECEIPT_2021,
    MONTHLY_2023,
    RetentionRule("freelancer", date(2023, 1, 13), D("0.35"), D("0"), "per_receipt"),
    RetentionRule("freelancer", date(2023, 10, 23), D("0.50"), D("5000"), "calendar_month"),
]
PSEB = D("0.0025")


def usd_item(amount: str, retained: str) -> MonthItem:
    return MonthItem(Fraction(D(amount)), Fraction(D(retained)))


def test_first_receipt_of_the_month_takes_the_usd_5000_floor_then_the_tax_cap():
    # rules.md §2: 4,000.00 first in the month -> 4,000.00 by the rule, 3,990.00 after the cap.
    assert policy.allowed_by_rule(rule=MONTHLY_2023, amount=D("4000.00")) == D("4000.00")
    assert policy.allowed_retention(rule=MONTHLY_2023, amount=D("4000.00"), tax_rate=PSEB) == D(
        "3990.00"
    )


def test_second_receipt_gets_the_remaining_half_of_the_month():
    # rules.md §2: then 20,000.00 with 3,990.00 retained before -> 8,010.00.
    allowed = policy.allowed_retention(
        rule=MONTHLY_2023,
        amount=D("20000.00"),
        tax_rate=PSEB,
        earlier=[usd_item("4000.00", "3990.00")],
    )
    assert allowed == D("8010.00")


def test_per_receipt_rule_before_the_2023_change():
    # rules.md §2: 10,000.00 dated 2023-06-01 under 0.35 per receipt -> 3,500.00.
    rule = policy.rule_in_force(RULES, firm_kind="it_company", on=date(2023, 6, 1))
    assert rule == PER_RECEIPT_2021
    assert policy.allowed_by_rule(rule=rule, amount=D("10000.00")) == D("3500.00")


def test_rule_switch_on_2023_10_23():
    assert policy.rule_in_force(RULES, firm_kind="it_company", on=date(2023, 10, 22)).ratio == D(
        "0.35"
    )
    assert policy.rule_in_force(RULES, firm_kind="it_company", on=date(2023, 10, 23)) == (
        MONTHLY_2023
    )
    assert policy.rule_in_force(RULES, firm_kind="freelancer", on=date(2023, 1, 12)) is None


def test_freelancer_self_declared_at_one_percent():
    # rules.md §3: USD 3,000.00, 1% -> floor allows 3,000.00, tax cap 2,970.00, converts 30.00.
    rule = policy.rule_in_force(RULES, firm_kind="freelancer", on=date(2025, 11, 3))
    allowed = policy.allowed_retention(rule=rule, amount=D("3000.00"), tax_rate=D("0.01"))
    assert allowed == D("2970.00")
    split = policy.receipt_split(
        amount=D("3000.00"), retained=allowed, conversion_rate=D("280.6469"), tax_rate=D("0.01")
    )
    assert split.converted == D("30.00")
    assert split.pkr_gross == D("8419.41")  # 30 x 280.6469 = 8,419.407
    assert split.tax_withheld == D("8419.41")  # 3000 x 280.6469 x 0.01 = 8,419.407
    assert split.pkr_credited == D("0.00")


def test_contract_receipt_example():
    # api-contract.md: USD 20,000.00 at 280.7000, PSEB, first receipt of the month.
    allowed = policy.allowed_retention(rule=MONTHLY_2023, amount=D("20000.00"), tax_rate=PSEB)
    assert allowed == D("10000.00")
    split = policy.receipt_split(
        amount=D("20000.00"), retained=allowed, conversion_rate=D("280.7000"), tax_rate=PSEB
    )
    assert (split.converted, split.tax_withheld, split.pkr_credited) == (
        D("10000.00"),
        D("14035.00"),
        D("2792965.00"),
    )


def test_half_of_aed_through_usd_and_back_is_exact():
    # rules.md §1: exact fractions, so 50% of AED 100,000.00 is 50,000.00, not 49,999.99.
    buy_aed, buy_usd = D("76.4213"), D("280.6469")
    allowed = policy.allowed_by_rule(
        rule=MONTHLY_2023, amount=D("100000.00"), buy=buy_aed, buy_usd=buy_usd
    )
    assert allowed == D("50000.00")


def test_multi_currency_month_uses_usd_equivalents():
    # EUR 10,000 at EUR 323.3014 / USD 280.6469 = USD 11,519.8... first; then USD 10,000.
    eur = policy.usd_equivalent(D("10000.00"), buy=D("323.3014"), buy_usd=D("280.6469"))
    first = policy.allowed_by_rule(
        rule=MONTHLY_2023, amount=D("10000.00"), buy=D("323.3014"), buy_usd=D("280.6469")
    )
    assert first == D("5000.00")  # half of the EUR proceeds, exactly
    retained_usd = policy.usd_equivalent(first, buy=D("323.3014"), buy_usd=D("280.6469"))
    second = policy.allowed_by_rule(
        rule=MONTHLY_2023,
        amount=D("10000.00"),
        earlier=[MonthItem(eur, retained_usd)],
    )
    # P = 21,519.8..., half = 10,759.9...; already = 5,759.9... -> 5,000.00 USD exactly.
    assert second == D("5000.00")


def test_rounding_directions():
    assert policy.round_down(Fraction(1999, 300)) == D("6.66")
    assert policy.round_half_up(D("0.005")) == D("0.01")
    assert policy.round_half_up(D("0.0049999")) == D("0.00")
    assert policy.round_up(D("30.001")) == D("30.01")
    assert policy.tax_cap(amount=D("4000.00"), tax_rate=PSEB) == D("3990.00")
    assert policy.tax_cap(amount=D("0.01"), tax_rate=D("0.01")) == D("0.00")


def test_unregistered_firm_may_retain_nothing():
    assert policy.allowed_retention(
        rule=MONTHLY_2023, amount=D("4000.00"), tax_rate=D("0.01"), eligible=False
    ) == D("0.00")


def test_category_rules():
    assert policy.category_refusal(category="cloud_infrastructure", payee_country="LU") is None
    assert "Pakistan" in policy.category_refusal(category="travel_abroad", payee_country="PK")
    assert "not a permitted" in policy.category_refusal(category="groceries", payee_country="US")


def test_equity_rules():
    assert "Active Taxpayer" in policy.equity_refusal(
        active_taxpayer=False,
        investee_country="AE",
        sbp_approval_reference="",
        approval_countries={"IN"},
    )
    assert "SBP approval" in policy.equity_refusal(
        active_taxpayer=True,
        investee_country="IN",
        sbp_approval_reference="",
        approval_countries={"IN"},
    )
    assert (
        policy.equity_refusal(
            active_taxpayer=True,
            investee_country="IN",
            sbp_approval_reference="SBP/EPD/2025/17",
            approval_countries={"IN"},
        )
        is None
    )
    rules = [
        policy.EquityCapRule(date(2021, 2, 10), "", "export_average"),
        policy.EquityCapRule(date(2024, 7, 11), "it_company", "esfca_balance"),
    ]
    it_2025 = policy.equity_rule_in_force(rules, firm_kind="it_company", on=date(2025, 1, 1))
    assert policy.equity_cap_usd(rule=it_2025, yearly_proceeds_usd=[]) is None
    freelancer = policy.equity_rule_in_force(rules, firm_kind="freelancer", on=date(2025, 1, 1))
    proceeds = [Fraction(3_000_000), Fraction(4_500_000), Fraction(6_000_000)]
    assert policy.equity_cap_usd(rule=freelancer, yearly_proceeds_usd=proceeds) == 450_000
    small = [Fraction(100_000)] * 3
    assert policy.equity_cap_usd(rule=freelancer, yearly_proceeds_usd=small) == 100_000


def test_working_days_skip_weekends():
    friday = date(2025, 11, 7)
    assert policy.add_working_days(friday, 3) == date(2025, 11, 12)
    assert policy.working_days_between(friday, date(2025, 11, 12)) == 3
    assert policy.month_bounds(date(2024, 2, 14)) == (date(2024, 2, 1), date(2024, 2, 29))


def test_herfindahl_of_client_shares():
    assert policy.herfindahl([D("50"), D("50")]) == Fraction(1, 2)
    assert policy.herfindahl([D("100")]) == 1
    assert policy.herfindahl([]) == 0


# --- properties -----------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("5000000.00"), places=2)
rates = st.decimals(min_value=D("0.5"), max_value=D("900"), places=4)
tax_rates = st.sampled_from([D("0.0025"), D("0.01"), D("0")])
earlier_lists = st.lists(st.tuples(amounts, st.integers(0, 100)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(amount=amounts, tax_rate=tax_rates, earlier=earlier_lists, buy=rates, buy_usd=rates)
def test_retained_never_exceeds_the_limit(amount, tax_rate, earlier, buy, buy_usd):
    items = [
        MonthItem(Fraction(a), Fraction(a) * pct / 100 / 2) for a, pct in earlier
    ]  # earlier receipts kept at most half
    allowed = policy.allowed_retention(
        rule=MONTHLY_2023, amount=amount, tax_rate=tax_rate, earlier=items, buy=buy, buy_usd=buy_usd
    )
    assert D(0) <= allowed <= amount
    assert allowed == allowed.quantize(D("0.01"))
    # The month's total retention in USD never exceeds the month's limit, whatever rounding.
    proceeds = sum((i.usd_amount for i in items), Fraction(0)) + policy.usd_equivalent(
        amount, buy=buy, buy_usd=buy_usd
    )
    limit = policy.monthly_allowed_total(
        ratio=D("0.50"), floor_usd=D("5000"), proceeds_usd=proceeds
    )
    total_retained = sum((i.usd_retained for i in items), Fraction(0)) + policy.usd_equivalent(
        allowed, buy=buy, buy_usd=buy_usd
    )
    assert total_retained <= max(limit, sum((i.usd_retained for i in items), Fraction(0)))
    # The tax can always be withheld from the converted part.
    assert allowed <= policy.tax_cap(amount=amount, tax_rate=tax_rate)


@settings(max_examples=300, deadline=None)
@given(amount=amounts, fraction=st.integers(0, 100), rate=rates, tax_rate=tax_rates)
def test_split_adds_up_and_pkr_is_never_negative(amount, fraction, rate, tax_rate):
    cap = policy.tax_cap(amount=amount, tax_rate=tax_rate)
    retained = policy.round_down(Fraction(cap) * fraction / 100)
    split = policy.receipt_split(
        amount=amount, retained=retained, conversion_rate=rate, tax_rate=tax_rate
    )
    assert split.converted + split.retained == amount
    assert split.pkr_credited >= 0
    assert split.pkr_credited + split.tax_withheld == split.pkr_gross


@settings(max_examples=200, deadline=None)
@given(amount=amounts)
def test_per_receipt_limit_rounds_down(amount):
    allowed = policy.allowed_by_rule(rule=PER_RECEIPT_2021, amount=amount)
    assert Fraction(allowed) <= Fraction(amount) * Fraction(35, 100)
    assert Fraction(amount) * Fraction(35, 100) - Fraction(allowed) < Fraction(1, 100)


# --- §2 the month so far: MonthPosition is allowed_retention over the earlier receipts -------

EUR_RATES = (D("325.1234"), D("280.6469"))
receipts_of_a_month = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5_000_000),  # amount in cents
        st.sampled_from(["USD", "USD", "EUR"]),
        st.integers(min_value=0, max_value=100),  # retained: percent of the amount
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    receipts=receipts_of_a_month,
    rule=st.sampled_from([MONTHLY_2023, PER_RECEIPT_2021]),
    tax_rate=st.sampled_from([PSEB, D("0.01"), D("0")]),
    eligible=st.booleans(),
)
def test_month_position_allows_what_allowed_retention_allows(receipts, rule, tax_rate, eligible):
    position, taker, earlier = policy.MonthPosition(), policy.MonthPosition(), []
    for cents, currency, percent in receipts:
        amount = D(cents) / 100
        retained = policy.round_down(Fraction(cents * percent, 10_000))
        buy, buy_usd = EUR_RATES if currency == "EUR" else (None, None)
        expected = policy.allowed_retention(
            rule=rule, amount=amount, tax_rate=tax_rate, eligible=eligible,
            earlier=earlier, buy=buy, buy_usd=buy_usd,
        )  # fmt: skip
        assert position.allowed(
            rule=rule, amount=amount, tax_rate=tax_rate, eligible=eligible,
            buy=buy, buy_usd=buy_usd,
        ) == expected  # fmt: skip
        assert position.allowed_cents(
            rule=rule, amount=amount, tax_rate=tax_rate, eligible=eligible,
            buy=buy, buy_usd=buy_usd,
        ) == policy.cents(expected)  # fmt: skip
        assert taker.take(
            rule=rule, amount=amount, retained=retained, tax_rate=tax_rate, eligible=eligible,
            buy=buy, buy_usd=buy_usd,
        ) == (policy.cents(expected), policy.cents(retained))  # fmt: skip
        position.add(amount, retained, buy=buy, buy_usd=buy_usd)
        earlier.append(
            MonthItem(
                policy.usd_equivalent(amount, buy=buy, buy_usd=buy_usd),
                policy.usd_equivalent(retained, buy=buy, buy_usd=buy_usd),
            )
        )
    assert (
        taker.item()
        == position.item()
        == MonthItem(
            sum((i.usd_amount for i in earlier), Fraction(0)),
            sum((i.usd_retained for i in earlier), Fraction(0)),
        )
    )


def test_a_backdated_receipt_may_not_push_a_later_one_above_its_limit():
    # 1 Oct: USD 20,000 retained 10,000 (50 %). Backdating USD 2,000 to 30 Sep... of the same
    # month is impossible, so: earlier nothing, a backdated USD 2,000 before the 20,000.
    later = [policy.LaterReceipt(MONTHLY_2023, D("20000.00"), D("9950.00"), PSEB, None, None)]
    fits = policy.later_receipts_fit(
        policy.MonthPosition(), later, amount=D("2000.00"), retained=D("2000.00")
    )
    # With 2,000 retained first the month allows max(11,000, 5,000) − 2,000 = 9,000 < 9,950.
    assert fits is False
    largest = policy.largest_fitting(
        D("2000.00"),
        lambda r: policy.later_receipts_fit(
            policy.MonthPosition(), later, amount=D("2000.00"), retained=r
        ),
    )
    # 11,000 − r ≥ 9,950 ⇔ r ≤ 1,050.
    assert largest == D("1050.00")


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(0, 3000), threshold=st.integers(-1, 3000))
def test_largest_fitting_is_the_largest_cent_that_fits(limit, threshold):
    fits = lambda r: r * 100 <= threshold  # noqa: E731 - monotone
    expected = D(min(limit, threshold)) / 100 if threshold >= 0 else D(0)
    assert policy.largest_fitting(D(limit) / 100, fits) == expected.quantize(D("0.01"))
