"""The compliance flags a bank reviewer sees (rules.md §6), as pure functions.

Each check takes plain rows (anything with the attributes the check reads: the
selectors pass ``values_list(named=True)`` rows) and the rule data in force, and
returns a list of flags ``{"code", "message", "object", "rule"}``; ``rule`` is the
number of the item in rules.md §6. No database and no clock: the selectors load the
rows once for the whole month and pass ``today`` in.

Flags judge recorded data against the rules as they stand *now* (current rule
versions, tax rates, parameters, registration), so they catch what the services could
not refuse at the time: imported data, a rule version edited or added later, a backdated
entry landing in a filed month.
"""

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from esfca import policy

HOME_REMITTANCE = "9471"


def flag(rule: int | None, code: str, message: str, obj: str) -> dict:
    return {"code": code, "message": message, "object": obj, "rule": rule}


def receipt_obj(row) -> str:
    return f"receipt:{row.reference}"


def allocation_obj(row) -> str:
    return f"allocation:{row.reference}"


def conversion_obj(row) -> str:
    return f"conversion:{row.reference}"


# --- rule data in force ---------------------------------------------------------------------

# Which version is in force is policy's decision (policy.in_force), for parameters too.


@dataclass(frozen=True)
class ParameterRow:
    key: str
    effective_from: date
    value: str


class Parameters:
    """Effective-dated parameters read from rows already loaded (one query for all)."""

    def __init__(self, rows: Iterable[ParameterRow]):
        self._rows: dict[str, list[ParameterRow]] = defaultdict(list)
        for row in rows:
            self._rows[row.key].append(row)

    def value_on(self, key: str, on: date) -> str:
        row = policy.in_force(self._rows.get(key, ()), on)
        if row is None:
            raise LookupError(f"Parameter {key} has no value in force on {on}.")
        return row.value

    def values(self, key: str) -> list[str]:
        """Every value the parameter ever had (all its versions)."""
        return [row.value for row in self._rows.get(key, ())]

    def int_on(self, key: str, on: date) -> int:
        return int(self.value_on(key, on))

    def decimal_on(self, key: str, on: date) -> Decimal:
        return Decimal(self.value_on(key, on))

    def set_on(self, key: str, on: date) -> frozenset[str]:
        return frozenset(v.strip() for v in self.value_on(key, on).split(",") if v.strip())


# --- 1. retention above the limit in force ---------------------------------------------------


def _rule_key(rule: policy.RetentionRule | None):
    if rule is None:
        return None
    return (rule.effective_from, rule.ratio, rule.monthly_floor_usd, rule.basis)


def _retention_flag(row, rule, allowed_c: int, retained_c: int) -> dict | None:
    """Flag 1 for one receipt judged against the rule in force now (None: no flag)."""
    day, retained = row.value_date, row.retained
    if rule is None:
        if retained <= 0:
            return None
        return flag(
            1,
            "retention_above_limit",
            f"Retained {retained} {row.currency} but no retention rule is in force on {day}.",
            receipt_obj(row),
        )
    if retained_c > allowed_c:
        allowed = (Decimal(allowed_c) / 100).quantize(policy.CENT)
        return flag(
            1,
            "retention_above_limit",
            f"Retained {retained} {row.currency}; the rules in force allow "
            f"{allowed} {row.currency} for this receipt.",
            receipt_obj(row),
        )
    return None


def _rule_changed_flag(row, rule) -> dict:
    return flag(
        1,
        "retention_rule_changed",
        f"Judged under the rule of {row.rule_effective_from} (ratio "
        f"{row.rule_ratio}, {row.rule_basis}); the rule in force for "
        f"{row.value_date} is now the one of {rule.effective_from} (ratio "
        f"{rule.ratio}, {rule.basis}).",
        receipt_obj(row),
    )


