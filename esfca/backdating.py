"""§2 backdating, incrementally: a calendar month's receipts by day, kept so that what a
receipt dated before some of them may retain is read in O(days × log n), and a receipt is
added in amortised O(1), instead of recomputing every later receipt's limit for every
figure tried (``policy.later_receipts_fit`` and ``policy.largest_fitting``: the plain
path, kept as the reference; tests/esfca/test_backdating.py proves the two equal).

Derivation, from rules.md §2. A later receipt j judged under a calendar-month rule
(ratio ρ, floor F) with ``r_j > 0`` retained fits its own limit, recomputed, iff
``r_j ≤ amount_j``, ``r_j ≤`` its tax cap (§3), and ``usd(r_j) ≤ A(P_j) − R_j``, where
``P_j`` is the month's proceeds up to and including j, ``R_j`` what the month retained
before j and ``A(P) = max(ρP, min(F, P))`` (rounding down to the cent loses nothing: r_j
is a whole number of cents). A receipt dated before j, of USD equivalent ``a``, retaining
``x``, adds ``a`` to every such ``P_j`` and ``x`` to every ``R_j``, so every later receipt
fits iff::

    x ≤ room(a) = min over j of  A(P_j + a) − C_j,    C_j = R_j + usd(r_j)

For ρ < 1, ``A(P)`` is ``P`` up to ``F``, ``F`` up to ``F/ρ`` and ``ρP`` beyond. Receipts
only add proceeds, so within one day the receipts of one rule split, for a given ``a``,
into three runs by ``P_j``: on the first the minimum is a prefix minimum of ``P_j − C_j``,
on the second ``F`` less the last ``C_j`` (C only grows), on the third a suffix minimum of
``ρP_j − C_j``. A day's receipts only ever grow at its end (a new receipt comes after the
ones of its own day), so the prefix minima are a list and the suffix minima a monotone
stack, both appended in amortised O(1); a receipt dated ``D`` shifts every later day by the
same ``(a, x)``, which the query adds as it walks the month's (at most 31) days.

Figures are USD cents: integers while the receipts are in USD, exact fractions otherwise.
"""

import functools
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from fractions import Fraction

from . import policy

# What ``room`` answers when a later receipt fits for no figure at all (it is above its
# amount or its tax cap whatever the month): every retention, even 0, is refused.
NOTHING_FITS = -1


def usd_cents(amount: Decimal, *, buy: Decimal | None, buy_usd: Decimal | None):
    """``usd(amount)`` (§2) in cents: an integer for USD, an exact fraction otherwise."""
    if buy is None:
        return policy.cents(amount)
    return policy.usd_equivalent(amount, buy=buy, buy_usd=buy_usd) * 100


