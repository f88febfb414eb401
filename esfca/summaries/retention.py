"""The receipts of a month that a flag may name, found by the database in one pass over the
month's receipts, with flag 1 (rules.md §6.1) judged there too: no Python pass over every
receipt.

Flag 1 is ``policy.MonthPosition.take``'s integer path, receipt by receipt in (value date,
id) order, written in SQL over exact integers (``numeric`` cents, ``div`` for the floor
division of non-negative operands): the month's running sums are window sums; the rule,
tax rate and eligibility in force now come from Python (``policy.rule_in_force``,
``policy.tax_rate_in_force``, the firm's registration) as one row per day of the month.
Flags 2, 3, 4, 6 and 9 judge each receipt on its own row (flag 6 stops at the first
receipt that fits an allocation, in date order, which dropping receipts that cannot fit
leaves unchanged): the query keeps every receipt they could name and few others, and
``flags.py`` judges those as it would judge the whole month. Tests
(tests/esfca/summaries/test_stored.py, a property test among them) check that the summary
is the same as from every receipt.

Flag 1 is judged so for firms whose month holds USD receipts only (the stored tallies say
so): a receipt in another currency is judged in exact fractions of reference rates, which
this path does not do; the same query returns every receipt of such a firm's month, and
``flags.retention_flags`` judges them in Python.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from django.db import connection

from esfca import policy
from esfca.models import Parameter, Receipt

# What the database says of one receipt for flag 1: the stored rule differs from the rule
# in force now; the retention is above what that rule allows; what it allows, in cents.
Judged = tuple[bool, bool, int]

_SQL = """
WITH p (profile, day, has_rule, per_receipt, rn, rd, floor_c, tn, td, eff, ratio, floor_usd,
        basis, tax_now) AS (VALUES {days}),