def retention_flags(
    receipts: Sequence,
    *,
    rules: Sequence[policy.RetentionRule],
    firm_kind: str,
    registration_body: str,
    tax_rates: Sequence[policy.TaxRateRow],
    registered_on: Callable[[date], bool],
    ref_rates: Callable[[str, date], tuple[Decimal, Decimal] | None],
) -> list[dict]:
    """§6.1: each receipt's retention recomputed with the rule versions in force *now*.

    ``receipts`` are one calendar month's, in (value date, id) order, the order the
    services judge them in. The month's USD running sums are kept incrementally
    (``policy.MonthPosition``, one pass), so the check costs O(n) whatever the month's
    size. ``ref_rates`` gives ``(buy(C, D), buy(USD, D))`` for receipts recorded without
    stored reference rates, or None when the table has none.
    """
    flags: list[dict] = []
    month = policy.MonthPosition()
    day_of: dict[date, tuple] = {}  # what each value date needs, looked up once per day
    for row in receipts:
        day = row.value_date
        if day not in day_of:
            rule = policy.rule_in_force(rules, firm_kind=firm_kind, on=day)
            tax_rate = policy.tax_rate_in_force(
                tax_rates, registration_body=registration_body, on=day
            )
            day_of[day] = (rule, tax_rate or policy.ZERO, registered_on(day), _rule_key(rule))
        rule, tax_rate, registered, rule_key = day_of[day]
        buy = buy_usd = None
        if row.currency != policy.USD:
            if row.ref_buy is not None and row.ref_buy_usd is not None:
                buy, buy_usd = row.ref_buy, row.ref_buy_usd
            elif (found := ref_rates(row.currency, day)) is not None:
                buy, buy_usd = found
            else:
                if rule is not None and rule.basis == policy.Basis.CALENDAR_MONTH:
                    flags.append(
                        flag(
                            1,
                            "retention_unverifiable",
                            f"No reference rate for {row.currency} on {day}: the "
                            "monthly limit of this receipt cannot be checked.",
                            receipt_obj(row),
                        )
                    )
                continue  # nothing to add to the month's USD sums without a rate
        if rule is None:
            found_flag = _retention_flag(row, None, 0, 0)
            month.add(row.amount, row.retained, buy=buy, buy_usd=buy_usd)
        else:
            stored = (row.rule_effective_from, row.rule_ratio, row.rule_monthly_floor_usd)
            if (*stored, row.rule_basis) != rule_key:
                flags.append(_rule_changed_flag(row, rule))
            allowed_c, retained_c = month.take(
                rule=rule, amount=row.amount, retained=row.retained, tax_rate=tax_rate,
                eligible=registered, buy=buy, buy_usd=buy_usd,
            )  # fmt: skip
            found_flag = _retention_flag(row, rule, allowed_c, retained_c)
        if found_flag:
            flags.append(found_flag)
    return flags


def retention_flags_judged(
    receipts: Sequence, judged: dict, *, rules: Sequence[policy.RetentionRule], firm_kind: str
) -> list[dict]:
    """§6.1 as ``retention_flags`` words it, for receipts the database already judged
    (``retention.months_judged``: ``{id: (changed, over, allowed_c)}``); ``receipts``
    holds at least those, in (value date, id) order."""
    flags: list[dict] = []
    rule_on: dict[date, policy.RetentionRule | None] = {}
    for row in receipts:
        found = judged.get(row.id)
        if found is None:
            continue
        changed, over, allowed_c = found
        day = row.value_date
        if day not in rule_on:
            rule_on[day] = policy.rule_in_force(rules, firm_kind=firm_kind, on=day)
        rule = rule_on[day]
        if changed:
            flags.append(_rule_changed_flag(row, rule))
        if over:
            flags.append(_retention_flag(row, rule, allowed_c, policy.cents(row.retained)))
    return flags


# --- 2. conversion rate below the SBP buying rate ----------------------------------------------


def conversion_rate_flags(
    receipts: Iterable,
    conversions: Iterable,
    *,
    sbp_buy: Callable[[str, date], Decimal | None],
) -> list[dict]:
    """§6.2: converted below SBP's weighted average buying rate of the day, when known."""
    flags = []
    for row in receipts:
        if row.converted <= 0:
            continue
        sbp = sbp_buy(row.currency, row.value_date)
        if sbp is not None and row.conversion_rate < sbp:
            flags.append(
                flag(
                    2,
                    "conversion_rate_below_sbp",
                    f"Converted at {row.conversion_rate}, below SBP's buying rate of {sbp} "
                    f"for {row.currency} on {row.value_date}.",
                    receipt_obj(row),
                )
            )
    for row in conversions:
        sbp = sbp_buy(row.currency, row.value_date)
        if sbp is not None and row.rate < sbp:
            flags.append(
                flag(
                    2,
                    "conversion_rate_below_sbp",
                    f"Converted at {row.rate}, below SBP's buying rate of {sbp} for "
                    f"{row.currency} on {row.value_date}.",
                    conversion_obj(row),
                )
            )
    return flags


# --- 3. conversion booked after the holding period -------------------------------------------


def holding_period_flags(receipts: Iterable, *, holding_days: Callable[[date], int]) -> list[dict]:
    """§6.3: the non-retained part was sold for PKR more than the holding period (working
    days, Monday–Friday) after the value date.

    A receipt's ``converted_on`` is the day the bank converted (the value date unless the
    request said otherwise). Conversions of retained ESFCA funds are free at any time and
    have no holding period.
    """
    flags = []
    for row in receipts:
        converted_on = row.converted_on or row.value_date
        if row.converted <= 0 or converted_on <= row.value_date:
            continue
        limit = holding_days(row.value_date)
        late = policy.working_days_between(row.value_date, converted_on)
        if late > limit:
            flags.append(
                flag(
                    3,
                    "conversion_late",
                    f"Converted on {converted_on}, {late} working days after the value "
                    f"date {row.value_date} (holding period {limit} working days).",
                    receipt_obj(row),
                )
            )
    return flags


