"""The figures of a firm's month and the flags a bank reviewer sees on them (rules.md §5,
§6), and the summary as the API shows it: the filed revision's frozen figures, or the live
ones while a draft, with the live flags.

The figures are summed in Python from the rows ``loading.firm_months`` returns (the stored
receipt tallies, not every receipt) and the flags are the pure functions of ``flags.py``
(flag 1 judged by the database: ``retention.py``), so a summary costs the same dozen
queries whatever the size of the month.
"""

import gc
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from django.utils import timezone

from esfca import policy
from esfca.models import MonthlySummary, Parameter
from exporters.models import Firm
from exporters.selectors import WHOLE_FIRM, BankSlice
from ledger.errors import LedgerError
from ledger.models import Account, FxRate

from . import flags as F
from .formatting import RATIO, local_iso, money, month_label, ratio
from .loading import FirmMonth, Rules, firm_months

Status = MonthlySummary.Status
# The kinds of ledger transaction a business record of the month explains. A reversal is a
# movement too (rules.md §9): it and its original net to nothing in the ledger and both
# are left out of the month's figures.
_RECORDED_KINDS = ("receipt", "allocation", "conversion", "transfer", "reversal")
# Flag objects naming one movement; a bank's slice keeps those of its own movements only.
_MOVEMENT_OBJECTS = ("receipt", "allocation", "conversion")


# --- the month's figures and flags ----------------------------------------------------------


class LiveFigures(dict):
    """A month's live figures: the contract's keys, serialised and frozen as a plain dict;
    and, as an attribute kept out of both, ``reversed_at``: when the latest reversal dated
    in the month at the slice's accounts was recorded (None: none), which a filing's time
    is judged against (rules.md §9, §6.8)."""

    reversed_at: datetime | None = None


def _receipt_sums(data: FirmMonth) -> tuple[dict, dict, dict]:
    """Per currency: count, gross, retained, converted, PKR, tax, allowed; and count and
    amount by client country and by purpose code: from the stored tallies when loaded, else
    in one pass over the receipts."""
    zero = Decimal(0)
    totals: dict[str, list] = defaultdict(lambda: [0, zero, zero, zero, zero, zero, zero])
    countries: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: [0, zero]))
    purposes: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: [0, zero]))
    if data.tallies is not None:
        for t in data.tallies:
            total = totals[t.currency]
            total[0] += t.receipts
            total[1] += t.amount
            total[2] += t.retained
            total[3] += t.converted
            total[4] += t.pkr_credited
            total[5] += t.tax_withheld
            total[6] += t.allowed_retention
            c = countries[t.currency][t.client_country]
            c[0] += t.receipts
            c[1] += t.amount
            p = purposes[t.currency][t.purpose_code or ""]
            p[0] += t.receipts
            p[1] += t.amount
        return totals, countries, purposes
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
    return totals, countries, purposes


def _month_receipts(data: FirmMonth) -> list:
    """What sums the month's receipts: its tallies when loaded, else its receipts."""
    return data.receipts if data.tallies is None else data.tallies


def currency_figures(data: FirmMonth, rules: Rules) -> list[dict]:
    """The per-currency figures of rules.md §5, as the contract's strings."""
    currencies = sorted(
        {a.currency for a in data.accounts}
        | set(data.ledger)
        | {r.currency for r in _month_receipts(data)}
        | {a.currency for a in data.allocations}
    )
    out = []
    rule = policy.rule_in_force(rules.retention, firm_kind=data.firm.kind, on=data.last)
    totals, countries, purposes = _receipt_sums(data)
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
        adjustments = sum((v for k, v in kinds.items() if k not in _RECORDED_KINDS), Decimal(0))
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


def month_flags(data: FirmMonth, rules: Rules, currencies: list[dict]) -> list[dict]:
    """The month's flags (§6 items 1–7 and 9), and ``ledger_mismatch`` for a currency
    whose closing from the records differs from the ledger's."""
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
    if data.judged is not None:  # found by the database (retention.months_judged)
        out += F.retention_flags_judged(
            data.receipts, data.judged, rules=rules.retention, firm_kind=firm.kind
        )
    else:
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
        retained_total=sum((r.retained for r in _month_receipts(data)), Decimal(0)),
    )
    out += F.tax_flags(
        data.receipts, registration_body=firm.registration_body, tax_rates=rules.tax_rates
    )
    return out


def _slice_flags(flags: list[dict], data: FirmMonth, part: FirmMonth) -> list[dict]:
    """The flags a bank's slice shows (rules.md §11): those of its own movements and of the
    firm; a flag that names a receipt credited at another bank (round-tripping compares a
    payment here with a receipt there) says so without that receipt's reference or amount."""
    seen = part.references()
    kept = [
        f
        for f in flags
        if f["object"].partition(":")[0] not in _MOVEMENT_OBJECTS or f["object"] in seen
    ]
    here = {r.reference for r in part.receipts}
    hidden = [
        f"receipt {r.reference} of {r.amount} {r.currency}"
        for r in data.receipts
        if r.reference not in here
    ]
    if not hidden:
        return kept
    out = []
    for f in kept:
        message = f["message"]
        for text in hidden:
            if text in message:
                message = message.replace(text, "a receipt credited at another bank")
        out.append({**f, "message": message})
    return out


