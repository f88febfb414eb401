"""The nine compliance flags of rules.md §6: each provoked, and each silent on clean data.

Flags judge recorded data against the rules as they stand now, so most are provoked the
way they happen in practice: a rule version or a parameter edited later, a registration
that changed, a record imported or booked late.
"""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esfca import policy
from esfca.models import Allocation, Parameter, RetentionRuleVersion, TaxRate
from esfca.summaries import flags as F
from esfca.summaries import services
from esfca.summaries.figures import summary_detail
from exporters.models import Firm
from tests.esfca.summaries.conftest import (
    OCTOBER,
    allocation,
    booked_on,
    conversion,
    rate,
    receipt,
)

pytestmark = pytest.mark.django_db


def live_flags(world, month=OCTOBER):
    return summary_detail(firm=world.firm, month=month)["flags"]


def codes(flags, rule=None):
    return sorted(f["code"] for f in flags if rule is None or f["rule"] == rule)


def of(flags, code):
    return [f for f in flags if f["code"] == code]


@pytest.mark.parametrize("rule", range(1, 10))
def test_clean_month_raises_no_flag(world, rule):
    """The worked month is clean, and looked at before its due date (5 November)."""
    assert codes(live_flags(world), rule) == []


def test_clean_month_after_timely_filing_stays_clean(world):
    with booked_on(date(2025, 11, 7)):
        services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    assert detail["flags"] == []
    assert detail["filed_flags"] == []


# --- 1. retention above the limit in force ---------------------------------------------------


def test_1_rule_edited_later_flags_retention_above_the_limit(world):
    RetentionRuleVersion.objects.filter(
        firm_kind="it_company", effective_from=date(2023, 10, 23)
    ).update(ratio=Decimal("0.30"), monthly_floor_usd=Decimal("0"))
    flags = live_flags(world)
    above = of(flags, "retention_above_limit")
    # 4,000 first: 30 % → 1,200 allowed, 3,990 kept. 20,000 next: 0.3 × 24,000 = 7,200 − 3,990
    # = 3,210 allowed, 8,010 kept. EUR: 1,000 kept; 0.3 × P − 12,000 is below 0: 0 allowed.
    assert [f["object"] for f in above] == ["receipt:OCT-1", "receipt:OCT-2", "receipt:OCT-3"]
    assert "allow 1200.00 USD" in above[0]["message"]
    assert "allow 3210.00 USD" in above[1]["message"]
    assert len(of(flags, "retention_rule_changed")) == 3
    assert all(f["rule"] == 1 for f in above)


def test_1_a_rule_version_added_later_flags_the_stored_rule(world):
    RetentionRuleVersion.objects.create(
        firm_kind="it_company",
        effective_from=date(2025, 10, 7),
        ratio=Decimal("0.50"),
        monthly_floor_usd=Decimal("5000"),
        basis="calendar_month",
    )
    flags = live_flags(world)
    changed = of(flags, "retention_rule_changed")
    assert [f["object"] for f in changed] == ["receipt:OCT-2", "receipt:OCT-3"]
    assert of(flags, "retention_above_limit") == []  # same figures: only the version differs


def test_1_imported_retention_above_the_limit(world):
    """A receipt row that says it kept more than its limit (e.g. imported data)."""
    row = SimpleNamespace(
        reference="IMP-1",
        value_date=date(2025, 10, 6),
        currency="USD",
        amount=Decimal("10000.00"),
        retained=Decimal("9000.00"),
        ref_buy=None,
        ref_buy_usd=None,
        rule_effective_from=date(2023, 10, 23),
        rule_ratio=Decimal("0.5"),
        rule_monthly_floor_usd=Decimal("5000"),
        rule_basis="calendar_month",
    )
    rows = [row]
    rules = [v.as_policy() for v in RetentionRuleVersion.objects.all()]
    tax = [policy.TaxRateRow(t.applies_to, t.effective_from, t.rate) for t in TaxRate.objects.all()]
    flags = F.retention_flags(
        rows, rules=rules, firm_kind="it_company", registration_body="PSEB", tax_rates=tax,
        registered_on=lambda d: True, ref_rates=lambda c, d: None,
    )  # fmt: skip
    assert codes(flags) == ["retention_above_limit"]
    assert "allow 5000.00 USD" in flags[0]["message"]