f (firm_id, profile, registered, expires, every) AS (VALUES {firms}),
sbp (currency, day, buy) AS (VALUES {sbp}),
rt (firm_id, currency, country, since, until, bound) AS (VALUES {trips}),
r AS (
    SELECT s.*, s.amount * 100 AS a_, s.retained * 100 AS k_,
           sum(s.amount * 100) OVER w AS run_a_,
           sum(s.retained * 100) OVER w - s.retained * 100 AS before_k_
    FROM ({receipts}) AS s ({columns})
    WINDOW w AS (PARTITION BY s.firm_id ORDER BY s.value_date, s.id ROWS UNBOUNDED PRECEDING)
),
j AS (
    SELECT r.*, p.has_rule AS has_rule_,
           p.has_rule AND (r.rule_effective_from IS DISTINCT FROM p.eff
               OR r.rule_ratio IS DISTINCT FROM p.ratio
               OR r.rule_monthly_floor_usd IS DISTINCT FROM p.floor_usd
               OR r.rule_basis IS DISTINCT FROM p.basis) AS changed_,
           CASE WHEN NOT (f.registered AND (f.expires IS NULL OR f.expires >= r.value_date))
                     OR NOT p.has_rule THEN 0
                ELSE greatest(0, least(
                    CASE WHEN p.per_receipt THEN div(p.rn * r.a_, p.rd)
                         ELSE least(r.a_, div(greatest(0,
                             greatest(p.rn * r.run_a_, p.rd * least(p.floor_c, r.run_a_))
                             - p.rd * r.before_k_), p.rd))
                    END,
                    r.a_ - div(r.a_ * p.tn + p.td - 1, p.td)))
           END AS allowed_,
           (r.converted > 0 AND (r.conversion_rate < sbp.buy OR r.converted_on > r.value_date))
           OR r.purpose_code = '' OR r.purpose_code <> ALL (%s)
           OR (p.tax_now IS NOT NULL AND r.tax_rate <> p.tax_now)
           OR f.every
           OR EXISTS (SELECT 1 FROM rt WHERE rt.firm_id = r.firm_id
                      AND rt.currency = r.currency AND rt.country = r.client_country
                      AND r.value_date BETWEEN rt.since AND rt.until
                      AND (rt.bound IS NULL OR r.amount <= rt.bound)) AS named_
    FROM r JOIN f ON f.firm_id = r.firm_id
    JOIN p ON p.profile = f.profile AND p.day = r.value_date
    LEFT JOIN sbp ON sbp.currency = r.currency AND sbp.day = r.value_date
),
o AS (
    SELECT j.*, CASE WHEN has_rule_ THEN k_ > allowed_ ELSE k_ > 0 END AS over_ FROM j
)
SELECT {columns}, changed_, over_, allowed_ FROM o
WHERE changed_ OR over_ OR named_
ORDER BY firm_id, value_date, id
"""


@dataclass
class Named:
    """One firm's month: the receipts a flag may name (in value date, id order), and flag
    1's findings among them (``{receipt id: (changed, over, allowed_c)}``); for a month
    with other currencies than USD, every receipt and None (flag 1 is judged in Python)."""

    receipts: list
    judged: dict[int, Judged] | None


def _day_row(profile: int, day: date, rule, tax_rate) -> list:
    tn, td = (tax_rate or policy.ZERO).as_integer_ratio()
    if rule is None:
        return [profile, day, False, False, 0, 1, 0, tn, td, None, None, None, None, tax_rate]
    rn, rd = rule.ratio.as_integer_ratio()
    return [
        profile, day, True, rule.basis == policy.Basis.PER_RECEIPT, rn, rd,
        policy.cents(rule.monthly_floor_usd), tn, td,
        rule.effective_from, rule.ratio, rule.monthly_floor_usd, rule.basis, tax_rate,
    ]  # fmt: skip


_DAY_TYPES = (
    "int", "date", "boolean", "boolean", "numeric", "numeric", "numeric", "numeric", "numeric",
    "date", "numeric", "numeric", "text", "numeric",
)  # fmt: skip
_FIRM_TYPES = ("bigint", "int", "boolean", "date", "boolean")
_SBP_TYPES = ("text", "date", "numeric")
_TRIP_TYPES = ("bigint", "text", "text", "date", "date", "numeric")


def _values(rows: list[list], types: tuple[str, ...]) -> tuple[str, list]:
    """A VALUES list of typed placeholders (one row of NULLs that matches nothing when
    there are no rows)."""
    one = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
    if not rows:
        return one, [None] * len(types)
    return ", ".join([one] * len(rows)), [v for row in rows for v in row]


def _smallest_share(parameters, days: list[date]) -> Fraction | None:
    """The smallest round-trip share in force on any of ``days``; None when it cannot bound
    anything (none in force on a day, or one not above zero)."""
    shares = set()
    for day in days:
        try:
            shares.add(parameters.decimal_on(Parameter.Key.ROUND_TRIP_SHARE, day))
        except LookupError:
            return None
    smallest = min(shares, default=None)
    return Fraction(smallest) if smallest is not None and smallest > 0 else None


def _trips(months: list, days: list[date], parameters) -> list[list]:
    """Flag 6's reach per firm, currency and payee country: receipts up to a year before
    one of the firm's allocations, small enough for the month's smallest round-trip share
    of the largest of them to reach (amounts are whole cents: the bound is rounded down)."""
    smallest = _smallest_share(parameters, days)
    rows = []
    for data in months:
        pairs: dict[tuple, list] = {}
        for a in (*data.allocations, *data.allocations_after):
            pair = pairs.setdefault((a.currency, a.payee_country), [a.value_date, a.value_date, 0])
            pair[0], pair[1] = min(pair[0], a.value_date), max(pair[1], a.value_date)
            pair[2] = max(pair[2], a.amount)
        for (currency, country), (since, until, largest) in pairs.items():
            bound = None
            if smallest is not None:
                cents = Fraction(largest) * 100 / smallest
                bound = Decimal(cents.numerator // cents.denominator) / 100
            rows.append(
                [data.firm.pk, currency, country, policy.day_after(since, -366), until, bound]
            )
    return rows


def months_named(months: list, rules, fields: tuple[str, ...], row_type) -> dict[int, Named]:
    """The receipts a flag may name in these firms' month (each a ``loading.FirmMonth``
    with its tallies), as ``row_type`` rows of ``fields``, and flag 1's findings; every
    receipt of a month with another currency than USD. ``rules`` is ``loading.Rules``.
    One query whatever the firms; PostgreSQL only."""
    if not months:
        return {}
    first, last = months[0].first, months[0].last
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    profiles: dict[tuple, int] = {}
    firm_rows = []
    every = set()
    for data in months:
        firm = data.firm
        key = (firm.kind, policy.tax_applies_to(firm.registration_body))
        profile = profiles.setdefault(key, len(profiles))
        if any(t.currency != policy.USD for t in data.tallies):
            every.add(firm.pk)
        registered, expires = bool(firm.registration_body), firm.registration_expires
        firm_rows.append([firm.pk, profile, registered, expires, firm.pk in every])
    day_rows = []
    for (kind, applies_to), profile in profiles.items():
        body = policy.PSEB if applies_to == policy.PSEB else ""
        for day in days:
            rule = policy.rule_in_force(rules.retention, firm_kind=kind, on=day)
            tax_rate = policy.tax_rate_in_force(rules.tax_rates, registration_body=body, on=day)
            day_rows.append(_day_row(profile, day, rule, tax_rate))
    sbp: dict[tuple, object] = {}
    for (currency, day), found in rules.rates.items():
        for _, source, buy in found:
            if source == "SBP-WACR":
                sbp[(currency, day)] = max(buy, sbp.get((currency, day), buy))
    sbp_rows = [[currency, day, buy] for (currency, day), buy in sbp.items()]
    receipts = (
        Receipt.objects.standing()
        .filter(firm_id__in=[d.firm.pk for d in months], value_date__range=(first, last))
        .order_by()
        .values_list(*fields)
    )
    receipts_sql, receipts_params = receipts.query.sql_with_params()
    columns = ", ".join(f'"{name}"' for name in fields)
    parts = [
        _values(day_rows, _DAY_TYPES),
        _values(firm_rows, _FIRM_TYPES),
        _values(sbp_rows, _SBP_TYPES),
        _values(_trips(months, days, rules.parameters), _TRIP_TYPES),
    ]
    sql = _SQL.format(
        days=parts[0][0], firms=parts[1][0], sbp=parts[2][0], trips=parts[3][0],
        receipts=receipts_sql, columns=columns,
    )  # fmt: skip
    params = [*(v for _, values in parts for v in values), *receipts_params]
    params.append(sorted(rules.export_codes))
    found = {d.firm.pk: Named([], None if d.firm.pk in every else {}) for d in months}
    n = len(fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for values in cursor.fetchall():
            row = row_type._make(values[:n])
            changed, over, allowed_c = values[n:]
            named = found[row.firm_id]
            named.receipts.append(row)
            if (changed or over) and named.judged is not None:
                named.judged[row.id] = (changed, over, int(allowed_c))
    return found