class _Run:
    """The receipts of one day judged under one calendar-month rule (ρ = rn/rd, floor F
    in cents) that retained something: their in-day running sums ``p`` (proceeds up to and
    including each) and ``c`` (retained up to and including each), with the prefix minima
    of ``p − c`` and a monotone stack of the suffix minima of ``rn·p − rd·c``."""

    __slots__ = ("c", "exact", "floor_c", "low", "p", "rd", "rn", "stack_at", "stack_value")

    def __init__(self, rn: int, rd: int, floor_c: int):
        self.rn, self.rd, self.floor_c = rn, rd, floor_c
        self.p, self.c, self.low = [], [], []
        self.stack_at, self.stack_value = [], []
        self.exact = True  # every p and c an integer (USD)

    def append(self, p, c) -> None:
        self.exact = self.exact and type(p) is int and type(c) is int
        self.p.append(p)
        self.c.append(c)
        low = p - c
        self.low.append(min(self.low[-1], low) if self.low else low)
        value = self.rn * p - self.rd * c
        while self.stack_value and self.stack_value[-1] >= value:
            self.stack_at.pop()
            self.stack_value.pop()
        self.stack_at.append(len(self.p) - 1)
        self.stack_value.append(value)

    def room_rd(self, before):
        """``rd × min_j A(before + p_j) − C`` over the run, ``C`` counted from the day's
        start (the caller takes off what the month retained before the day)."""
        rn, rd, floor_c, p = self.rn, self.rd, self.floor_c, self.p
        if rn * (before + p[0]) >= rd * floor_c:  # a full month: A(P) = ρP for them all
            return rn * before + self.stack_value[0]
        n = len(p)
        if rn >= rd:  # ρ ≥ 1: A(P) = ρP throughout
            first = third = 0
        else:
            first = bisect_right(p, floor_c - before)  # before + p ≤ F: A = P
            if rn == 0:
                third = n
            else:  # rn·(before + p) ≥ rd·F: A = ρP
                gap = rd * floor_c - rn * before
                limit = -(-gap // rn) if self.exact and type(gap) is int else Fraction(gap, rn)
                third = max(first, bisect_left(p, limit))
        best = None
        if first:
            best = rd * (before + self.low[first - 1])
        if third > first:
            middle = rd * (floor_c - self.c[third - 1])
            best = middle if best is None or middle < best else best
        if third < n:
            at = self.stack_value[bisect_left(self.stack_at, third)]
            last = rn * before + at
            best = last if best is None or last < best else best
        return best


class _Day:
    __slots__ = ("amount", "broken", "retained", "runs")

    def __init__(self):
        self.amount = self.retained = 0  # the day's sums in USD cents
        self.runs: dict[tuple[int, int, int], _Run] = {}
        self.broken = False  # a receipt that fits for no figure


class MonthDays:
    """Receipts of one calendar month by value date, each appended after the ones of its
    own day (the order of ``receipt_month``: value date, then id)."""

    def __init__(self):
        self.days: dict[date, _Day] = {}
        self.dates: list[date] = []

    @classmethod
    def of(cls, receipts: Iterable[tuple[date, policy.LaterReceipt]]) -> "MonthDays":
        month = cls()
        for on, receipt in receipts:
            month.add(on, receipt)
        return month

    def add(self, on: date, receipt: policy.LaterReceipt) -> None:
        day = self.days.get(on)
        if day is None:
            day = self.days[on] = _Day()
            insort(self.dates, on)
        buy, buy_usd = receipt.buy, receipt.buy_usd
        day.amount += usd_cents(receipt.amount, buy=buy, buy_usd=buy_usd)
        day.retained += usd_cents(receipt.retained, buy=buy, buy_usd=buy_usd)
        rule = receipt.rule
        if rule.basis != policy.Basis.CALENDAR_MONTH or receipt.retained <= 0:
            return
        if receipt.retained > receipt.amount or receipt.retained > policy.tax_cap(
            amount=receipt.amount, tax_rate=receipt.tax_rate
        ):
            day.broken = True
            return
        key = _run_key(rule.ratio, rule.monthly_floor_usd)
        run = day.runs.get(key)
        if run is None:
            run = day.runs[key] = _Run(*key)
        run.append(day.amount, day.retained)

    def through(self, on: date) -> policy.MonthPosition:
        """The month of the receipts dated on or before ``on``."""
        position = policy.MonthPosition()
        for day_on in self.dates[: bisect_right(self.dates, on)]:
            day = self.days[day_on]
            _count(position, day.amount, day.retained)
        return position

    def limits(self, after: date) -> bool:
        """Whether a receipt dated after ``after`` limits what one dated ``after`` retains."""
        days = self.days
        return any(
            days[d].runs or days[d].broken for d in self.dates[bisect_right(self.dates, after) :]
        )

    def room(self, after: date, *, proceeds, retained):
        """``room(a)`` of the derivation in USD cents for a receipt dated ``after``: the
        largest USD equivalent it may retain so that every receipt dated after it still
        fits, given ``proceeds`` (the month's up to and including it) and ``retained`` (the
        month's before it), both in cents; None when no later receipt limits it."""
        best = best_rd = None
        for day_on in self.dates[bisect_right(self.dates, after) :]:
            day = self.days[day_on]
            if day.broken:
                return NOTHING_FITS
            for run in day.runs.values():
                value = run.room_rd(proceeds) - run.rd * retained
                if best is None or value * best_rd < best * run.rd:
                    best, best_rd = value, run.rd
            proceeds += day.amount
            retained += day.retained
        if best is None:
            return None
        if best_rd == 1:
            return best
        return best // best_rd if not best % best_rd else Fraction(best, best_rd)


@functools.lru_cache(maxsize=256)
def _run_key(ratio: Decimal, floor_usd: Decimal) -> tuple[int, int, int]:
    """A rule as integers (ρ = rn/rd, the floor in cents): few distinct, asked per receipt."""
    return (*ratio.as_integer_ratio(), policy.cents(floor_usd))


def _count(position: policy.MonthPosition, amount, retained) -> None:
    if type(amount) is int and type(retained) is int:
        position.usd_amount_c += amount
        position.usd_retained_c += retained
    else:
        position.other_amount += Fraction(amount) / 100
        position.other_retained += Fraction(retained) / 100


def position_cents(position: policy.MonthPosition):
    """A month position's proceeds and retained in USD cents."""
    amount, retained = position.usd_amount_c, position.usd_retained_c
    if position.other_amount or position.other_retained:
        amount += position.other_amount * 100
        retained += position.other_retained * 100
    return amount, retained


def backdated_limit(
    month: MonthDays,
    on: date,
    so_far: policy.MonthPosition,
    *,
    amount: Decimal,
    allowed: Decimal,
    buy: Decimal | None = None,
    buy_usd: Decimal | None = None,
) -> Decimal | None:
    """The largest retention, at most ``allowed``, of a receipt dated ``on`` (the month up
    to it ``so_far``) that keeps every receipt of ``month`` dated after it within its own
    limit (§2 backdating); None when none of them limits it. Equal to
    ``policy.largest_fitting(allowed, fits)`` with ``fits`` from
    ``policy.later_receipts_fit``."""
    proceeds, retained = position_cents(so_far)
    room = month.room(
        on, proceeds=proceeds + usd_cents(amount, buy=buy, buy_usd=buy_usd), retained=retained
    )
    if room is None:
        return None
    if room < 0:
        return policy.ZERO
    fitting_c = room if buy is None else room * Fraction(buy_usd) / Fraction(buy)
    fitting = (Decimal(int(fitting_c // 1)) / 100).quantize(policy.CENT)
    return min(allowed, fitting)
