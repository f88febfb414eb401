"""Reads of the monthly summaries (rules.md §5): figures, flags, the review queue, the
bank portfolio.

Everything a month needs is loaded in a fixed number of queries for any number of
firms (``_load``): the month's receipts, allocations, conversions and transfers as
plain rows, the ESFCA ledger sums, and the rule data in force. The figures are summed
in Python from those rows and the flags are the pure functions of ``flags.py``, so a
summary costs the same dozen queries whether the month has ten receipts or ten
thousand, and a bank portfolio of a thousand firms costs the same dozen too.
"""

import gc
import json
from collections import defaultdict, namedtuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from esfca import policy
from esfca.errors import InvalidInput
from esfca.models import (
    Allocation,
    Conversion,
    MonthlySummary,
    Parameter,
    PurposeCode,
    Receipt,
    RetentionRuleVersion,
    TaxRate,
    Transfer,
)
from exporters.models import Bank, Firm, User
from exporters.selectors import firms_overseen_by, firms_visible_to
from ledger.errors import LedgerError
from ledger.models import Account, Entry, FxRate

from . import flags as F

CENT = policy.CENT
RATIO = Decimal("0.0001")
Status = MonthlySummary.Status

# The per-currency figures of rules.md §5, in the order documents list them.
AMOUNT_KEYS = (
    "opening",
    "receipts",
    "retained",
    "converted",
    "pkr_credited",
    "tax_withheld",
    "allocations_total",
    "conversions",
    "transfers_in",
    "transfers_out",
    "adjustments",
    "closing",
    "ledger_closing",
    "allowed_retention",
)


# --- formatting -----------------------------------------------------------------------------


def money(value) -> str:
    """A Decimal as the contract's 2-place string."""
    return format(Decimal(value or 0).quantize(CENT), "f")


def ratio(numerator: Decimal, denominator: Decimal) -> str:
    if not denominator:
        return format(Decimal(0).quantize(RATIO), "f")
    percent = policy.round_half_up(Fraction(numerator) * 100 / Fraction(denominator))
    return format((percent / 100).quantize(RATIO), "f")


def canonical_json(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def month_parse(text: str) -> date:
    """ "2025-11" → date(2025, 11, 1); anything else is a validation error."""
    try:
        year, month = (int(part) for part in text.split("-"))
        if len(text) != 7:
            raise ValueError
        return date(year, month, 1)
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(
            "Give the month as YYYY-MM.", month=["Give the month as YYYY-MM."]
        ) from None


def month_label(first: date) -> str:
    return f"{first:%Y-%m}"


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


# --- loading --------------------------------------------------------------------------------

RECEIPT_FIELDS = (
    "firm_id",
    "reference",
    "value_date",
    "currency",
    "amount",
    "retained",
    "converted",
    "allowed_retention",
    "conversion_rate",
    "pkr_credited",
    "tax_rate",
    "tax_withheld",
    "ref_buy",
    "ref_buy_usd",
    "rule_effective_from",
    "rule_ratio",
    "rule_monthly_floor_usd",
    "rule_basis",
    "client_country",
    "purpose_code",
    "converted_on",
)
ALLOCATION_FIELDS = (
    "id",
    "firm_id",
    "reference",
    "value_date",
    "currency",
    "amount",
    "category",
    "payee_country",
    "investee_name",
    "investee_country",
    "sbp_approval_reference",
)
CONVERSION_FIELDS = (
    "id",
    "firm_id",
    "reference",
    "value_date",
    "currency",
    "amount",
    "rate",
)


@dataclass
class Rules:
    """The rule data of the whole platform, as it stands now (small tables)."""

    retention: list
    tax_rates: list
    parameters: F.Parameters
    export_codes: frozenset
    rates: dict  # (currency, day) → list of (priority, source, buy), active only


@dataclass
class FirmMonth:
    firm: Firm
    first: date
    last: date
    accounts: list = field(default_factory=list)
    receipts: list = field(default_factory=list)
    allocations: list = field(default_factory=list)  # value date in the month
    allocations_after: list = field(default_factory=list)  # up to the round-trip window
    conversions: list = field(default_factory=list)
    transfers: list = field(default_factory=list)
    ledger: dict = field(default_factory=dict)  # currency → {"opening","closing", kind sums}


def _rows(queryset, fields: tuple[str, ...], name: str) -> list:
    """The queryset's rows as named tuples.

    On PostgreSQL the compiled SQL runs on a plain cursor: psycopg already returns
    ``Decimal`` and ``date`` values, so Django's per-row converters and iterator (a third
    of a 10,000-receipt summary's time) are skipped. Elsewhere (SQLite stores decimals and
    dates as text) the ORM converts them.
    """
    queryset = queryset.values_list(*fields)
    if connection.vendor != "postgresql":
        return list(queryset.values_list(*fields, named=True))
    row = _row_types.get(name)
    if row is None:
        row = _row_types[name] = namedtuple(name, fields)
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row._make(values) for values in cursor.fetchall()]