# --- 4. purpose code -------------------------------------------------------------------------


def purpose_code_flags(receipts: Iterable, *, export_codes: frozenset[str]) -> list[dict]:
    """§6.4: purpose code missing, or not an export-proceeds code (e.g. 9471)."""
    flags = []
    for row in receipts:
        code = row.purpose_code or ""
        if not code:
            flags.append(
                flag(
                    4, "purpose_code_missing", "The receipt has no purpose code.", receipt_obj(row)
                )
            )
        elif code not in export_codes:
            what = "a home-remittance code" if code == HOME_REMITTANCE else "not an export code"
            flags.append(
                flag(
                    4,
                    "purpose_code_not_export",
                    f"Purpose code {code} is {what}, not export proceeds.",
                    receipt_obj(row),
                )
            )
    return flags


# --- 5. allocations outside the rules --------------------------------------------------------


def allocation_flags(
    allocations: Iterable,
    *,
    active_taxpayer: bool,
    approval_countries: Callable[[date], frozenset[str]],
) -> list[dict]:
    """§6.5: a payee in Pakistan (or a category not permitted), or equity outside §4."""
    flags = []
    for row in allocations:
        refusal = policy.category_refusal(category=row.category, payee_country=row.payee_country)
        if refusal:
            flags.append(flag(5, "allocation_not_permitted", refusal, allocation_obj(row)))
        if row.category == policy.EQUITY:
            if not row.investee_name or not row.investee_country:
                reason = "Overseas equity without an investee name and country."
            else:
                reason = policy.equity_refusal(
                    active_taxpayer=active_taxpayer,
                    investee_country=row.investee_country,
                    sbp_approval_reference=row.sbp_approval_reference,
                    approval_countries=approval_countries(row.value_date),
                )
            if reason:
                flags.append(flag(5, "equity_outside_rules", reason, allocation_obj(row)))
    return flags


# --- 6. round-tripping -----------------------------------------------------------------------


def round_trip_flags(
    receipts: Iterable,
    allocations: Iterable,
    *,
    window_days: Callable[[date], int],
    share: Callable[[date], Decimal],
) -> list[dict]:
    """§6.6: a receipt followed within N days by an allocation of ≥ share × the receipt,
    in the same currency, to a payee in the client's country."""
    by_key: dict[tuple[str, str], list] = defaultdict(list)
    for row in receipts:
        by_key[(row.currency, row.client_country)].append(row)
    for rows in by_key.values():
        rows.sort(key=lambda r: r.value_date)
    flags = []
    for alloc in allocations:
        rows = by_key.get((alloc.currency, alloc.payee_country))
        if not rows:
            continue
        dates = [r.value_date for r in rows]
        # Receipts on or before the allocation, at most the longest window before it.
        hi = bisect.bisect_right(dates, alloc.value_date)
        lo = bisect.bisect_left(dates, alloc.value_date - timedelta(days=366))
        for receipt in rows[lo:hi]:
            days = window_days(receipt.value_date)
            if (alloc.value_date - receipt.value_date).days > days:
                continue
            if Fraction(alloc.amount) >= Fraction(share(receipt.value_date)) * Fraction(
                receipt.amount
            ):
                flags.append(
                    flag(
                        6,
                        "round_tripping",
                        f"{alloc.amount} {alloc.currency} paid to a payee in "
                        f"{alloc.payee_country} on {alloc.value_date}, within {days} days of "
                        f"receipt {receipt.reference} of {receipt.amount} {receipt.currency} "
                        f"from a client in {receipt.client_country}.",
                        allocation_obj(alloc),
                    )
                )
                break  # one flag per allocation
    return flags


# --- 7. registration -------------------------------------------------------------------------


def registration_flags(
    *,
    firm_id: int,
    registration_body: str,
    registration_expires: date | None,
    month_end: date,
    retained_total: Decimal,
) -> list[dict]:
    """§6.7: retention recorded while the registration is missing or expired."""
    if retained_total <= 0:
        return []
    if not registration_body:
        reason = "The firm has no PSEB/P@SHA registration or self-declaration"
    elif registration_expires is not None and registration_expires < month_end:
        reason = f"The firm's {registration_body} registration expired on {registration_expires}"
    else:
        return []
    return [
        flag(
            7,
            "registration_missing",
            f"{reason}, yet {retained_total} was retained this month: no retention is "
            "allowed without it.",
            f"firm:{firm_id}",
        )
    ]


# --- 8. filing -------------------------------------------------------------------------------


