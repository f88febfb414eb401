"""Reads of the web UI: the dashboard's figures, the live receipt preview, ESFCAs, imports.

Tenant scoping is done before these are called: every function takes a ``Firm`` the view
fetched through ``exporters.selectors`` (so another tenant's firm is a 404 there). The rule
arithmetic is ``esfca.policy``'s and the lookups are the services' own
(``retention_rule_on``, ``tax_rate_on``, ``ref_rates``, ``month_item``): nothing here
restates a rule.
"""

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
from ledger.models import Account
from ledger.revaluation import Revaluation, revaluation_for_firm

from . import policy, services
from .errors import EsfcaError
from .models import Allocation, ImportJob, Parameter, Receipt

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
    """This month's retention headroom in USD equivalent (rules.md §2, calendar month)."""
    first, last = policy.month_bounds(on)
    month = policy.MonthPosition()
    unvalued = 0
    for receipt in Receipt.objects.standing().filter(firm=firm, value_date__range=(first, last)):
        try:
            month.add_item(services.month_item(receipt))
        except FxRateMissing:
            unvalued += 1
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


def dashboard(firm: Firm, *, today: date | None = None, banks: BankSlice = WHOLE_FIRM) -> Dashboard:
    """The firm's dashboard, of the slice ``banks`` only for a bank's reviewer (rules.md
    §11): its accounts there and the receipts and allocations on them; the firm-wide
    retention headroom is left out of a slice."""
    today = today or services.local_today()
    months = _months_back(today, 12)
    start = months[0]
    flows = {m: MonthFlow(m) for m in months}
    by_region: dict[str, Fraction] = defaultdict(Fraction)
    by_client: dict[str, Fraction] = defaultdict(Fraction)
    unvalued = 0
    receipts = Receipt.objects.standing().filter(
        banks.accounts("esfca__bank_id"), firm=firm, value_date__gte=start, value_date__lte=today
    ).only(
        "value_date", "amount", "currency", "retained", "ref_buy", "ref_buy_usd",
        "client_name", "client_country",
    )  # fmt: skip
    for receipt in receipts.iterator(chunk_size=2000):
        try:
            item = services.month_item(receipt)
        except FxRateMissing:
            unvalued += 1
            continue
        flow = flows[receipt.value_date.replace(day=1)]
        flow.receipts_usd += item.usd_amount
        flow.retained_usd += item.usd_retained
        by_region[region_of(receipt.client_country)] += item.usd_amount
        by_client[receipt.client_name.strip()] += item.usd_amount

    total = sum(by_region.values(), Fraction(0))

    def share(value: Fraction) -> int:
        return round(value * 100 / total) if total else 0

    regions = [(r, _usd(by_region[r]), share(by_region[r])) for r in REGIONS if r in by_region]
    top = sorted(by_client.items(), key=lambda kv: kv[1], reverse=True)[:5]
    hhi = policy.herfindahl(by_client.values())
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
        regions=regions,
        clients=[(name, _usd(v), share(v)) for name, v in top],
        herfindahl=(Decimal(hhi.numerator) / Decimal(hhi.denominator)).quantize(Decimal("0.0001")),
        concentration_warning=warning,
        allocations=allocation_mix(firm, since=start, until=today, banks=banks),
        unvalued_receipts=unvalued,
    )


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
    month = services.receipt_month(firm, value_date)
    request = services.ReceiptRequest(
        reference="preview",
        value_date=value_date,
        amount=amount,
        currency=currency,
        retain=retain,
        conversion_rate=conversion_rate,
        client_name="",
        client_country="",
    )
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