# --- 2. conversion rate below SBP's buying rate ----------------------------------------------


def test_2_conversion_below_the_sbp_buying_rate(world):
    receipt(world.firm, "OCT-LOW", date(2025, 10, 20), "1000.00", conversion_rate=Decimal("279.5"))
    conversion(world.firm, "CONV-LOW", date(2025, 10, 21), "100.00", rate="280.0000")
    flags = of(live_flags(world), "conversion_rate_below_sbp")
    assert [f["object"] for f in flags] == ["receipt:OCT-LOW", "conversion:CONV-LOW"]
    assert "280.8000" in flags[0]["message"]


def test_2_a_rate_from_another_source_is_not_sbp(world):
    """Only SBP-WACR's rate of the day is the yardstick ("when known")."""
    rate("USD", date(2025, 10, 24), "281.0000", source="MANUAL")
    receipt(world.firm, "OCT-MAN", date(2025, 10, 24), "1000.00", conversion_rate=Decimal("270"))
    assert of(live_flags(world), "conversion_rate_below_sbp") == []


# --- 3. conversion booked after the holding period --------------------------------------------


def test_3_conversion_booked_after_the_holding_period(world):
    # Value date Monday 20 October; converted Friday 24th = 4 working days later (limit 3).
    receipt(
        world.firm,
        "OCT-LATE",
        date(2025, 10, 20),
        "1000.00",
        converted_on=date(2025, 10, 24),
        booked=date(2025, 10, 24),
    )
    # Converted Thursday 23rd = 3 working days: on time.
    receipt(
        world.firm,
        "OCT-OK",
        date(2025, 10, 20),
        "500.00",
        converted_on=date(2025, 10, 23),
        booked=date(2025, 10, 24),
    )
    flags = of(live_flags(world), "conversion_late")
    assert [f["object"] for f in flags] == ["receipt:OCT-LATE"]
    assert "4 working days" in flags[0]["message"]


def test_3_recording_later_is_not_converting_later(world):
    # Backfilled history: recorded weeks after the value date, converted on it.
    receipt(world.firm, "OCT-BACKFILL", date(2025, 10, 20), "1000.00", booked=date(2025, 11, 20))
    conversion(world.firm, "CONV-ANYTIME", date(2025, 10, 21), "100.00", booked=date(2025, 10, 28))
    assert of(live_flags(world), "conversion_late") == []


def test_3_the_holding_period_is_a_parameter(world):
    receipt(
        world.firm,
        "OCT-LATE",
        date(2025, 10, 20),
        "1000.00",
        converted_on=date(2025, 10, 24),
        booked=date(2025, 10, 24),
    )
    Parameter.objects.create(
        key=Parameter.Key.HOLDING_PERIOD_WORKING_DAYS, effective_from=date(2025, 1, 1), value="5"
    )
    assert of(live_flags(world), "conversion_late") == []


# --- 4. purpose code -------------------------------------------------------------------------


def test_4_purpose_code_missing_or_home_remittance(world):
    receipt(world.firm, "OCT-NOCODE", date(2025, 10, 20), "100.00", purpose_code="")
    receipt(world.firm, "OCT-9471", date(2025, 10, 21), "100.00", purpose_code="9471")
    flags = live_flags(world)
    assert [f["object"] for f in of(flags, "purpose_code_missing")] == ["receipt:OCT-NOCODE"]
    assert [f["object"] for f in of(flags, "purpose_code_not_export")] == ["receipt:OCT-9471"]
    assert "home-remittance" in of(flags, "purpose_code_not_export")[0]["message"]


# --- 5. allocations outside the rules ---------------------------------------------------------


def test_5_payee_in_pakistan(world):
    """The service refuses a PK payee; an imported or edited row still gets flagged."""
    alloc = allocation(world.firm, "OCT-PK", date(2025, 10, 22), "100.00", "travel_abroad", "AE")
    Allocation.objects.filter(pk=alloc.pk).update(payee_country="PK")
    flags = of(live_flags(world), "allocation_not_permitted")
    assert [f["object"] for f in flags] == ["allocation:OCT-PK"]
    assert flags[0]["rule"] == 5