_row_types: dict[str, type] = {}


def _rules(first: date, last: date, currencies: set[str]) -> Rules:
    retention = [v.as_policy() for v in RetentionRuleVersion.objects.all()]
    tax_rates = [
        F.TaxRateRow(r.applies_to, r.effective_from, r.rate) for r in TaxRate.objects.all()
    ]
    parameters = F.Parameters(
        F.ParameterRow(key, since, value)
        for key, since, value in Parameter.objects.values_list("key", "effective_from", "value")
    )
    export_codes = frozenset(
        PurposeCode.objects.filter(export_proceeds=True).values_list("code", flat=True)
    )
    rates: dict = defaultdict(list)
    if currencies:
        for currency, day, source, buy in FxRate.objects.filter(
            currency__in=currencies | {policy.USD},
            date__range=(first, last),
            status=FxRate.Status.ACTIVE,
        ).values_list("currency", "date", "source", "buy"):
            rates[(currency, day)].append((FxRate.PRIORITY.get(source, 99), source, buy))
    return Rules(retention, tax_rates, parameters, export_codes, rates)


def _load(firms: list[Firm], first: date) -> tuple[dict[int, FirmMonth], Rules]:
    """Everything the month of these firms needs, in a fixed number of queries."""
    _, last = policy.month_bounds(first)
    months = {f.pk: FirmMonth(firm=f, first=first, last=last) for f in firms}
    ids = list(months)
    accounts = list(
        Account.objects.filter(owner_id__in=ids, kind=Account.Kind.ESFCA)
        .select_related("bank")
        .order_by("owner_id", "currency", "id")
    )
    for account in accounts:
        months[account.owner_id].accounts.append(account)
    in_month = Q(transaction__value_date__gte=first)
    owner_of = {a.pk: a.owner_id for a in accounts}
    for account_id, currency, kind, opening_dr, opening_cr, dr, cr in (
        Entry.objects.filter(account_id__in=owner_of, transaction__value_date__lte=last)
        .values_list("account_id", "currency", "transaction__kind")
        .annotate(
            opening_dr=Sum("debit", filter=~in_month),
            opening_cr=Sum("credit", filter=~in_month),
            dr=Sum("debit", filter=in_month),
            cr=Sum("credit", filter=in_month),
        )
        .order_by()
    ):
        book = months[owner_of[account_id]].ledger.setdefault(
            currency, {"opening": Decimal(0), "closing": Decimal(0), "kinds": defaultdict(Decimal)}
        )
        opening = (opening_dr or 0) - (opening_cr or 0)
        moved = (dr or 0) - (cr or 0)
        book["opening"] += opening
        book["closing"] += opening + moved
        book["kinds"][kind] += moved

    receipts = _rows(
        Receipt.objects.filter(firm_id__in=ids, value_date__range=(first, last)).order_by(
            "firm_id", "value_date", "id"
        ),
        RECEIPT_FIELDS,
        "ReceiptRow",
    )
    for row in receipts:
        months[row.firm_id].receipts.append(row)

    window = max(
        (int(p.value) for p in Parameter.objects.filter(key=Parameter.Key.ROUND_TRIP_DAYS)),
        default=0,
    )
    allocations = _rows(
        Allocation.objects.filter(
            firm_id__in=ids, value_date__range=(first, last + timedelta(days=window))
        ).order_by("firm_id", "value_date", "id"),
        ALLOCATION_FIELDS,
        "AllocationRow",
    )
    for row in allocations:
        target = months[row.firm_id]
        (target.allocations if row.value_date <= last else target.allocations_after).append(row)

    conversions = _rows(
        Conversion.objects.filter(firm_id__in=ids, value_date__range=(first, last)).order_by(
            "firm_id", "value_date", "id"
        ),
        CONVERSION_FIELDS,
        "ConversionRow",
    )
    for row in conversions:
        months[row.firm_id].conversions.append(row)

    transfers = (
        Transfer.objects.filter(firm_id__in=ids, value_date__range=(first, last))
        .order_by("firm_id", "value_date", "id")
        .values_list("firm_id", "currency", "amount", "to_account__currency", "to_amount")
    )
    for row in transfers:
        months[row[0]].transfers.append(row)

    currencies = {a.currency for a in accounts} | {
        r.currency for m in months.values() for r in m.receipts
    }
    return months, _rules(first, last, currencies)


