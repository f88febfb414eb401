"""The money rules of domain/rules.md as pure functions: Decimal in, Decimal out.

No database, no settings. Intermediate values are exact: products of the ``Decimal``
inputs (``product``, which refuses to round), and ``Fraction``s where a rate divides (USD
equivalents, headroom); rounding happens once, at the end, exactly where rules.md §1 says:
limits round down, conversions and tax half up.
"""

import calendar
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

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


def in_force(versions: Iterable, on: date):
    """The version with the latest ``effective_from`` on or before ``on``, or None: how every
    effective-dated rule, rate and parameter is chosen (rules.md §2, §3, §8)."""
    return max(
        (v for v in versions if v.effective_from <= on),
        key=lambda v: v.effective_from,
        default=None,
    )


def rule_in_force(rules: Iterable[RetentionRule], *, firm_kind: str, on: date):
    """The version of the firm's kind with the latest ``effective_from`` ≤ ``on``, or None."""
    return in_force((r for r in rules if r.firm_kind == firm_kind), on)


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


PSEB = "PSEB"
OTHER = "OTHER"


def tax_applies_to(registration_body: str) -> str:
    """§3: PSEB-registered firms withhold at their own rate; everyone else at the other."""
    return PSEB if registration_body == PSEB else OTHER


@dataclass(frozen=True)
class TaxRateRow:
    applies_to: str  # PSEB or OTHER
    effective_from: date
    rate: Decimal


def tax_rate_in_force(rates: Iterable[TaxRateRow], *, registration_body: str, on: date):
    """§3: the withholding rate of the firm's registration on a day (None: no rate yet)."""
    applies_to = tax_applies_to(registration_body)
    row = in_force((r for r in rates if r.applies_to == applies_to), on)
    return row.rate if row is not None else None


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


# --- §2 The month so far, and backdating -----------------------------------------------------


def cents(amount: Decimal) -> int:
    """An amount of the minor unit (2 places) as integer cents, exactly."""
    n, d = amount.as_integer_ratio()
    return n * 100 // d