def test_5_equity_outside_the_rules(world):
    allocation(
        world.firm, "EQ-1", date(2025, 10, 22), "1000.00", "overseas_equity", "IN",
        investee_name="Bengaluru Labs", investee_country="IN", sbp_approval_reference="SBP/1",
    )  # fmt: skip
    assert of(live_flags(world), "equity_outside_rules") == []
    Firm.objects.filter(pk=world.firm.pk).update(active_taxpayer=False)  # dropped off the ATL
    world.firm.refresh_from_db()
    flags = of(live_flags(world), "equity_outside_rules")
    assert [f["object"] for f in flags] == ["allocation:EQ-1"]
    assert "Active Taxpayer" in flags[0]["message"]


# --- 6. round-tripping -----------------------------------------------------------------------


def test_6_round_tripping_to_the_client_s_country(world):
    receipt(world.firm, "RT-IN", date(2025, 10, 20), "4000.00", client_country="GB")
    # 3,600 = 90 % of 4,000, to a payee in GB within 7 days: flagged.
    allocation(world.firm, "RT-OUT", date(2025, 10, 23), "3600.00", "marketing_abroad", "GB")
    # Just under 90 %: not.
    receipt(world.firm, "RT-IN2", date(2025, 10, 20), "1000.00", client_country="SG")
    allocation(world.firm, "RT-OUT2", date(2025, 10, 21), "899.99", "marketing_abroad", "SG")
    flags = of(live_flags(world), "round_tripping")
    assert [f["object"] for f in flags] == ["allocation:RT-OUT"]
    assert "RT-IN" in flags[0]["message"]


def test_6_round_trip_window_reaches_into_the_next_month(world):
    receipt(world.firm, "RT-IN", date(2025, 10, 28), "4000.00", client_country="GB")
    allocation(world.firm, "RT-OUT", date(2025, 11, 3), "3700.00", "marketing_abroad", "GB")
    assert [f["object"] for f in of(live_flags(world), "round_tripping")] == ["allocation:RT-OUT"]


def test_6_outside_the_window_is_not_round_tripping(world):
    receipt(world.firm, "RT-IN", date(2025, 10, 20), "4000.00", client_country="GB")
    allocation(world.firm, "RT-OUT", date(2025, 10, 28), "3700.00", "marketing_abroad", "GB")
    assert of(live_flags(world), "round_tripping") == []


# --- 7. registration -------------------------------------------------------------------------


def test_7_registration_expired_with_retention(world):
    Firm.objects.filter(pk=world.firm.pk).update(registration_expires=date(2025, 10, 15))
    world.firm.refresh_from_db()
    flags = live_flags(world)
    assert [f["object"] for f in of(flags, "registration_missing")] == [f"firm:{world.firm.pk}"]
    assert "expired on 2025-10-15" in of(flags, "registration_missing")[0]["message"]


def test_7_registration_missing_with_retention(world):
    Firm.objects.filter(pk=world.firm.pk).update(registration_body="")
    world.firm.refresh_from_db()
    flags = live_flags(world)
    assert codes(flags, 7) == ["registration_missing"]
    # Without registration no retention was allowed at all: §6.1 sees it per receipt too.
    assert len(of(flags, "retention_above_limit")) == 3


def test_7_no_retention_no_flag(bare_world):
    Firm.objects.filter(pk=bare_world.firm.pk).update(registration_body="")
    bare_world.firm.refresh_from_db()
    receipt(bare_world.firm, "UNREG", date(2025, 10, 8), "1000.00")  # retains 0.00
    assert codes(live_flags(bare_world), 7) == []


# --- 8. filed late or changed after filing ----------------------------------------------------


def test_8_filed_late(world):
    with booked_on(date(2025, 11, 12)):
        services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    late = of(detail["flags"], "filed_late")
    assert len(late) == 1 and "after the due date 2025-11-10" in late[0]["message"]
    assert codes(detail["filed_flags"]) == ["filed_late"]  # frozen into the snapshot too


def test_8_silent_while_not_filed_even_past_the_due_day(world):
    # Rule 8 is about filing: a draft is not "filed late" yet; the due date is shown instead.
    detail = summary_detail(firm=world.firm, month=OCTOBER)
    assert codes(detail["flags"], 8) == []
    assert detail["due_date"] == "2025-11-10"


