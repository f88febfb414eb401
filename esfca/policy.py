"""The money rules of domain/rules.md as pure functions: Decimal in, Decimal out.

No database, no settings. Intermediate values are exact: products of the ``Decimal``
inputs (``product``, which refuses to round), and ``Fraction``s where a rate divides (USD
equivalents, headroom); rounding happens once, at the end, exactly where rules.md §1 says:
limits round down, conversions and tax half up.
"""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

# Exact rounding and the working-day calendar are shared with the ledger; re-exported here
# so that the whole of rules.md reads from this module.
from ledger.exact import add_working_days as add_working_days
from ledger.exact import product as product
from ledger.exact import round_down as round_down
from ledger.exact import round_half_up as round_half_up
from ledger.exact import round_up as round_up
from ledger.exact import working_days_between as working_days_between

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
USD = "USD"


# --- §1 Money arithmetic --------------------------------------------------------------------


# Rounding, exact and once at the end (ledger.exact): round_down for limits, round_half_up
# for conversions and tax, round_up for the tax cap; two places unless asked otherwise.


def usd_equivalent(amount: Decimal, *, buy: Decimal | None, buy_usd: Decimal | None) -> Fraction:
    """``usd(x) = x × buy(C, D) / buy(USD, D)``; for USD itself ``x`` (rules.md §2).

    Pass ``buy=None`` and ``buy_usd=None`` for an amount already in USD.
    """
    if buy is None:
        return Fraction(amount)
    return Fraction(amount) * Fraction(buy) / Fraction(buy_usd)


# --- §2 Retention limit ---------------------------------------------------------------------


class Basis:
    PER_RECEIPT = "per_receipt"
    CALENDAR_MONTH = "calendar_month"


@dataclass(frozen=True)
class RetentionRule:
    firm_kind: str
    effective_from: date
    ratio: Decimal
    monthly_floor_usd: Decimal
    basis: str


def rule_in_force(rules: Iterable[RetentionRule], *, firm_kind: str, on: date):
    """The version of the firm's kind with the latest ``effective_from`` ≤ ``on``, or None."""
    candidates = [r for r in rules if r.firm_kind == firm_kind and r.effective_from <= on]
    return max(candidates, key=lambda r: r.effective_from, default=None)


@dataclass(frozen=True)
class MonthItem:
    """One receipt of the month in USD equivalent (exact)."""

    usd_amount: Fraction
    usd_retained: Fraction


def monthly_allowed_total(
    *, ratio: Decimal, floor_usd: Decimal, proceeds_usd: Fraction
) -> Fraction:
    """``max(ratio × P, min(floor, P))`` (rules.md §2, calendar_month)."""
    return max(_exact(ratio) * proceeds_usd, min(_exact(floor_usd), proceeds_usd))


@functools.lru_cache(maxsize=1024)
def _exact(value: Decimal) -> Fraction:
    """A rule's ratio or floor as a Fraction (few distinct values, asked for every receipt)."""
    return Fraction(value)


_NONE = Fraction(0)


def monthly_headroom_usd(
    *, ratio: Decimal, floor_usd: Decimal, earlier: Sequence[MonthItem], this_usd: Fraction
) -> Fraction:
    proceeds, already = this_usd, _NONE
    for item in earlier:
        proceeds += item.usd_amount
        already += item.usd_retained
    total = monthly_allowed_total(ratio=ratio, floor_usd=floor_usd, proceeds_usd=proceeds)
    headroom = total - already
    return headroom if headroom > 0 else _NONE


def from_usd(usd: Fraction, *, buy: Decimal | None, buy_usd: Decimal | None) -> Fraction:
    """Inverse of ``usd_equivalent``: ``usd × buy(USD, D) / buy(C, D)``."""
    if buy is None:
        return usd
    return usd * Fraction(buy_usd) / Fraction(buy)


def allowed_by_rule(
    *,
    rule: RetentionRule,
    amount: Decimal,
    earlier: Sequence[MonthItem] = (),
    buy: Decimal | None = None,
    buy_usd: Decimal | None = None,
) -> Decimal:
    """Allowed retention of one receipt by its rule version, before the tax cap."""
    if rule.basis == Basis.PER_RECEIPT:
        return round_down(product(rule.ratio, amount))
    this_usd = usd_equivalent(amount, buy=buy, buy_usd=buy_usd)
    headroom = monthly_headroom_usd(
        ratio=rule.ratio, floor_usd=rule.monthly_floor_usd, earlier=earlier, this_usd=this_usd
    )
    return min(amount, round_down(from_usd(headroom, buy=buy, buy_usd=buy_usd)))


# --- §3 Conversion and tax ------------------------------------------------------------------