class MonthPosition:
    """The running USD sums of a calendar month's receipts (§2), one receipt at a time.

    ``allowed`` is ``allowed_retention`` with the month so far as ``earlier``: exactly the
    same figure (a property test checks it), in integer cents while the month and the
    receipt are all USD, in exact fractions once another currency joins.
    """

    __slots__ = ("_terms", "other_amount", "other_retained", "usd_amount_c", "usd_retained_c")

    def __init__(self):
        self.usd_amount_c = self.usd_retained_c = 0  # USD receipts, in cents
        self.other_amount = self.other_retained = Fraction(0)  # others' USD equivalents
        self._terms = None  # the last (rule, tax rate, _UsdTerms) asked: a month has few

    def copy(self) -> "MonthPosition":
        twin = MonthPosition()
        twin.usd_amount_c, twin.usd_retained_c = self.usd_amount_c, self.usd_retained_c
        twin.other_amount, twin.other_retained = self.other_amount, self.other_retained
        return twin

    def add(self, amount: Decimal, retained: Decimal, *, buy=None, buy_usd=None) -> None:
        """Count a receipt (or a sum of receipts of one day and rates) into the month."""
        if buy is None:
            self.usd_amount_c += cents(amount)
            self.usd_retained_c += cents(retained)
        else:
            self.other_amount += usd_equivalent(amount, buy=buy, buy_usd=buy_usd)
            self.other_retained += usd_equivalent(retained, buy=buy, buy_usd=buy_usd)

    def add_item(self, item: MonthItem) -> None:
        self.other_amount += item.usd_amount
        self.other_retained += item.usd_retained

    @property
    def proceeds_usd(self) -> Fraction:
        return Fraction(self.usd_amount_c, 100) + self.other_amount

    @property
    def retained_usd(self) -> Fraction:
        return Fraction(self.usd_retained_c, 100) + self.other_retained

    def item(self) -> MonthItem:
        """The month so far as one ``MonthItem`` (what ``earlier`` sums to)."""
        return MonthItem(usd_amount=self.proceeds_usd, usd_retained=self.retained_usd)

    def allowance_usd(self, rule: RetentionRule, *, eligible: bool = True) -> Fraction:
        """What the whole month may retain in USD under ``rule`` (the dashboard's headroom)."""
        if not eligible:
            return _NONE
        proceeds = self.proceeds_usd
        if rule.basis == Basis.CALENDAR_MONTH:
            return monthly_allowed_total(
                ratio=rule.ratio, floor_usd=rule.monthly_floor_usd, proceeds_usd=proceeds
            )
        return _exact(rule.ratio) * proceeds

    def allowed(
        self,
        *,
        rule: RetentionRule,
        amount: Decimal,
        tax_rate: Decimal,
        eligible: bool = True,
        buy: Decimal | None = None,
        buy_usd: Decimal | None = None,
    ) -> Decimal:
        """``allowed_retention`` of one more receipt, the month so far as ``earlier``."""
        if not eligible:
            return ZERO
        if buy is not None or self.other_amount or self.other_retained:
            return allowed_retention(
                rule=rule, amount=amount, tax_rate=tax_rate, earlier=[self.item()],
                buy=buy, buy_usd=buy_usd,
            )  # fmt: skip
        allowed_c = self._usd_allowed_cents(_usd_terms(rule, tax_rate), cents(amount))
        return (Decimal(allowed_c) / 100).quantize(CENT)

    def allowed_cents(self, **figures) -> int:
        """``allowed`` in integer cents."""
        if (
            figures.get("eligible", True)
            and figures.get("buy") is None
            and not (self.other_amount or self.other_retained)
        ):
            terms = _usd_terms(figures["rule"], figures["tax_rate"])
            return self._usd_allowed_cents(terms, cents(figures["amount"]))
        return cents(self.allowed(**figures))

    def take(
        self,
        *,
        rule: RetentionRule,
        amount: Decimal,
        retained: Decimal,
        tax_rate: Decimal,
        eligible: bool = True,
        buy: Decimal | None = None,
        buy_usd: Decimal | None = None,
    ) -> tuple[int, int]:
        """Judge one more receipt and count it in: ``(allowed, retained)`` in integer cents.

        What flag 1 does receipt by receipt: ``allowed_cents`` then ``add``, converting
        each amount to cents once.
        """
        if buy is None and not (self.other_amount or self.other_retained):
            amount_c, retained_c = cents(amount), cents(retained)
            allowed_c = (
                self._usd_allowed_cents(self._terms_of(rule, tax_rate), amount_c) if eligible else 0
            )
            self.usd_amount_c += amount_c
            self.usd_retained_c += retained_c
            return allowed_c, retained_c
        allowed = self.allowed(
            rule=rule, amount=amount, tax_rate=tax_rate, eligible=eligible,
            buy=buy, buy_usd=buy_usd,
        )  # fmt: skip
        allowed_c = cents(allowed)
        self.add(amount, retained, buy=buy, buy_usd=buy_usd)
        return allowed_c, cents(retained)

    def _terms_of(self, rule: RetentionRule, tax_rate: Decimal) -> "_UsdTerms":
        last = self._terms
        if last is None or last[0] is not rule or last[1] is not tax_rate:
            last = self._terms = (rule, tax_rate, _usd_terms(rule, tax_rate))
        return last[2]

    def _usd_allowed_cents(self, terms: "_UsdTerms", amount_c: int) -> int:
        """The integer fast path: a USD receipt in a month of USD receipts only."""
        per_receipt, rn, rd, floor_c, tn, td = terms
        if per_receipt:
            by_rule_c = rn * amount_c // rd
        else:  # the same fractions as monthly_headroom_usd, over the common denominator rd
            total_c = self.usd_amount_c + amount_c
            allowed_total_rd = max(rn * total_c, rd * min(floor_c, total_c))
            headroom_rd = max(0, allowed_total_rd - rd * self.usd_retained_c)
            by_rule_c = min(amount_c, headroom_rd // rd)
        cap_c = amount_c + (amount_c * tn // -td)  # amount − round_up(amount × rate)
        return max(0, min(by_rule_c, cap_c))


class _UsdTerms(NamedTuple):
    """A rule and a tax rate as integers, for the integer fast path."""

    per_receipt: bool
    rn: int  # the rule's ratio rn/rd
    rd: int
    floor_c: int  # the monthly floor in cents
    tn: int  # the tax rate tn/td
    td: int


@functools.lru_cache(maxsize=1024)
def _usd_terms(rule: RetentionRule, tax_rate: Decimal) -> _UsdTerms:
    """Few distinct (rule, rate) pairs, asked per receipt: computed once each."""
    rn, rd = rule.ratio.as_integer_ratio()
    tn, td = tax_rate.as_integer_ratio()
    floor_c = cents(rule.monthly_floor_usd)
    return _UsdTerms(rule.basis == Basis.PER_RECEIPT, rn, rd, floor_c, tn, td)


@dataclass(frozen=True)
class LaterReceipt:
    """A receipt of the month dated after a backdated one, as it was judged (§2)."""

    rule: RetentionRule
    amount: Decimal
    retained: Decimal
    tax_rate: Decimal
    buy: Decimal | None
    buy_usd: Decimal | None


def later_receipts_fit(
    position: MonthPosition,
    later: Sequence[LaterReceipt],
    *,
    amount: Decimal,
    retained: Decimal,
    buy: Decimal | None = None,
    buy_usd: Decimal | None = None,
) -> bool:
    """§2 backdating: with this receipt added to the month so far, every later receipt of
    the month still fits its own limit, each recomputed from the month before it."""
    month = position.copy()
    month.add(amount, retained, buy=buy, buy_usd=buy_usd)
    for receipt in later:
        if receipt.rule.basis == Basis.CALENDAR_MONTH and receipt.retained > 0:
            allowed = month.allowed(
                rule=receipt.rule, amount=receipt.amount, tax_rate=receipt.tax_rate,
                buy=receipt.buy, buy_usd=receipt.buy_usd,
            )  # fmt: skip
            if receipt.retained > allowed:
                return False
        month.add(receipt.amount, receipt.retained, buy=receipt.buy, buy_usd=receipt.buy_usd)
    return True


def largest_fitting(limit: Decimal, fits: Callable[[Decimal], bool]) -> Decimal:
    """The largest retention in cents ≤ ``limit`` for which ``fits`` holds (``fits`` is
    monotone: less retained never pushes a later receipt over), by bisection (§2)."""
    low, high = 0, cents(limit)
    if not fits(ZERO):
        return ZERO
    while low < high:
        mid = (low + high + 1) // 2
        if fits(Decimal(mid) / 100):
            low = mid
        else:
            high = mid - 1
    return (Decimal(low) / 100).quantize(CENT)


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
    """The first and last day of ``day``'s month (December 9999 included: no day after)."""
    first = day.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def day_after(day: date, days: int = 1) -> date:
    """``day`` plus ``days``, or the last day a date can hold (9999-12-31) past it."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def herfindahl(shares: Iterable[Decimal]) -> Fraction:
    """Client concentration: the sum of squared shares (1 = one client only)."""
    values = [Fraction(s) for s in shares]
    total = sum(values, Fraction(0))
    if not total:
        return Fraction(0)
    return sum(((v / total) ** 2 for v in values), Fraction(0))
