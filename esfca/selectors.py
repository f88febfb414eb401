"""Reads of the web UI: the dashboard's figures, the live receipt preview, ESFCAs, imports.

Tenant scoping is done before these are called: every function takes a ``Firm`` the view
fetched through ``exporters.selectors`` (so another tenant's firm is a 404 there). The rule
arithmetic is ``esfca.policy``'s and the lookups are the services' own
(``retention_rule_on``, ``tax_rate_on``, ``ref_rates``, ``month_item``): nothing here
restates a rule.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from django.db.models import QuerySet
from django.utils.translation import gettext_noop

from exporters.errors import DomainError
from exporters.models import Firm
from exporters.selectors import WHOLE_FIRM, BankSlice
from ledger.errors import FxRateMissing
from ledger.fx.selectors import buying_rates_many
from ledger.models import Account
from ledger.revaluation import Revaluation, revaluation_for_firm

from . import policy, services
from .errors import EsfcaError, InvalidInput
from .models import Allocation, ClientMonth, ImportJob, Parameter, Receipt, ReceiptDay
from .services import days as days_service
from .services.days import NONE_RATE

# --- regions ---------------------------------------------------------------------------------

# Marked for translation; pages show them with {% translate %}.
NORTH_AMERICA = gettext_noop("North America")
MIDDLE_EAST = gettext_noop("Middle East/GCC")
EUROPE = gettext_noop("Europe/UK")
ASIA_PACIFIC = gettext_noop("Asia-Pacific")
OTHER = gettext_noop("Other")
REGIONS = (NORTH_AMERICA, MIDDLE_EAST, EUROPE, ASIA_PACIFIC, OTHER)
_REGION_OF = {
    **dict.fromkeys(["US", "CA", "MX", "PR", "BM"], NORTH_AMERICA),
    **dict.fromkeys(
        ["AE", "SA", "QA", "KW", "BH", "OM", "JO", "LB", "IQ", "IL", "PS", "YE", "EG", "IR"],
        MIDDLE_EAST,
    ),
    **dict.fromkeys(
        "GB IE FR DE NL BE LU CH AT IT ES PT SE NO DK FI IS PL CZ SK HU RO BG GR CY MT "
        "EE LV LT SI HR RS BA ME MK AL UA MD BY TR LI MC AD SM GI IM JE GG".split(),
        EUROPE,
    ),
    **dict.fromkeys(
        "AU NZ JP CN HK MO TW KR SG MY TH VN PH ID IN BD LK NP MV BT KH LA MM BN MN FJ PG".split(),
        ASIA_PACIFIC,
    ),
}


def region_of(country: str) -> str:
    """The client region of an ISO 3166 alpha-2 country (anything unlisted: Other)."""
    return _REGION_OF.get((country or "").upper(), OTHER)


# --- dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    account: Account
    revaluation: Revaluation | None
    error: str = ""


@dataclass(frozen=True)
class Headroom:
    month: date
    basis: str
    ratio: Decimal
    floor_usd: Decimal
    proceeds_usd: Decimal
    allowed_usd: Decimal
    used_usd: Decimal
    left_usd: Decimal
    unvalued: int  # receipts without the reference rates to value them in USD
    error: str = ""

    @property
    def used_percent(self) -> int:
        if not self.allowed_usd:
            return 0
        return min(100, int(self.used_usd * 100 / self.allowed_usd))


@dataclass
class MonthFlow:
    month: date
    receipts_usd: Fraction = Fraction(0)
    retained_usd: Fraction = Fraction(0)

    @property
    def converted_usd(self) -> Fraction:
        return self.receipts_usd - self.retained_usd


@dataclass
class Dashboard:
    firm: Firm
    today: date
    balances: list[Balance]
    pkr_accounts: list[Account]
    headroom: Headroom | None  # firm-wide (rules.md §11): not shown in a bank's slice
    months: list[MonthFlow]
    regions: list[tuple[str, Decimal, int]]  # region, USD, percent
    clients: list[tuple[str, Decimal, int]]  # top clients: name, USD, percent
    herfindahl: Decimal
    concentration_warning: Decimal | None
    allocations: list[dict] = field(default_factory=list)
    unvalued_receipts: int = 0

    @property
    def concentrated(self) -> bool:
        return self.concentration_warning is not None and self.herfindahl > (
            self.concentration_warning
        )


def _months_back(today: date, n: int) -> list[date]:
    """The first days of the ``n`` calendar months ending with today's, oldest first."""
    first = today.replace(day=1)
    months = []
    for _ in range(n):
        months.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def _usd(value: Fraction) -> Decimal:
    return policy.round_half_up(value)