def tax_cap(*, amount: Decimal, tax_rate: Decimal) -> Decimal:
    """The converted part must cover the tax: retention ≤ amount − round_up(amount × rate)."""
    return amount - round_up(product(amount, tax_rate))


def allowed_retention(
    *,
    rule: RetentionRule,
    amount: Decimal,
    tax_rate: Decimal,
    eligible: bool = True,
    earlier: Sequence[MonthItem] = (),
    buy: Decimal | None = None,
    buy_usd: Decimal | None = None,
) -> Decimal:
    """The figure ``retain: "max"`` takes: the rule's limit, then the tax cap (§2–§3).

    A firm without a valid registration may retain nothing (§6 flag 7).
    """
    if not eligible:
        return ZERO
    by_rule = allowed_by_rule(rule=rule, amount=amount, earlier=earlier, buy=buy, buy_usd=buy_usd)
    return max(ZERO, min(by_rule, tax_cap(amount=amount, tax_rate=tax_rate)))


@dataclass(frozen=True)
class Split:
    retained: Decimal
    converted: Decimal
    pkr_gross: Decimal
    tax_withheld: Decimal
    pkr_credited: Decimal


def receipt_split(
    *, amount: Decimal, retained: Decimal, conversion_rate: Decimal, tax_rate: Decimal
) -> Split:
    """§3: tax on the gross proceeds, withheld from the PKR side."""
    converted = amount - retained
    pkr_gross = round_half_up(product(converted, conversion_rate))
    tax = round_half_up(product(amount, conversion_rate, tax_rate))
    return Split(
        retained=retained,
        converted=converted,
        pkr_gross=pkr_gross,
        tax_withheld=tax,
        pkr_credited=pkr_gross - tax,
    )


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount × rate`` rounded half up to the minor unit."""
    return round_half_up(product(amount, rate))


# --- §4 Allocations -------------------------------------------------------------------------

CURRENT = "current"
CAPITAL = "capital"
CATEGORIES = {
    "cloud_infrastructure": CURRENT,
    "software_subscriptions": CURRENT,
    "marketing_abroad": CURRENT,
    "professional_fees_abroad": CURRENT,
    "staff_salaries_abroad": CURRENT,
    "foreign_office_expenses": CURRENT,
    "travel_abroad": CURRENT,
    "training_certification": CURRENT,
    "dividends_abroad": CURRENT,
    "overseas_equity": CAPITAL,
}
EQUITY = "overseas_equity"
HOME_COUNTRY = "PK"


def category_refusal(*, category: str, payee_country: str) -> str | None:
    """Why a category/payee is not permitted (§4), or None when it is."""
    if category not in CATEGORIES:
        return f"'{category}' is not a permitted ESFCA category."
    if payee_country == HOME_COUNTRY:
        return (
            "Payees in Pakistan are paid in PKR after conversion; an ESFCA pays only payees abroad."
        )
    return None


def equity_refusal(
    *,
    active_taxpayer: bool,
    investee_country: str,
    sbp_approval_reference: str,
    approval_countries: Iterable[str],
) -> str | None:
    if not active_taxpayer:
        return "Overseas equity needs the firm on FBR's Active Taxpayer List."
    if investee_country in set(approval_countries) and not sbp_approval_reference:
        return f"Investment in {investee_country} needs a prior SBP approval reference."
    return None


@dataclass(frozen=True)
class EquityCapRule:
    effective_from: date
    firm_kind: str  # "" applies to every kind
    basis: str  # "export_average" or "esfca_balance"
    ratio: Decimal = Decimal("0.10")
    floor_usd: Decimal = Decimal("100000")


def equity_rule_in_force(rules: Iterable[EquityCapRule], *, firm_kind: str, on: date):
    applicable = [r for r in rules if r.effective_from <= on and r.firm_kind in ("", firm_kind)]
    # The most specific (own kind) version wins over a general one of the same or older date.
    return max(applicable, key=lambda r: (r.effective_from, r.firm_kind == firm_kind), default=None)


def equity_cap_usd(
    *, rule: EquityCapRule, yearly_proceeds_usd: Sequence[Fraction]
) -> Fraction | None:
    """§4 cap in USD for the calendar year, or None when only the ESFCA balance limits it."""
    if rule.basis == "esfca_balance":
        return None
    average = sum(yearly_proceeds_usd, Fraction(0)) / 3
    return max(Fraction(rule.ratio) * average, Fraction(rule.floor_usd))


# --- Calendar helpers -----------------------------------------------------------------------


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    return first, next_first - timedelta(days=1)


def herfindahl(shares: Iterable[Decimal]) -> Fraction:
    """Client concentration: the sum of squared shares (1 = one client only)."""
    values = [Fraction(s) for s in shares]
    total = sum(values, Fraction(0))
    if not total:
        return Fraction(0)
    return sum(((v / total) ** 2 for v in values), Fraction(0))