def filing_due_date(month_first: date, due_day: int) -> date:
    """The parameter day of the month after the summary's month (clamped to its length);
    December 9999 has no month after it: due on its own last day, the last date there is."""
    last_of_month = policy.month_bounds(month_first)[1]
    if last_of_month == date.max:
        return date.max
    next_first = last_of_month + timedelta(days=1)
    last = policy.month_bounds(next_first)[1]
    return next_first.replace(day=min(due_day, last.day))


def _shown(value) -> str:
    """A figure as text for a diff: nested figures (by category, by country) inline."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(" ".join(str(v) for v in item.values()) for item in value)
    return "" if value is None else str(value)


def figures_diff(filed: list[dict], live: list[dict]) -> list[dict]:
    """Figure by figure, what differs between two lists of per-currency figures (a filed
    revision and the live month, or two revisions): ``currency``, ``figure``, ``before``,
    ``after`` (as text; empty where a currency is absent on one side)."""
    before = {c["currency"]: c for c in filed}
    after = {c["currency"]: c for c in live}
    changes = []
    for currency in sorted(before.keys() | after.keys()):
        a, b = before.get(currency, {}), after.get(currency, {})
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                changes.append(
                    {
                        "currency": currency,
                        "figure": key,
                        "before": _shown(a.get(key)),
                        "after": _shown(b.get(key)),
                    }
                )
    return changes


def figure_changes(filed: list[dict], live: list[dict]) -> list[str]:
    """``"USD retained"`` for each figure that differs between two lists of currencies."""
    return [f"{c['currency']} {c['figure']}" for c in figures_diff(filed, live)]


def flags_compared(frozen: list[dict], now: list[dict]) -> list[dict]:
    """The flags frozen at filing beside the flags as they are now, by code and object:
    each ``{"flag", "state"}`` with state ``open`` (in both), ``new`` (now only) or
    ``resolved`` (at filing only)."""

    def key(f: dict) -> tuple:
        return f.get("code"), f.get("object")

    then = {key(f) for f in frozen}
    current = {key(f) for f in now}
    rows = [{"flag": f, "state": "open" if key(f) in then else "new"} for f in now]
    rows += [{"flag": f, "state": "resolved"} for f in frozen if key(f) not in current]
    return rows


def filing_flags(
    *,
    obj: str,
    due: date,
    filed_on: date | None,
    filed_currencies: list[dict] | None,
    live_currencies: list[dict],
    reversed_on: date | None = None,
) -> list[dict]:
    """§6.8: filed after the due day, or the month changed after filing: its figures (a
    backdated entry landed in a filed month), or a reversal dated in the month was recorded
    after filing (``reversed_on``, the day; rules.md §9), even one that left every figure
    as filed (a conversion's rate corrected, a movement reversed and recorded again)."""
    flags = []
    if filed_on is None:
        return flags  # not filed yet: nothing filed late or changed (the due date is shown)
    if filed_on > due:
        flags.append(flag(8, "filed_late", f"Filed on {filed_on}, after the due date {due}.", obj))
    changes = [] if filed_currencies is None else figure_changes(filed_currencies, live_currencies)
    reasons = []
    if changes:
        reasons.append(
            "The month's figures changed after filing (a backdated entry?): "
            + ", ".join(changes[:12])
            + ("…" if len(changes) > 12 else "")
        )
    if reversed_on is not None:
        reasons.append(
            f"A movement of the month was reversed on {reversed_on}, after filing on "
            f"{filed_on}, even if no figure changed: the month can be filed again."
        )
    if reasons:
        flags.append(flag(8, "changed_after_filing", "; ".join(reasons), obj))
    return flags


# --- 9. tax rate -----------------------------------------------------------------------------


def tax_flags(
    receipts: Iterable, *, registration_body: str, tax_rates: Sequence[policy.TaxRateRow]
) -> list[dict]:
    """§6.9: tax withheld at a rate other than the registration's rate in force.

    The amount itself is computed by ``policy.receipt_split`` from the stored rate when the
    receipt is recorded (single or imported), so the rate is what can go wrong: a firm's
    registration or the tax parameters changed after the fact."""
    flags = []
    expected_on: dict[date, Decimal | None] = {}
    for row in receipts:
        if row.value_date not in expected_on:
            expected_on[row.value_date] = policy.tax_rate_in_force(
                tax_rates, registration_body=registration_body, on=row.value_date
            )
        expected = expected_on[row.value_date]
        if expected is not None and row.tax_rate != expected:
            flags.append(
                flag(
                    9,
                    "tax_rate_mismatch",
                    f"Tax withheld at {row.tax_rate}; the rate for a "
                    f"{registration_body or 'unregistered'} firm on {row.value_date} is "
                    f"{expected}.",
                    receipt_obj(row),
                )
            )
    return flags