def balances(firm: Firm, *, on: date, banks: BankSlice = WHOLE_FIRM) -> list[Balance]:
    """Each ESFCA (of the slice) with its PKR value at the latest rate and the unrealised
    FX gain."""
    accounts = {
        a.pk: a
        for a in Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA)
        .filter(banks.accounts())
        .select_related("bank")
    }
    try:
        revaluations = {r.account_id: r for r in revaluation_for_firm(firm.pk, on=on)}
        error = ""
    except FxRateMissing as exc:
        revaluations, error = {}, exc.message
    return [
        Balance(account, revaluations.get(pk), "" if pk in revaluations else error)
        for pk, account in sorted(accounts.items())
    ]


def headroom(firm: Firm, *, on: date) -> Headroom:
    """This month's retention headroom in USD equivalent (rules.md §2, calendar month),
    from the month's stored receipt days."""
    first, last = policy.month_bounds(on)
    days = list(
        ReceiptDay.objects.filter(firm=firm, value_date__range=(first, last)).values_list(
            "value_date", "currency", "ref_buy", "ref_buy_usd", "receipts", "amount", "retained"
        )
    )
    refs = _refs((currency, buy, buy_usd, day) for day, currency, buy, buy_usd, *_ in days)
    month = policy.MonthPosition()
    unvalued = 0
    for day, currency, buy, buy_usd, count, amount, retained in days:
        ref = refs[(currency, buy, buy_usd, day)]
        if ref is None:
            unvalued += count
        else:
            month.add(amount, retained, buy=ref.buy, buy_usd=ref.buy_usd)
    proceeds, used = month.proceeds_usd, month.retained_usd
    try:
        rule = services.retention_rule_on(firm, on)
    except EsfcaError as exc:
        zero = policy.ZERO
        return Headroom(
            first, "", zero, zero, _usd(proceeds), zero, _usd(used), zero, 0, exc.message
        )
    allowed = month.allowance_usd(rule.as_policy(), eligible=services.firm_is_registered(firm, on))
    return Headroom(
        month=first,
        basis=rule.basis,
        ratio=rule.ratio,
        floor_usd=rule.monthly_floor_usd,
        proceeds_usd=_usd(proceeds),
        allowed_usd=policy.round_down(allowed),
        used_usd=_usd(used),
        left_usd=policy.round_down(max(Fraction(0), allowed - used)),
        unvalued=unvalued,
    )


def _refs(keys) -> dict[tuple, "services.RefRates | None"]:
    """The USD equivalent rates of stored sums keyed (currency, ref_buy, ref_buy_usd, day),
    a rate of 0 standing for none stored: ``services.stored_ref``'s, the table's of the
    day read for all of them in one query; None where the table has none (unvalued)."""
    keys = set(keys)
    wanted = {
        (currency, day)
        for currency, buy, buy_usd, day in keys
        if currency != policy.USD and NONE_RATE in (buy, buy_usd)
    }
    table = (
        buying_rates_many(
            currencies={c for c, _ in wanted} | {policy.USD}, days={d for _, d in wanted}
        )
        if wanted
        else {}
    )
    refs = {}
    for key in keys:
        currency, buy, buy_usd, day = key
        if currency == policy.USD:
            refs[key] = services.NO_RATES
        elif NONE_RATE not in (buy, buy_usd):
            refs[key] = services.RefRates(buy, buy_usd)
        else:
            buy, buy_usd = table.get((currency, day)), table.get((policy.USD, day))
            ok = buy is not None and buy_usd is not None
            refs[key] = services.RefRates(buy, buy_usd) if ok else None
    return refs


