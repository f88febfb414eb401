"""§2 backdating, incrementally (esfca.backdating) against the plain path
(policy.later_receipts_fit and policy.largest_fitting), on many random months."""

from datetime import date
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from esfca import backdating, policy

RULES = [
    policy.RetentionRule("it_company", date(2023, 10, 23), D("0.50"), D("5000"), "calendar_month"),
    policy.RetentionRule("it_company", date(2023, 10, 1), D("0.35"), D("0"), "calendar_month"),
    policy.RetentionRule("freelancer", date(2023, 10, 2), D("0.40"), D("5000"), "calendar_month"),
    policy.RetentionRule("freelancer", date(2023, 10, 3), D("0.00"), D("800"), "calendar_month"),
    policy.RetentionRule("freelancer", date(2023, 10, 4), D("1.00"), D("5000"), "calendar_month"),
    policy.RetentionRule("it_company", date(2021, 2, 19), D("0.35"), D("0"), "per_receipt"),
]
# (buy, buy_usd) of the reference rates: USD itself, then others at a few rates.
RATES = [(None, None), (D("300.1234"), D("280.5000")), (D("76.3817"), D("280.5000"))]
TAXES = [D("0"), D("0.0025"), D("0.01"), D("0.6")]
ON = date(2025, 11, 10)

cents = st.integers(min_value=1, max_value=2_000_000)


@st.composite
def receipts(draw, days):
    """A receipt of the month as judged: its figures, and a retention drawn as its
    allowed figure at the time, part of it, nothing, or anything up to the amount."""
    day = draw(days)
    rule = draw(st.sampled_from(RULES))
    buy, buy_usd = draw(st.sampled_from(RATES))
    amount = D(draw(cents)) / 100
    tax_rate = draw(st.sampled_from(TAXES))
    share = draw(st.sampled_from(["allowed", "part", "none", "any"]))
    fraction = D(draw(st.integers(min_value=0, max_value=100))) / 100
    return day, rule, amount, tax_rate, buy, buy_usd, share, fraction


def judged(position, drawn) -> tuple[date, policy.LaterReceipt]:
    """The receipt as it was judged in the month so far (``position``, then counted in)."""
    day, rule, amount, tax_rate, buy, buy_usd, share, fraction = drawn
    allowed = position.allowed(
        rule=rule, amount=amount, tax_rate=tax_rate, buy=buy, buy_usd=buy_usd
    )
    retained = {
        "allowed": allowed,
        "part": (allowed * fraction).quantize(policy.CENT),
        "none": policy.ZERO,
        "any": (amount * fraction).quantize(policy.CENT),
    }[share]
    position.add(amount, retained, buy=buy, buy_usd=buy_usd)
    return day, policy.LaterReceipt(rule, amount, retained, tax_rate, buy, buy_usd)