# --- figures --------------------------------------------------------------------------------


def _currency_figures(data: FirmMonth, rules: Rules) -> list[dict]:
    currencies = sorted(
        {a.currency for a in data.accounts}
        | set(data.ledger)
        | {r.currency for r in data.receipts}
        | {a.currency for a in data.allocations}
    )
    out = []
    rule = policy.rule_in_force(rules.retention, firm_kind=data.firm.kind, on=data.last)
    zero = Decimal(0)
    # One pass over the receipts: count, gross, retained, converted, PKR, tax, allowed.
    totals: dict[str, list] = defaultdict(lambda: [0, zero, zero, zero, zero, zero, zero])
    countries: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: [0, zero]))
    purposes: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: [0, zero]))
    for r in data.receipts:
        t = totals[r.currency]
        t[0] += 1
        t[1] += r.amount
        t[2] += r.retained
        t[3] += r.converted
        t[4] += r.pkr_credited
        t[5] += r.tax_withheld
        t[6] += r.allowed_retention
        c = countries[r.currency][r.client_country]
        c[0] += 1
        c[1] += r.amount
        p = purposes[r.currency][r.purpose_code or ""]
        p[0] += 1
        p[1] += r.amount
    for currency in currencies:
        count, gross, retained, converted, pkr, tax, allowed = totals[currency]
        allocations = [a for a in data.allocations if a.currency == currency]
        book = data.ledger.get(currency, {"opening": Decimal(0), "closing": Decimal(0)})
        kinds = book.get("kinds", {})
        by_category: dict[str, Decimal] = defaultdict(Decimal)
        for a in allocations:
            by_category[a.category] += a.amount
        conversions = sum(
            (c.amount for c in data.conversions if c.currency == currency), Decimal(0)
        )
        transfers_out = sum((t[2] for t in data.transfers if t[1] == currency), Decimal(0))
        transfers_in = sum((t[4] for t in data.transfers if t[3] == currency), Decimal(0))
        # Ledger movements no business record explains (reversals, manual postings).
        adjustments = sum(
            (
                v
                for k, v in kinds.items()
                if k not in ("receipt", "allocation", "conversion", "transfer")
            ),
            Decimal(0),
        )
        allocations_total = sum(by_category.values(), Decimal(0))
        closing = (
            book["opening"]
            + retained
            - allocations_total
            - conversions
            + transfers_in
            - transfers_out
            + adjustments
        )
        by_country, by_purpose = countries[currency], purposes[currency]
        out.append(
            {
                "currency": currency,
                "opening": money(book["opening"]),
                "receipts_count": count,
                "receipts": money(gross),
                "retained": money(retained),
                "converted": money(converted),
                "pkr_credited": money(pkr),
                "tax_withheld": money(tax),
                "allocations": {k: money(v) for k, v in sorted(by_category.items()) if v},
                "allocations_total": money(allocations_total),
                "conversions": money(conversions),
                "transfers_in": money(transfers_in),
                "transfers_out": money(transfers_out),
                "adjustments": money(adjustments),
                "closing": money(closing),
                "ledger_closing": money(book["closing"]),
                "allowed_retention": money(allowed),
                "retention_ratio": ratio(retained, gross),
                # The share the rules allowed (floor and tax cap included), to read it against.
                "allowed_ratio": ratio(allowed, gross),
                "retention_limit_ratio": format(rule.ratio.quantize(RATIO), "f") if rule else None,
                "retention_limit_basis": rule.basis if rule else None,
                "retention_limit_floor_usd": money(rule.monthly_floor_usd) if rule else None,
                "by_client_country": [
                    {"country": k, "count": v[0], "amount": money(v[1])}
                    for k, v in sorted(by_country.items())
                ],
                "by_purpose_code": [
                    {"purpose_code": k, "count": v[0], "amount": money(v[1])}
                    for k, v in sorted(by_purpose.items())
                ],
            }
        )
    return out