def dashboard(firm: Firm, *, today: date | None = None, banks: BankSlice = WHOLE_FIRM) -> Dashboard:
    """The firm's dashboard, of the slice ``banks`` only for a bank's reviewer (rules.md
    §11): its accounts there and the receipts and allocations on them; the firm-wide
    retention headroom is left out of a slice.

    It reads stored sums, never the receipts one by one: the month flows from the receipt
    days, the regions and clients from the client months (less any receipt of this month
    dated after ``today``). A USD equivalent is linear in the amount, so each sum's
    equivalent is exactly the sum of its receipts' (the same fractions, fewer of them)."""
    today = today or services.local_today()
    months = _months_back(today, 12)
    start = months[0]
    in_slice = banks.accounts("esfca__bank_id")
    days = list(
        ReceiptDay.objects.filter(
            in_slice, firm=firm, value_date__range=(start, today)
        ).values_list(
            "value_date", "currency", "ref_buy", "ref_buy_usd", "receipts", "amount", "retained"
        )
    )
    clients = list(
        ClientMonth.objects.filter(in_slice, firm=firm, month__range=(start, today)).values_list(
            "client_name", "client_country", "currency", "ref_buy", "ref_buy_usd", "rate_day",
            "amount",
        )
    )  # fmt: skip
    # This month's client months hold its receipts dated after today too (a past ``today``).
    _, month_end = policy.month_bounds(today)
    for receipt in Receipt.objects.standing().filter(
        in_slice, firm=firm, value_date__gt=today, value_date__lte=month_end
    ):
        line = days_service.line_of(receipt)
        buy, buy_usd = line[3], line[4]
        rate_day = days_service.rate_day_of(receipt.currency, buy, buy_usd, receipt.value_date)
        clients.append(
            (receipt.client_name, receipt.client_country, receipt.currency, buy, buy_usd,
             rate_day, -receipt.amount.amount)
        )  # fmt: skip
    refs = _refs(
        [(currency, buy, buy_usd, day) for day, currency, buy, buy_usd, *_ in days]
        + [(currency, buy, buy_usd, day) for _, _, currency, buy, buy_usd, day, _ in clients]
    )

    usd = _UsdSums(refs)
    flow_sums = {m: [0, 0] for m in months}
    unvalued = 0
    for day, currency, buy, buy_usd, count, amount, retained in days:
        factor = usd.factor.get((currency, buy, buy_usd, day))
        if factor is None:
            unvalued += count
            continue
        sums = flow_sums[day.replace(day=1)]
        sums[0] += int(amount * 100) * factor
        sums[1] += int(retained * 100) * factor
    flows = {m: MonthFlow(m, usd.value(a), usd.value(r)) for m, (a, r) in flow_sums.items()}

    # Amounts summed per client, country and rates first (Decimal), valued once each.
    amounts: dict[tuple, Decimal] = defaultdict(Decimal)
    for name, country, currency, buy, buy_usd, day, amount in clients:
        amounts[(name, country, currency, buy, buy_usd, day)] += amount
    region_sums: dict[str, int] = defaultdict(int)
    client_sums: dict[str, int] = defaultdict(int)
    for (name, country, *rates), amount in amounts.items():
        factor = usd.factor.get(tuple(rates))
        if factor is not None:
            term = int(amount * 100) * factor
            region_sums[region_of(country)] += term
            client_sums[name.strip()] += term
    region_sums = {r: v for r, v in region_sums.items() if v}
    client_sums = {c: v for c, v in client_sums.items() if v}
    total = sum(region_sums.values())

    def share(value: int) -> int:
        return round(Fraction(value * 100, total)) if total else 0

    by_region = {r: usd.value(v) for r, v in region_sums.items()}
    top = sorted(client_sums.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    # policy.herfindahl's exact figure, its shares over the common denominator
    hhi = (
        Fraction(sum(v * v for v in client_sums.values()), total * total) if total else Fraction(0)
    )
    try:
        warning = Parameter.decimal_on(Parameter.Key.CLIENT_CONCENTRATION_WARNING, today)
    except LookupError:
        warning = None
    return Dashboard(
        firm=firm,
        today=today,
        balances=balances(firm, on=today, banks=banks),
        pkr_accounts=list(
            Account.objects.filter(owner=firm, kind=Account.Kind.PKR_BANK)
            .filter(banks.accounts())
            .select_related("bank")
        ),
        headroom=headroom(firm, on=today) if banks.whole else None,
        months=[flows[m] for m in months],
        regions=[(r, _usd(by_region[r]), share(region_sums[r])) for r in REGIONS if r in by_region],
        clients=[(name, _usd(usd.value(v)), share(v)) for name, v in top],
        herfindahl=(Decimal(hhi.numerator) / Decimal(hhi.denominator)).quantize(Decimal("0.0001")),
        concentration_warning=warning,
        allocations=allocation_mix(firm, since=start, until=today, banks=banks),
        unvalued_receipts=unvalued,
    )


class _UsdSums:
    """Exact sums of USD equivalents (``policy.usd_equivalent``: amount × buy / buy_usd) as
    integers over one common denominator, the least common multiple of every rate's: the
    same rational numbers as adding ``Fraction``s one by one, without reducing a growing
    fraction at every addition (thousands of client sums over hundreds of days' rates).

    ``factor[key]`` (for each key of ``refs`` that has rates) times an amount in cents is
    its USD equivalent as a numerator over ``100 × denominator``; ``value`` turns such a
    numerator back into its ``Fraction``."""

    def __init__(self, refs: dict):
        ratios = {
            key: Fraction(1) if ref.buy is None else Fraction(ref.buy) / Fraction(ref.buy_usd)
            for key, ref in refs.items()
            if ref is not None
        }
        self.denominator = math.lcm(*(r.denominator for r in ratios.values())) if ratios else 1
        self.factor = {
            key: r.numerator * (self.denominator // r.denominator) for key, r in ratios.items()
        }

    def value(self, numerator: int) -> Fraction:
        return Fraction(numerator, 100 * self.denominator)


def allocation_mix(
    firm: Firm, *, since: date, until: date, banks: BankSlice = WHOLE_FIRM
) -> list[dict]:
    """Allocations by category and currency, largest first within each currency."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    rows = (
        Allocation.objects.standing()
        .filter(banks.accounts("esfca__bank_id"), firm=firm, value_date__range=(since, until))
        .values_list("category", "currency", "amount")
    )
    for category, currency, amount in rows:
        totals[(currency, category)] += amount
    labels = dict(Allocation.Category.choices)
    per_currency: dict[str, Decimal] = defaultdict(Decimal)
    for (currency, _), amount in totals.items():
        per_currency[currency] += amount
    mix = [
        {
            "currency": currency,
            "category": category,
            "label": labels.get(category, category),
            "amount": amount,
            "percent": int(amount * 100 / per_currency[currency]) if per_currency[currency] else 0,
        }
        for (currency, category), amount in totals.items()
    ]
    return sorted(mix, key=lambda m: (m["currency"], -m["amount"]))


# --- receipt preview -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptPreview:
    ok: bool
    refusal: str = ""
    amount: Decimal | None = None
    currency: str = ""
    allowed: Decimal | None = None
    retained: Decimal | None = None
    split: policy.Split | None = None
    rate: Decimal | None = None
    rate_source: str = ""
    tax_rate: Decimal | None = None
    rule_basis: str = ""
    rule_ratio: Decimal | None = None
    later_receipts: int = 0


class _PreviewLookups(services.StoredLookups):
    """The service's own lookups, except that the firm's internal accounts (FX trading,
    client proceeds, tax) are not opened: a preview writes nothing."""

    def internal(self, kind: str, currency: str) -> Account:
        return Account(owner=self.firm, kind=kind, currency=currency)


def receipt_preview(
    firm: Firm,
    *,
    value_date: date,
    amount: Decimal,
    currency: str,
    retain="max",
    conversion_rate: Decimal | None = None,
) -> ReceiptPreview:
    """What ``receipt_record`` would do with these figures, without writing anything: the
    service's own judgement (``services.receipt_judge``: rule, tax, rates, the month's
    earlier and later receipts, the split); a refusal comes back as its plain sentence.
    """
    request = services.ReceiptRequest(
        reference="preview",
        value_date=value_date,
        amount=amount,
        currency=currency,
        retain=retain,
        conversion_rate=conversion_rate,
        client_name="preview",  # stand-ins: the preview judges the figures only
        client_country="US",
    )
    try:
        # The save's own field checks first: a figure the save refuses gets no preview.
        request.check(today=services.local_today(), purpose_known=lambda code: True)
    except InvalidInput as exc:
        refusal = " ".join(m for messages in exc.details.values() for m in messages)
        return ReceiptPreview(ok=False, refusal=refusal, amount=amount, currency=currency)
    month = services.receipt_month(firm, value_date)
    try:
        fields = services.receipt_judge(
            firm=firm, actor=None, request=request, lookups=_PreviewLookups(firm), month=month
        ).fields
    except DomainError as exc:
        allowed = exc.details.get("allowed_retention")
        return ReceiptPreview(
            ok=False,
            refusal=exc.message,
            amount=amount,
            currency=currency,
            allowed=Decimal(allowed) if allowed is not None else None,
        )
    receipt = Receipt(**fields)
    return ReceiptPreview(
        ok=True,
        amount=receipt.amount,
        currency=currency,
        allowed=receipt.allowed_retention,
        retained=receipt.retained,
        split=policy.Split(
            retained=receipt.retained,
            converted=receipt.converted,
            pkr_gross=receipt.pkr_credited + receipt.tax_withheld,
            tax_withheld=receipt.tax_withheld,
            pkr_credited=receipt.pkr_credited,
        ),
        rate=receipt.conversion_rate,
        rate_source=receipt.rate_source,
        tax_rate=receipt.tax_rate,
        rule_basis=receipt.rule_basis,
        rule_ratio=receipt.rule_ratio,
        later_receipts=len(month.later),
    )


# --- allocation context ----------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationContext:
    account: Account | None
    category: str
    category_kind: str  # "current" / "capital" / ""
    approval_countries: frozenset[str]
    equity_rule: policy.EquityCapRule | None
    active_taxpayer: bool


def allocation_context(firm: Firm, *, currency: str, category: str, on: date) -> AllocationContext:
    """The live balance of the ESFCA and the rules that apply to the chosen category."""
    from .models import EquityCapVersion

    account = (
        Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA, currency=currency)
        .order_by("pk")
        .first()
    )
    try:
        countries = Parameter.set_on(Parameter.Key.EQUITY_APPROVAL_COUNTRIES, on)
    except LookupError:
        countries = frozenset()
    rule = policy.equity_rule_in_force(
        [v.as_policy() for v in EquityCapVersion.objects.all()], firm_kind=firm.kind, on=on
    )
    return AllocationContext(
        account=account,
        category=category,
        category_kind=policy.CATEGORIES.get(category, ""),
        approval_countries=countries,
        equity_rule=rule,
        active_taxpayer=firm.active_taxpayer,
    )


# --- accounts and import jobs (movement lists: esfca.lists) ----------------------------------


def firm_esfcas(firm: Firm) -> QuerySet[Account]:
    return Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA).select_related("bank")


def firm_esfca_banks(firm: Firm) -> list[str]:
    """The codes of the banks holding the firm's ESFCAs."""
    return sorted(set(firm_esfcas(firm).values_list("bank__code", flat=True)))


def firm_currencies(firm: Firm) -> list[str]:
    return sorted(set(firm_esfcas(firm).values_list("currency", flat=True)))


def import_jobs_of(firm: Firm) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(firm=firm).defer("report")