def test_8_changed_after_filing(world):
    with booked_on(date(2025, 11, 7)):
        services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    receipt(world.firm, "LATE-BACKDATED", date(2025, 10, 28), "1000.00", booked=date(2025, 10, 28))
    flags = live_flags(world)
    changed = of(flags, "changed_after_filing")
    assert len(changed) == 1
    assert "USD receipts" in changed[0]["message"] and "USD closing" in changed[0]["message"]


# --- 9. tax rate -----------------------------------------------------------------------------


def test_9_tax_withheld_at_another_rate_than_the_registration_s(world):
    # The firm is P@SHA-registered, not PSEB: 1 % applies, 0.25 % was withheld.
    Firm.objects.filter(pk=world.firm.pk).update(registration_body="PASHA")
    world.firm.refresh_from_db()
    flags = of(live_flags(world), "tax_rate_mismatch")
    assert [f["object"] for f in flags] == ["receipt:OCT-1", "receipt:OCT-2", "receipt:OCT-3"]
    assert "0.0100" in flags[0]["message"]


# --- pure helpers ----------------------------------------------------------------------------


def test_filing_due_date_clamps_to_the_month():
    assert F.filing_due_date(date(2025, 10, 1), 10) == date(2025, 11, 10)
    assert F.filing_due_date(date(2026, 1, 1), 31) == date(2026, 2, 28)
    assert F.filing_due_date(date(2025, 12, 1), 10) == date(2026, 1, 10)


# --- §6.1 recomputation agrees with policy.allowed_retention ---------------------------------

RULE = policy.RetentionRule(
    firm_kind="it_company",
    effective_from=date(2023, 10, 23),
    ratio=Decimal("0.50"),
    monthly_floor_usd=Decimal("5000"),
    basis="calendar_month",
)
TAX_ROWS = [policy.TaxRateRow("PSEB", date(2022, 7, 1), Decimal("0.0025"))]


def month_rows(items):
    """Receipts retained exactly at ``policy.allowed_retention`` minus ``under`` cents."""
    rows, earlier = [], []
    for n, (cents, currency, under) in enumerate(items):
        amount = Decimal(cents) / 100
        buy, buy_usd = (
            (Decimal("325.1234"), Decimal("280.6469")) if currency == "EUR" else (None, None)
        )
        allowed = policy.allowed_retention(
            rule=RULE,
            amount=amount,
            tax_rate=Decimal("0.0025"),
            earlier=earlier,
            buy=buy,
            buy_usd=buy_usd,
        )
        retained = max(policy.ZERO, allowed - Decimal(under) / 100)
        earlier.append(
            policy.MonthItem(
                usd_amount=policy.usd_equivalent(amount, buy=buy, buy_usd=buy_usd),
                usd_retained=policy.usd_equivalent(retained, buy=buy, buy_usd=buy_usd),
            )
        )
        rows.append(
            SimpleNamespace(
                reference=f"R{n}", value_date=date(2025, 10, 1 + n), currency=currency,
                amount=amount, retained=retained, ref_buy=buy, ref_buy_usd=buy_usd,
                rule_effective_from=RULE.effective_from, rule_ratio=RULE.ratio,
                rule_monthly_floor_usd=RULE.monthly_floor_usd, rule_basis=RULE.basis,
            )
        )  # fmt: skip
    return rows  # value dates 1..12 October: already in the order they were judged


def recheck(rows):
    return F.retention_flags(
        rows, rules=[RULE], firm_kind="it_company", registration_body="PSEB",
        tax_rates=TAX_ROWS, registered_on=lambda d: True, ref_rates=lambda c, d: None,
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=5_000_000),
            st.sampled_from(["USD", "USD", "EUR"]),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_recomputed_limit_agrees_with_policy(items):
    rows = month_rows(items)
    assert recheck(rows) == []
    # One cent more than allowed on the last receipt is always flagged.
    last = rows[-1]
    allowed = last.retained + Decimal(items[-1][2]) / 100
    rows[-1] = SimpleNamespace(**{**vars(last), "retained": allowed + Decimal("0.01")})
    if rows[-1].retained <= rows[-1].amount:
        assert [f["code"] for f in recheck(rows)] == ["retention_above_limit"]