def _flags(data: FirmMonth, rules: Rules, currencies: list[dict]) -> list[dict]:
    firm = data.firm
    params = rules.parameters

    def best_rate(currency: str, day: date):
        found = rules.rates.get((currency, day))
        return min(found)[2] if found else None

    def ref_rates(currency: str, day: date):
        buy, buy_usd = best_rate(currency, day), best_rate(policy.USD, day)
        return (buy, buy_usd) if buy is not None and buy_usd is not None else None

    sbp = {
        key: buy
        for key, found in rules.rates.items()
        for _, source, buy in found
        if source == FxRate.Source.SBP_WACR
    }

    def sbp_buy(currency: str, day: date):
        return sbp.get((currency, day))

    def registered_on(day: date) -> bool:
        if not firm.registration_body:
            return False
        return firm.registration_expires is None or firm.registration_expires >= day

    out = []
    for c in currencies:
        if c["closing"] != c["ledger_closing"]:
            out.append(
                F.flag(
                    None,
                    "ledger_mismatch",
                    f"{c['currency']} closing {c['closing']} from the month's records differs "
                    f"from the ledger's ESFCA balance {c['ledger_closing']} at month end.",
                    f"firm:{firm.pk}",
                )
            )
    out += F.retention_flags(
        data.receipts,
        rules=rules.retention,
        firm_kind=firm.kind,
        registration_body=firm.registration_body,
        tax_rates=rules.tax_rates,
        registered_on=registered_on,
        ref_rates=ref_rates,
    )
    out += F.conversion_rate_flags(data.receipts, data.conversions, sbp_buy=sbp_buy)
    holding = cache(lambda d: params.int_on(Parameter.Key.HOLDING_PERIOD_WORKING_DAYS, d))
    out += F.holding_period_flags(data.receipts, holding_days=holding)
    out += F.purpose_code_flags(data.receipts, export_codes=rules.export_codes)
    out += F.allocation_flags(
        data.allocations,
        active_taxpayer=firm.active_taxpayer,
        approval_countries=cache(
            lambda d: params.set_on(Parameter.Key.EQUITY_APPROVAL_COUNTRIES, d)
        ),
    )
    out += F.round_trip_flags(
        data.receipts,
        [*data.allocations, *data.allocations_after],
        window_days=cache(lambda d: params.int_on(Parameter.Key.ROUND_TRIP_DAYS, d)),
        share=cache(lambda d: params.decimal_on(Parameter.Key.ROUND_TRIP_SHARE, d)),
    )
    out += F.registration_flags(
        firm_id=firm.pk,
        registration_body=firm.registration_body,
        registration_expires=firm.registration_expires,
        month_end=data.last,
        retained_total=sum((r.retained for r in data.receipts), Decimal(0)),
    )
    out += F.tax_flags(
        data.receipts, registration_body=firm.registration_body, tax_rates=rules.tax_rates
    )
    return out


def _compute(data: FirmMonth, rules: Rules) -> dict:
    firm = data.firm
    currencies = _currency_figures(data, rules)
    return {
        "firm": firm.pk,
        "firm_name": firm.name,
        "ntn": firm.ntn,
        "registration_body": firm.registration_body,
        "banks": sorted({a.bank.code for a in data.accounts if a.bank_id}),
        "month": month_label(data.first),
        "currencies": currencies,
        "flags": _flags(data, rules, currencies),
    }


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while a month's rows are built and judged.

    Tens of thousands of short-lived row tuples trigger collections that find nothing
    (the rows hold no cycles; reference counting frees them), about a sixth of a large
    summary's time. The collector's previous state is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def summary_compute(*, firm: Firm, month: date) -> dict:
    """The live figures and flags (§6 items 1–7 and 9) of a firm's month (rules.md §5).

    ``closing`` is built from the month's business records and checked against the
    ledger's ESFCA balance at month end (``ledger_closing``, from the entries); a
    difference is flagged ``ledger_mismatch``. Filing (§6.8) is judged by
    ``summary_detail``, which knows the filed revisions.
    """
    with _gc_paused():
        months, rules = _load([firm], month)
        return _compute(months[firm.pk], rules)


def summary_compute_many(*, firms: list[Firm], month: date) -> dict[int, dict]:
    with _gc_paused():
        months, rules = _load(firms, month)
        return {pk: _compute(data, rules) for pk, data in months.items()}