def _compute(data: FirmMonth, rules: Rules, banks: BankSlice = WHOLE_FIRM) -> dict:
    """The figures of the slice ``banks`` of the month (rules.md §11); the flags are judged
    on the whole month (the limit is firm-wide) and kept when their object is in the slice."""
    firm = data.firm
    part = data.at(banks)
    currencies = currency_figures(part, rules)
    flags = month_flags(data, rules, currencies)
    if not banks.whole:
        flags = _slice_flags(flags, data, part)
    live = LiveFigures(
        firm=firm.pk,
        firm_name=firm.name,
        ntn=firm.ntn,
        registration_body=firm.registration_body,
        banks=sorted({a.bank.code for a in part.accounts if a.bank_id}),
        month=month_label(data.first),
        currencies=currencies,
        flags=flags,
    )
    live.reversed_at = part.reversed_at()
    return live


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


def summary_compute(
    *, firm: Firm, month: date, banks: BankSlice = WHOLE_FIRM, stored: bool = True
) -> dict:
    """The live figures and flags (§6 items 1–7 and 9) of a firm's month (rules.md §5), of
    the slice ``banks`` only when given (rules.md §11).

    ``closing`` is built from the month's business records and checked against the
    ledger's ESFCA balance at month end (``ledger_closing``, from the entries); a
    difference is flagged ``ledger_mismatch``. Filing (§6.8) is judged by
    ``summary_detail``, which knows the filed revisions. ``stored=False``: recomputed from
    every receipt (``loading.firm_months``), the same figures and flags.
    """
    with _gc_paused():
        months, rules = firm_months([firm], month, stored=stored)
        return _compute(months[firm.pk], rules, banks)


def summary_compute_many(
    *, firms: list[Firm], month: date, banks: BankSlice = WHOLE_FIRM, stored: bool = True
) -> dict[int, dict]:
    with _gc_paused():
        months, rules = firm_months(firms, month, stored=stored)
        return {pk: _compute(data, rules, banks) for pk, data in months.items()}


def summary_compute_slices(
    *, firm: Firm, month: date, slices: dict, stored: bool = True
) -> tuple[dict, dict]:
    """The whole month's figures and those of each slice (``{key: BankSlice}``), from one
    load: what filing freezes (rules.md §5, §11)."""
    with _gc_paused():
        months, rules = firm_months([firm], month, stored=stored)
        data = months[firm.pk]
        return _compute(data, rules), {k: _compute(data, rules, b) for k, b in slices.items()}


# --- the summary with its filing state ------------------------------------------------------


def summary_revisions(*, firm: Firm, month: date) -> list[MonthlySummary]:
    return list(
        MonthlySummary.objects.filter(firm=firm, month=month)
        .select_related("filed_by", "decided_by")
        .prefetch_related("reviews__bank", "reviews__decided_by")
        .order_by("revision")
    )


def filing_due(month: date, parameters=Parameter) -> date:
    """Filing is due by the parameter day of the next month (rules.md §5), the day in force
    at the month's end; ``parameters`` answers ``int_on`` (the table, or rows already loaded
    as ``flags.Parameters``)."""
    day = parameters.int_on(Parameter.Key.FILING_DUE_DAY, policy.month_bounds(month)[1])
    return F.filing_due_date(month, day)


def reversed_since_filing(record, live: dict) -> datetime | None:
    """When a reversal dated in the month was recorded after ``record`` was filed (the
    latest such), or None: the filed month changed even if no figure did (rules.md §9)."""
    if record is None or record.status == Status.DRAFT or record.filed_at is None:
        return None
    reversed_at = getattr(live, "reversed_at", None)
    return reversed_at if reversed_at is not None and reversed_at > record.filed_at else None


def summary_filing_flags(
    record, live: dict, due: date, firm_id: int, month: date, frozen: dict | None = None
) -> list:
    """The §6.8 flags of a stored revision (or of none yet) against the live figures;
    ``frozen`` is the filed figures compared (the revision's, or one bank's slice of it)."""
    filed = record is not None and record.status != Status.DRAFT
    obj = (
        f"summary:{firm_id}/{month_label(month)}/r{record.revision}"
        if record
        else f"summary:{firm_id}/{month_label(month)}"
    )
    if filed and frozen is None:
        frozen = record.snapshot
    reversed_at = reversed_since_filing(record, live)
    return F.filing_flags(
        obj=obj,
        due=due,
        filed_on=timezone.localdate(record.filed_at) if filed else None,
        filed_currencies=frozen.get("currencies") if filed and frozen else None,
        live_currencies=live["currencies"],
        reversed_on=timezone.localdate(reversed_at) if reversed_at else None,
    )