@settings(max_examples=600, deadline=None)
@given(
    earlier=st.lists(receipts(st.dates(date(2025, 11, 1), ON)), max_size=6),
    later=st.lists(receipts(st.dates(date(2025, 11, 11), date(2025, 11, 30))), max_size=12),
    amount=cents,
    rates=st.sampled_from(RATES),
    candidates=st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=1, max_size=4),
    allowed=st.integers(min_value=0, max_value=2_000_000),
)
def test_the_incremental_check_is_the_plain_one(earlier, later, amount, rates, candidates, allowed):
    """A month of receipts in date order (several rules, currencies, the floor, tax caps),
    then one dated ``ON`` before the later ones: whether a retention fits, and the largest
    that fits, read from ``MonthDays`` as the import keeps it (the whole month) equal the
    plain recomputation of every later receipt."""
    earlier = sorted(earlier, key=lambda r: r[0])
    later = sorted(later, key=lambda r: r[0])
    plain = policy.MonthPosition()
    month = backdating.MonthDays()
    before = [judged(plain, drawn) for drawn in earlier]
    so_far = plain.copy()
    after = [judged(plain, drawn) for drawn in later]
    for on, receipt in before + after:  # the order receipts are kept in: date, then id
        month.add(on, receipt)
    amount, allowed = D(amount) / 100, D(allowed) / 100
    buy, buy_usd = rates
    through = month.through(ON)
    assert (through.proceeds_usd, through.retained_usd) == (
        so_far.proceeds_usd,
        so_far.retained_usd,
    )

    def fits(retained: D) -> bool:
        return policy.later_receipts_fit(
            so_far, [r for _, r in after], amount=amount, retained=retained, buy=buy,
            buy_usd=buy_usd,
        )  # fmt: skip

    room = month.room(
        ON,
        proceeds=backdating.position_cents(through)[0]
        + backdating.usd_cents(amount, buy=buy, buy_usd=buy_usd),
        retained=backdating.position_cents(through)[1],
    )
    for candidate in candidates:
        retained = D(candidate) / 100
        fast = room is None or backdating.usd_cents(retained, buy=buy, buy_usd=buy_usd) <= room
        assert fast == fits(retained)
    limits = any(r.rule.basis == policy.Basis.CALENDAR_MONTH and r.retained > 0 for _, r in after)
    assert month.limits(ON) == limits
    expected = policy.largest_fitting(allowed, fits) if limits else None
    assert (
        backdating.backdated_limit(
            month, ON, through, amount=amount, allowed=allowed, buy=buy, buy_usd=buy_usd
        )
        == expected
    )


@settings(max_examples=300, deadline=None)
@given(later=st.lists(receipts(st.dates(date(2025, 11, 11), date(2025, 11, 30))), max_size=10))
def test_receipts_added_one_at_a_time_anywhere_in_the_month(later):
    """Backdated receipts inserted one after another at earlier and earlier days (each
    taking the largest figure that fits, as ``max`` does): the structure kept up to date
    answers as one built afresh and as the plain path."""
    month = backdating.MonthDays()
    kept: list[tuple[date, policy.LaterReceipt]] = []
    plain = policy.MonthPosition()
    for drawn in sorted(later, key=lambda r: r[0]):
        on, receipt = judged(plain, drawn)
        month.add(on, receipt)
        kept.append((on, receipt))
    for day in (9, 7, 7, 3, 1):
        on = date(2025, 11, day)
        amount = D("4000.00")
        so_far = month.through(on)
        allowed = so_far.allowed(rule=RULES[0], amount=amount, tax_rate=D("0.0025"))
        later_ones = [r for d, r in kept if d > on]

        def fits(retained, so_far=so_far, later_ones=later_ones, amount=amount):
            return policy.later_receipts_fit(so_far, later_ones, amount=amount, retained=retained)

        limit = backdating.backdated_limit(month, on, so_far, amount=amount, allowed=allowed)
        limits = month.limits(on)
        assert limit == (policy.largest_fitting(allowed, fits) if limits else None)
        retained = allowed if limit is None else limit
        receipt = policy.LaterReceipt(RULES[0], amount, retained, D("0.0025"), None, None)
        month.add(on, receipt)
        kept.append((on, receipt))
        kept.sort(key=lambda r: r[0])  # stable: a new receipt after the ones of its day
        afresh = backdating.MonthDays.of(kept)
        probe = date(2025, 11, 1)
        first = month.through(probe)
        cents_in = backdating.position_cents(first)
        assert month.room(probe, proceeds=cents_in[0] + 100, retained=cents_in[1]) == afresh.room(
            probe, proceeds=cents_in[0] + 100, retained=cents_in[1]
        )


def test_the_worked_example_of_test_policy():
    # Earlier nothing, a backdated USD 2,000 before a USD 20,000 that retained 10,000 of a
    # month that allows 11,000 with both: at most 1,000.00 fits (rules.md §2).
    later = policy.LaterReceipt(RULES[0], D("20000.00"), D("10000.00"), D("0"), None, None)
    month = backdating.MonthDays.of([(date(2025, 11, 20), later)])
    limit = backdating.backdated_limit(
        month, date(2025, 11, 5), policy.MonthPosition(), amount=D("2000.00"), allowed=D("2000")
    )
    assert limit == D("1000.00")