# --- the summary with its filing state ------------------------------------------------------


def summary_revisions(*, firm: Firm, month: date) -> list[MonthlySummary]:
    return list(
        MonthlySummary.objects.filter(firm=firm, month=month)
        .select_related("filed_by", "decided_by")
        .order_by("revision")
    )


def filing_due(month: date) -> date:
    """Filing is due by the parameter day of the next month (rules.md §5)."""
    day = Parameter.int_on(Parameter.Key.FILING_DUE_DAY, policy.month_bounds(month)[1])
    return F.filing_due_date(month, day)


def _filing_flags(record, live: dict, due: date, firm_id: int, month: date):
    filed = record is not None and record.status != Status.DRAFT
    obj = (
        f"summary:{firm_id}/{month_label(month)}/r{record.revision}"
        if record
        else f"summary:{firm_id}/{month_label(month)}"
    )
    return F.filing_flags(
        obj=obj,
        due=due,
        filed_on=timezone.localdate(record.filed_at) if filed else None,
        filed_currencies=record.snapshot.get("currencies") if filed else None,
        live_currencies=live["currencies"],
    )


def local_iso(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def _revision_row(r: MonthlySummary) -> dict:
    return {
        "id": r.pk,
        "revision": r.revision,
        "status": r.status,
        "sha256": r.sha256 or None,
        "filed_by": r.filed_by.username if r.filed_by else None,
        "filed_at": local_iso(r.filed_at),
        "decided_by": r.decided_by.username if r.decided_by else None,
        "decided_at": local_iso(r.decided_at),
        "comment": r.comment,
    }


def summary_payload(
    record: MonthlySummary | None, live: dict, *, firm: Firm, month: date, revisions
) -> dict:
    """The contract's summary body. Filed revisions show their frozen figures; the
    flags are always live, so a change after filing shows up (§6.8)."""
    due = filing_due(month)
    filed = record is not None and record.status != Status.DRAFT
    base = dict(record.snapshot) if filed else dict(live)
    next_revision = (revisions[-1].revision + 1) if revisions else 1
    if record is not None and record.status == Status.DRAFT:
        next_revision = record.revision
    payload = {
        **base,
        "id": record.pk if record else None,
        "firm": firm.pk,
        "month": month_label(month),
        "status": record.status if filed else Status.DRAFT,
        "revision": record.revision if filed else next_revision,
        "sha256": record.sha256 if filed else None,
        "filed_by": record.filed_by.username if filed and record.filed_by else None,
        "filed_at": local_iso(record.filed_at) if filed else None,
        "decided_by": record.decided_by.username if filed and record.decided_by else None,
        "decided_at": local_iso(record.decided_at) if filed else None,
        "comment": record.comment if filed else "",
        "due_date": due.isoformat(),
        "flags": live["flags"] + _filing_flags(record, live, due, firm.pk, month),
        "filed_flags": record.snapshot.get("flags", []) if filed else None,
        "revisions": [_revision_row(r) for r in revisions],
    }
    return payload


def revaluation_at_month_end(*, firm: Firm, month: date) -> list[dict] | None:
    """PKR value of each ESFCA at month end (latest buying rate on or before it) against
    its PKR cost, and the unrealised FX gain; None when it cannot be valued."""
    try:
        from ledger.revaluation import revaluation_for_firm
    except ImportError:  # the FX revaluation is optional here
        return None
    try:
        rows = revaluation_for_firm(firm.pk, on=policy.month_bounds(month)[1])
    except (LedgerError, ArithmeticError):
        return None
    return [
        {
            "account": r.account_id,
            "currency": r.currency,
            "balance": money(r.balance),
            "pkr_cost": money(r.pkr_cost),
            "rate": format(r.rate, "f") if r.rate is not None else None,
            "rate_date": r.rate_date.isoformat() if r.rate_date else None,
            "stale": r.stale,
            "pkr_value": money(r.pkr_value) if r.pkr_value is not None else None,
            "unrealised_gain": money(r.unrealised_gain) if r.unrealised_gain is not None else None,
        }
        for r in rows
    ]


def summary_detail(
    *,
    firm: Firm,
    month: date,
    revision: int | None = None,
    with_revaluation: bool = False,
) -> dict:
    """The summary of a firm's month as the API shows it: the latest revision (or the one
    asked for), its frozen figures once filed, live figures while a draft; plus, live, the
    PKR value and unrealised FX gain of the ESFCAs at month end (``revaluation``)."""
    revisions = summary_revisions(firm=firm, month=month)
    if revision is None:
        record = revisions[-1] if revisions else None
    else:
        record = next((r for r in revisions if r.revision == revision), None)
        if record is None:
            raise LookupError(f"{firm.name} has no revision {revision} for {month:%Y-%m}.")
    live = summary_compute(firm=firm, month=month)
    payload = summary_payload(record, live, firm=firm, month=month, revisions=revisions)
    if with_revaluation:
        payload["revaluation"] = revaluation_at_month_end(firm=firm, month=month)
    return payload


# --- bank review ----------------------------------------------------------------------------


def review_queue(*, user: User, status: str | None = None) -> QuerySet[MonthlySummary]:
    """Summaries (every filed revision) of the firms on the user's review desk."""
    firms = firms_overseen_by(user)
    qs = MonthlySummary.objects.filter(firm__in=firms.values("pk")).exclude(status=Status.DRAFT)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("firm").order_by("-month", "firm__name", "-revision")


def review_rows(summaries: list[MonthlySummary]) -> list[dict]:
    """Queue rows with their live flags: one batch of loads per month on the page."""
    by_month: dict[date, list[MonthlySummary]] = defaultdict(list)
    for s in summaries:
        by_month[s.month].append(s)
    live: dict[tuple[int, date], dict] = {}
    for month, items in by_month.items():
        computed = summary_compute_many(firms=list({s.firm for s in items}), month=month)
        for pk, figures in computed.items():
            live[(pk, month)] = figures
    rows = []
    for s in summaries:
        figures = live[(s.firm_id, s.month)]
        due = filing_due(s.month)
        rows.append(
            {
                "id": s.pk,
                "firm": s.firm_id,
                "firm_name": s.firm.name,
                "month": month_label(s.month),
                "revision": s.revision,
                "status": s.status,
                "sha256": s.sha256,
                "filed_at": local_iso(s.filed_at),
                "flags": figures["flags"] + _filing_flags(s, figures, due, s.firm_id, s.month),
            }
        )
    return rows


def summary_for_reviewer(*, user: User, pk: int) -> MonthlySummary | None:
    """A summary the user may see (any tenant rule), or None."""
    return (
        MonthlySummary.objects.filter(pk=pk, firm__in=firms_visible_to(user).values("pk"))
        .select_related("firm")
        .first()
    )


# --- bank portfolio -------------------------------------------------------------------------


def bank_portfolio(*, bank: Bank, month: date) -> dict:
    """Every firm with an account at ``bank``: the month's totals per currency (the whole
    firm's, as its summary shows them), retention ratio, flag count, filing status."""
    firms = list(
        Firm.objects.filter(pk__in=Account.objects.filter(bank=bank).values("owner_id")).order_by(
            "name", "pk"
        )
    )
    computed = summary_compute_many(firms=firms, month=month)
    latest: dict[int, MonthlySummary] = {}
    for s in MonthlySummary.objects.filter(firm__in=firms, month=month).order_by("revision"):
        latest[s.firm_id] = s
    due = filing_due(month)
    rows = []
    for firm in firms:
        figures = computed[firm.pk]
        record = latest.get(firm.pk)
        flags = figures["flags"] + _filing_flags(record, figures, due, firm.pk, month)
        rows.append(
            {
                "firm": firm.pk,
                "firm_name": firm.name,
                "ntn": firm.ntn,
                "status": record.status if record else Status.DRAFT,
                "revision": record.revision if record else None,
                "summary_id": record.pk if record and record.status != Status.DRAFT else None,
                "flag_count": len(flags),
                "flag_codes": sorted({f["code"] for f in flags}),
                "currencies": [
                    {
                        k: c[k]
                        for k in (
                            "currency",
                            "opening",
                            "receipts_count",
                            "receipts",
                            "retained",
                            "converted",
                            "allocations_total",
                            "conversions",
                            "closing",
                            "retention_ratio",
                            "retention_limit_ratio",
                        )
                    }
                    for c in figures["currencies"]
                ],
            }
        )
    return {
        "bank": bank.code,
        "bank_name": bank.name,
        "month": month_label(month),
        "due_date": due.isoformat(),
        "firms": rows,
    }