def own_review(record: MonthlySummary | None, banks: BankSlice):
    """The review of ``record`` by the slice's bank (a reviewer's own), or None."""
    if record is None or banks.whole:
        return None
    return next((r for r in record.reviews.all() if banks.holds(r.bank_id)), None)


def _decision(r: MonthlySummary, banks: BankSlice) -> dict:
    """Who decided, when and why: the revision's, or the slice's own review's."""
    decided = r if banks.whole else own_review(r, banks)
    return {
        "decided_by": decided.decided_by.username if decided and decided.decided_by else None,
        "decided_at": local_iso(decided.decided_at) if decided else None,
        "comment": decided.comment if decided else "",
    }


def _revision_row(r: MonthlySummary, banks: BankSlice) -> dict:
    return {
        "id": r.pk,
        "revision": r.revision,
        "status": r.status,
        "sha256": r.sha256 or None,
        "filed_by": r.filed_by.username if r.filed_by else None,
        "filed_at": local_iso(r.filed_at),
        **_decision(r, banks),
    }


def review_list(record: MonthlySummary | None, banks: BankSlice = WHOLE_FIRM) -> list[dict]:
    """Which banks review the revision and where each stands (contract 1.1); a slice sees
    the others' status, never their comment (rules.md §11)."""
    if record is None or record.status == Status.DRAFT:
        return []
    return [
        {
            "id": r.pk if banks.holds(r.bank_id) else None,
            "bank": r.bank.code,
            "status": r.status,
            "comment": r.comment if banks.holds(r.bank_id) else "",
        }
        for r in record.reviews.all()
    ]


def frozen_figures(record: MonthlySummary | None, banks: BankSlice) -> dict | None:
    """The figures filed for the slice: the revision's snapshot for the whole firm, the
    bank's review snapshot for a slice; None while a draft (or none frozen for the slice)."""
    if record is None or record.status == Status.DRAFT:
        return None
    if banks.whole:
        return record.snapshot
    review = own_review(record, banks)
    return review.snapshot if review is not None and review.snapshot else None


def summary_payload(
    record: MonthlySummary | None,
    live: dict,
    *,
    firm: Firm,
    month: date,
    revisions,
    banks: BankSlice = WHOLE_FIRM,
) -> dict:
    """The contract's summary body. Filed revisions show their frozen figures (of the
    slice ``banks`` only, for a bank's reviewer); the flags are always live, so a change
    after filing shows up (§6.8)."""
    due = filing_due(month)
    filed = record is not None and record.status != Status.DRAFT
    frozen = frozen_figures(record, banks)
    base = dict(frozen) if frozen is not None else dict(live)
    next_revision = (revisions[-1].revision + 1) if revisions else 1
    if record is not None and record.status == Status.DRAFT:
        next_revision = record.revision
    decision = _decision(record, banks) if filed else _decision(None, WHOLE_FIRM)
    return {
        **base,
        "id": record.pk if record else None,
        "firm": firm.pk,
        "month": month_label(month),
        "status": record.status if filed else Status.DRAFT,
        "revision": record.revision if filed else next_revision,
        "sha256": record.sha256 if filed else None,
        "filed_by": record.filed_by.username if filed and record.filed_by else None,
        "filed_at": local_iso(record.filed_at) if filed else None,
        **decision,
        "due_date": due.isoformat(),
        "flags": live["flags"]
        + summary_filing_flags(record, live, due, firm.pk, month, frozen or {}),
        "filed_flags": frozen.get("flags", []) if filed and frozen is not None else None,
        # What changed since the revision was filed, figure by figure (a refile shows it).
        "changes": F.figures_diff(frozen.get("currencies", []), live["currencies"])
        if filed and frozen is not None
        else [],
        "reviews": review_list(record, banks),
        "revisions": [_revision_row(r, banks) for r in revisions],
    }


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
    banks: BankSlice = WHOLE_FIRM,
) -> dict:
    """The summary of a firm's month as the API shows it: the latest revision (or the one
    asked for), its frozen figures once filed, live figures while a draft; plus, live, the
    PKR value and unrealised FX gain of the ESFCAs at month end (``revaluation``). A bank's
    reviewer passes its slice (``exporters.selectors.firm_slice_for``): only the accounts
    at its bank (rules.md §11)."""
    revisions = summary_revisions(firm=firm, month=month)
    if revision is None:
        record = revisions[-1] if revisions else None
    else:
        record = next((r for r in revisions if r.revision == revision), None)
        if record is None:
            raise LookupError(f"{firm.name} has no revision {revision} for {month:%Y-%m}.")
    live = summary_compute(firm=firm, month=month, banks=banks)
    payload = summary_payload(
        record, live, firm=firm, month=month, revisions=revisions, banks=banks
    )
    if with_revaluation:
        rows = revaluation_at_month_end(firm=firm, month=month)
        if rows is not None and not banks.whole:
            seen = set(
                Account.objects.filter(owner=firm)
                .filter(banks.accounts())
                .values_list("pk", flat=True)
            )
            rows = [r for r in rows if r["account"] in seen]
        payload["revaluation"] = rows
    return payload
