"""Writes of the ESFCA rules: one atomic, idempotent function per business action.

Each service is idempotent by firm + reference: the same request again returns the
stored record (``created`` False) and posts nothing; the same reference with other
details raises ``DuplicateReference``. A firm's movements are serialised (the firm row
is locked; on SQLite every write transaction is IMMEDIATE), so two receipts recorded
at the same moment can never both take the same headroom.
"""

import hashlib
import inspect
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from exporters.errors import DomainError
from exporters.models import Bank, Firm
from exporters.validators import ISO_COUNTRIES, iban_is_valid
from ledger.errors import FxRateMissing, InsufficientFunds
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from ledger.posting import (
    Posting,
    PreparedPostings,
    credit,
    debit,
    json_text,
    postings_prepare,
    transaction_post,
    transactions_post_many,
)
from ledger.posting.copy import copy_data, copy_into, next_ids
from ledger.selectors import buying_rate, buying_rates, buying_rates_many, lowest_balance_from
from ledger.services import account_open

from . import policy
from .audit import audit, audit_event
from .errors import (
    CategoryNotPermitted,
    DuplicateReference,
    EquityCapExceeded,
    EquityNotPermitted,
    InvalidInput,
    NoAccount,
    NoRuleInForce,
    RetentionLimitExceeded,
)
from .models import (
    Allocation,
    AuditEvent,
    Conversion,
    EquityCapVersion,
    Parameter,
    PurposeCode,
    Receipt,
    RetentionRuleVersion,
    TaxRate,
    Transfer,
)

MAX_AMOUNT = Decimal("999999999999.99")  # 14 digits, 2 decimals
RATE_PLACES = Decimal("0.000001")
MAX_RATE = Decimal("1000000")  # PKR per unit; far above any real rate, far below overflow


# --- shared helpers -------------------------------------------------------------------------


def _plain(value) -> str | None:
    """A canonical text of a value for request fingerprints ("280.7" == "280.7000")."""
    if type(value) is str:  # most fields: text as it is
        return value or None
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _fingerprint(**fields) -> str:
    """SHA-256 of ``json.dumps({name: _plain(value)}, sort_keys=True)``, the JSON written out
    directly (the same text, which a test checks): an import computes one per row."""
    body = ", ".join(
        f"{json_text(name)}: {json_text(_plain(value))}" for name, value in sorted(fields.items())
    )
    return hashlib.sha256(f"{{{body}}}".encode()).hexdigest()


def _replay(model, firm: Firm, reference: str, fingerprint: str):
    existing = model.objects.filter(firm=firm, reference=reference).first()
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise DuplicateReference(
            f"Reference {reference} was already used for a different request.",
            reference=reference,
            existing_id=existing.pk,
        )
    return existing


class _Errors:
    """Collects field errors so a request hears about all of them at once."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise InvalidInput("Some fields are invalid.", **self.fields)


def _check_amount(errors: _Errors, field: str, value, *, allow_zero: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        errors.add(field, "Enter a decimal amount.")
    elif value < 0 or (value == 0 and not allow_zero):
        errors.add(field, "The amount must be greater than zero.")
    elif value > MAX_AMOUNT:
        errors.add(field, "The amount is too large.")
    elif value != value.quantize(policy.CENT, rounding="ROUND_DOWN"):
        errors.add(field, "Use at most two decimal places.")


def _check_rate(errors: _Errors, field: str, value) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        errors.add(field, "Enter a positive rate.")
        return
    try:
        exact = value < MAX_RATE and value == value.quantize(RATE_PLACES)
    except InvalidOperation:
        exact = False
    if not exact or value >= MAX_RATE:
        errors.add(field, "A rate has at most 6 decimal places and is below 1,000,000.")


def _check_common(errors: _Errors, *, reference, value_date, currency, today: date) -> None:
    if not isinstance(reference, str) or not reference or len(reference) > 120:
        errors.add("reference", "Give a reference of 1 to 120 characters.")
    if not isinstance(value_date, date):
        errors.add("value_date", "Enter a date as YYYY-MM-DD.")
    elif value_date > today:
        errors.add("value_date", "The value date cannot be in the future.")
    if currency not in foreign_currencies():
        errors.add("currency", f"Use one of {', '.join(foreign_currencies())}.")


def _movement_errors(*, reference, value_date, currency, amount, today: date) -> _Errors:
    """The field checks every movement starts with: reference, value date, currency, amount."""
    errors = _Errors()
    _check_common(
        errors, reference=reference, value_date=value_date, currency=currency, today=today
    )
    _check_amount(errors, "amount", amount)
    return errors


def _check_country(errors: _Errors, field: str, value, *, required: bool = True) -> None:
    if not value:
        if required:
            errors.add(field, "This field is required.")
    elif value not in ISO_COUNTRIES:
        errors.add(field, f"'{value}' is not an ISO 3166 alpha-2 country code.")


def _check_text(errors: _Errors, field: str, value, *, required: bool = True, limit=200) -> None:
    if required and not (value or "").strip():
        errors.add(field, "This field is required.")
    elif value and len(value) > limit:
        errors.add(field, f"At most {limit} characters.")


def foreign_currencies() -> list[str]:
    return [c for c in settings.CURRENCIES if c != "PKR"]


def local_today() -> date:
    return timezone.localdate()


def lock_firm(firm: Firm) -> Firm:
    return Firm.objects.select_for_update().get(pk=firm.pk)


def _esfca(firm: Firm, currency: str, bank: str = "") -> Account:
    """The firm's ESFCA in ``currency``: at ``bank`` when given, else the first opened."""
    accounts = Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA, currency=currency)
    if bank:
        accounts = accounts.filter(bank__code=bank)
    account = accounts.order_by("pk").first()
    if account is None:
        at = f" at {bank}" if bank else ""
        raise NoAccount(f"{firm.name} has no {currency} ESFCA{at}.", currency=currency)
    return account


def _check_covered(account: Account, amount: Decimal, on: date) -> None:
    """Never overdraw, also in the past: a backdated debit must leave every end-of-day
    balance from its value date on at or above zero (rules.md §4, §5 closing balances)."""
    lowest = lowest_balance_from(account_id=account.pk, on=on)
    if lowest < amount:
        raise InsufficientFunds(
            f"The {account.currency} ESFCA holds {lowest} {account.currency} on or after "
            f"{on.isoformat()}; {amount} {account.currency} is not covered.",
            account=account.pk,
            currency=account.currency,
            balance=str(lowest),
            requested=str(amount),
        )


def _pkr_account(firm: Firm, bank_id: int | None) -> Account:
    accounts = list(Account.objects.filter(owner=firm, kind=Account.Kind.PKR_BANK).order_by("pk"))
    if not accounts:
        raise NoAccount(f"{firm.name} has no PKR account.", currency="PKR")
    same_bank = [a for a in accounts if a.bank_id == bank_id]
    return (same_bank or accounts)[0]


def _internal(firm: Firm, kind: str, currency: str, category: str = "") -> Account:
    return account_open(owner=firm, kind=kind, currency=currency, category=category)


def _record_once(model, *, firm: Firm, reference: str, fingerprint: str, actor, action, write):
    """The frame of every movement: lock the firm (its movements are serialised), decide
    a replay again under the lock, write, audit; returns ``(record, created)``."""
    with transaction.atomic():
        locked = lock_firm(firm)
        existing = _replay(model, locked, reference, fingerprint)
        if existing:
            return existing, False
        record = write(locked)
        audit(actor, locked, action, record, reference=reference)
    return record, True


def _frame(firm: Firm, reference: str, value_date: date, fingerprint: str, txn, actor) -> dict:
    """The fields every movement record shares."""
    return {
        "firm": firm,
        "reference": reference,
        "value_date": value_date,
        "request_fingerprint": fingerprint,
        "transaction": txn,
        "created_by": actor if getattr(actor, "is_authenticated", False) else None,
    }


# --- rules in force -------------------------------------------------------------------------


def retention_rule_on(firm: Firm, on: date) -> RetentionRuleVersion:
    versions = RetentionRuleVersion.objects.filter(firm_kind=firm.kind, effective_from__lte=on)
    rule = versions.order_by("-effective_from").first()
    if rule is None:
        raise NoRuleInForce(
            f"No retention rule for {firm.get_kind_display().lower()}s is in force on {on}.",
            value_date=on.isoformat(),
        )
    return rule


def tax_rate_on(firm: Firm, on: date) -> Decimal:
    row = (
        TaxRate.objects.filter(applies_to=_tax_applies_to(firm), effective_from__lte=on)
        .order_by("-effective_from")
        .first()
    )
    # rules.md §3 seeds the withholding from 2022-07-01: before it, nothing is withheld.
    return row.rate if row is not None else Decimal("0")


def firm_is_registered(firm: Firm, on: date) -> bool:
    """§6 flag 7: PSEB/P@SHA registration or a freelancer's self-declaration, not expired."""
    if not firm.registration_body:
        return False
    return firm.registration_expires is None or firm.registration_expires >= on


# --- §2 month position ----------------------------------------------------------------------


@dataclass(frozen=True)
class RefRates:
    buy: Decimal | None  # None for USD: amounts are already USD
    buy_usd: Decimal | None


NO_RATES = RefRates(None, None)  # USD itself: its amounts are already USD


def ref_rates(currency: str, on: date) -> RefRates:
    """The reference buying rates for USD equivalents (raises ``FxRateMissing``)."""
    if currency == policy.USD:
        return NO_RATES
    rates = buying_rates(currencies=[currency, policy.USD], on=on)
    return RefRates(rates[currency], rates[policy.USD])


def _stored_ref(currency: str, ref_buy, ref_buy_usd, value_date: date) -> RefRates:
    if currency == policy.USD:
        return NO_RATES
    if ref_buy is not None and ref_buy_usd is not None:
        return RefRates(ref_buy, ref_buy_usd)
    return ref_rates(currency, value_date)


def _receipt_ref(receipt: Receipt) -> RefRates:
    return _stored_ref(receipt.currency, receipt.ref_buy, receipt.ref_buy_usd, receipt.value_date)


# What a month item is made of: a stored receipt's fields, in this order.
_MONTH_FIELDS = ("amount", "retained", "currency", "ref_buy", "ref_buy_usd", "value_date")


def _month_item_of(amount, retained, currency, ref_buy, ref_buy_usd, value_date):
    ref = _stored_ref(currency, ref_buy, ref_buy_usd, value_date)
    return policy.MonthItem(
        usd_amount=policy.usd_equivalent(amount, buy=ref.buy, buy_usd=ref.buy_usd),
        usd_retained=policy.usd_equivalent(retained, buy=ref.buy, buy_usd=ref.buy_usd),
    )


def month_item(receipt: Receipt, retained: Decimal | None = None) -> policy.MonthItem:
    return _month_item_of(
        receipt.amount.amount,
        receipt.retained if retained is None else retained,
        receipt.currency,
        receipt.ref_buy,
        receipt.ref_buy_usd,
        receipt.value_date,
    )


def _month_receipts(firm: Firm, on: date) -> list[Receipt]:
    first, last = policy.month_bounds(on)
    return list(
        Receipt.objects.filter(firm=firm, value_date__range=(first, last)).order_by(
            "value_date", "pk"
        )
    )


def _stored_rule(receipt: Receipt) -> policy.RetentionRule:
    return policy.RetentionRule(
        firm_kind="",
        effective_from=receipt.rule_effective_from,
        ratio=receipt.rule_ratio,
        monthly_floor_usd=receipt.rule_monthly_floor_usd,
        basis=receipt.rule_basis,
    )


def _later_receipts_fit(later: list[Receipt], earlier_items, new_item) -> bool:
    """§2 backdating: every later receipt still fits its own limit once recomputed."""
    items = [*earlier_items, new_item]
    for receipt in later:
        if receipt.rule_basis == policy.Basis.CALENDAR_MONTH and receipt.retained > 0:
            ref = _receipt_ref(receipt)
            allowed = policy.allowed_retention(
                rule=_stored_rule(receipt),
                amount=receipt.amount.amount,
                tax_rate=receipt.tax_rate,
                earlier=items,
                buy=ref.buy,
                buy_usd=ref.buy_usd,
            )
            if receipt.retained > allowed:
                return False
        items.append(month_item(receipt))
    return True


def _largest_fitting(limit: Decimal, fits) -> Decimal:
    """The largest retention in cents ≤ ``limit`` for which ``fits`` holds (monotone)."""
    low, high = 0, int(limit * 100)
    if not fits(Decimal(0)):
        return policy.ZERO
    while low < high:
        mid = (low + high + 1) // 2
        if fits(Decimal(mid) / 100):
            low = mid
        else:
            high = mid - 1
    return (Decimal(low) / 100).quantize(policy.CENT)


# --- receipts -------------------------------------------------------------------------------


class _StoredLookups:
    """What a receipt needs, read from the database as it is asked for (one receipt)."""

    def __init__(self, firm: Firm):
        self.firm = firm

    def esfca(self, currency: str, bank: str) -> Account:
        return _esfca(self.firm, currency, bank)

    def pkr(self, bank_id: int | None) -> Account:
        return _pkr_account(self.firm, bank_id)

    def internal(self, kind: str, currency: str) -> Account:
        return _internal(self.firm, kind, currency)

    def rule(self, on: date) -> RetentionRuleVersion:
        return retention_rule_on(self.firm, on)

    def tax_rate(self, on: date) -> Decimal:
        return tax_rate_on(self.firm, on)

    def buying(self, currency: str, on: date) -> Decimal:
        return buying_rate(currency=currency, on=on)

    def ref(self, currency: str, on: date) -> RefRates:
        return ref_rates(currency, on)


def _judge_receipt(
    *,
    firm: Firm,
    actor,
    lookups,
    earlier,
    later: list[Receipt],
    fingerprint: str,
    reference: str,
    value_date: date,
    amount: Decimal,
    currency: str,
    retain,
    conversion_rate: Decimal | None,
    client_name: str,
    client_country: str,
    purpose_code: str,
    bank: str,
    converted_on: date | None,
) -> tuple[dict, Posting]:
    """Judge one validated receipt (rules.md §2–§3): the record's fields (``Receipt(**fields)``
    is the unsaved record) and its posting.

    Checks after the fields, in the order of §2: accounts → rule in force → rates →
    limit. ``earlier()`` gives the month's earlier receipts as USD items (asked only under
    the calendar-month basis); ``later`` are the month's receipts dated after this one,
    which must still fit their own limits (§2 backdating).
    """
    amount = amount.quantize(policy.CENT)
    retain = retain if retain == "max" else retain.quantize(policy.CENT)
    if conversion_rate is not None:
        conversion_rate = conversion_rate.quantize(RATE_PLACES)
    esfca = lookups.esfca(currency, bank)
    pkr = lookups.pkr(esfca.bank_id)
    rule_row = lookups.rule(value_date)
    rule = rule_row.as_policy()
    tax_rate = lookups.tax_rate(value_date)
    if conversion_rate is None:
        rate, rate_source = lookups.buying(currency, value_date), "table"
    else:
        rate, rate_source = conversion_rate, "bank"
    if rule.basis == policy.Basis.CALENDAR_MONTH:
        ref = lookups.ref(currency, value_date)
    else:
        try:
            ref = lookups.ref(currency, value_date)
        except FxRateMissing:  # per-receipt limits need no USD equivalent
            ref = NO_RATES if currency == policy.USD else None
    earlier_items = earlier() if rule.basis == policy.Basis.CALENDAR_MONTH else []
    allowed = policy.allowed_retention(
        rule=rule,
        amount=amount,
        tax_rate=tax_rate,
        eligible=firm_is_registered(firm, value_date),
        earlier=earlier_items,
        buy=ref.buy if ref else None,
        buy_usd=ref.buy_usd if ref else None,
    )
    retained = allowed if retain == "max" else retain
    if retained <= allowed and any(
        r.rule_basis == policy.Basis.CALENDAR_MONTH and r.retained for r in later
    ):
        _check_later_receipts(
            later,
            earlier=earlier_items if earlier_items else earlier(),
            amount=amount,
            currency=currency,
            value_date=value_date,
            ref=ref or lookups.ref(currency, value_date),
            retained=retained,
            allowed=allowed,
        )
    if retained > allowed:
        raise RetentionLimitExceeded(
            f"At most {allowed} {currency} of this receipt may be retained.",
            allowed_retention=str(allowed),
        )
    split = policy.receipt_split(
        amount=amount, retained=retained, conversion_rate=rate, tax_rate=tax_rate
    )
    if split.pkr_gross > MAX_AMOUNT:  # the PKR legs must fit the books' columns too
        raise InvalidInput(amount=["The amount is too large once converted to PKR."])
    legs = [
        debit(esfca, split.retained),
        debit(lookups.internal(Account.Kind.FX_TRADING, currency), split.converted),
        credit(lookups.internal(Account.Kind.CLIENT_PROCEEDS, currency), amount),
        debit(pkr, split.pkr_credited),
        debit(lookups.internal(Account.Kind.TAX_WITHHELD, "PKR"), split.tax_withheld),
        credit(lookups.internal(Account.Kind.FX_TRADING, "PKR"), split.pkr_gross),
    ]
    posting = Posting(
        key=f"receipt:{firm.pk}:{reference}",
        kind=LedgerTransaction.Kind.RECEIPT,
        value_date=value_date,
        legs=[leg for leg in legs if leg.debit or leg.credit],
        memo=f"{client_name} ({client_country}) {reference}"[:500],
        fx_rate=rate,
    )
    fields = dict(
        **_frame(firm, reference, value_date, fingerprint, None, actor),
        amount=amount,
        currency=currency,
        esfca=esfca,
        retain_requested=str(retain),
        allowed_retention=allowed,
        retained=split.retained,
        converted=split.converted,
        conversion_rate=rate,
        converted_on=converted_on or value_date,
        rate_source=rate_source,
        ref_buy=ref.buy if ref else None,
        ref_buy_usd=ref.buy_usd if ref else None,
        tax_rate=tax_rate,
        tax_withheld=split.tax_withheld,
        pkr_credited=split.pkr_credited,
        rule=rule_row,
        rule_effective_from=rule_row.effective_from,
        rule_ratio=rule_row.ratio,
        rule_monthly_floor_usd=rule_row.monthly_floor_usd,
        rule_basis=rule_row.basis,
        client_name=client_name,
        client_country=client_country,
        purpose_code=purpose_code or "",
    )
    return fields, posting


def _check_later_receipts(
    later, *, earlier, amount, currency, value_date, ref, retained, allowed
) -> None:
    """§2 backdating: refuse a retention that would push a later receipt of the month
    above its own limit, naming the largest retention that still fits."""

    def fits(candidate: Decimal) -> bool:
        new_item = policy.MonthItem(
            usd_amount=policy.usd_equivalent(amount, buy=ref.buy, buy_usd=ref.buy_usd),
            usd_retained=policy.usd_equivalent(candidate, buy=ref.buy, buy_usd=ref.buy_usd),
        )
        return _later_receipts_fit(later, earlier, new_item)

    if not fits(retained):
        fitting = _largest_fitting(allowed, fits)
        raise RetentionLimitExceeded(
            f"Retaining {retained} {currency} on {value_date} would push later receipts "
            f"of the month above their limits; at most {fitting} {currency} fits.",
            allowed_retention=str(fitting),
        )


def receipt_record(
    *,
    firm: Firm,
    actor,
    reference: str,
    value_date: date,
    amount: Decimal,
    currency: str,
    retain="max",
    conversion_rate: Decimal | None = None,
    client_name: str,
    client_country: str,
    purpose_code: str = "",
    bank: str = "",
    converted_on: date | None = None,
    today: date | None = None,
) -> tuple[Receipt, bool]:
    """Record one export receipt: split it, withhold tax, post it (rules.md §2–§3).

    Checks in the order of rules.md §2: fields → accounts → rule in force → rates →
    limit. Returns ``(receipt, created)``.
    """
    retain = "max" if retain in (None, "") else retain
    request = {
        "reference": reference,
        "value_date": value_date,
        "amount": amount,
        "currency": currency,
        "retain": retain,
        "conversion_rate": conversion_rate,
        "client_name": client_name,
        "client_country": client_country,
        "purpose_code": purpose_code,
        "bank": bank,
        "converted_on": converted_on,
    }
    fingerprint = _receipt_fingerprint(**request)
    existing = _replay(Receipt, firm, reference, fingerprint)
    if existing:
        return existing, False

    _receipt_check(
        **request,
        today=today or local_today(),
        purpose_known=lambda code: PurposeCode.objects.filter(code=code).exists(),
    )

    def write(firm: Firm):
        month = _month_receipts(firm, value_date)
        earlier = [r for r in month if r.value_date <= value_date]
        fields, posting = _judge_receipt(
            firm=firm,
            actor=actor,
            lookups=_StoredLookups(firm),
            earlier=lambda: [month_item(r) for r in earlier],
            later=[r for r in month if r.value_date > value_date],
            fingerprint=fingerprint,
            **request,
        )
        receipt = Receipt(**fields)
        receipt.transaction = transaction_post(**vars(posting))
        receipt.save(force_insert=True)
        return receipt

    return _record_once(
        Receipt,
        firm=firm,
        reference=reference,
        fingerprint=fingerprint,
        actor=actor,
        action="receipt_recorded",
        write=write,
    )


# --- allocations ----------------------------------------------------------------------------


def _usd_of(amount: Decimal, currency: str, on: date) -> Fraction:
    ref = ref_rates(currency, on)
    return policy.usd_equivalent(amount, buy=ref.buy, buy_usd=ref.buy_usd)


def _yearly_proceeds_usd(firm: Firm, year: int) -> list[Fraction]:
    """Export proceeds in USD of each of the three calendar years before ``year``, exact.

    A receipt without reference rates needs that day's table rates (``FxRateMissing``
    otherwise: the cap is never guessed)."""
    totals = []
    for y in (year - 3, year - 2, year - 1):
        receipts = Receipt.objects.filter(firm=firm, value_date__year=y)
        totals.append(sum((month_item(r).usd_amount for r in receipts), Fraction(0)))
    return totals


def _check_equity(firm: Firm, *, value_date, amount, currency, investee_country, approval) -> None:
    """§4 overseas equity: the version in force, active taxpayer, SBP approval, the cap."""
    rule = policy.equity_rule_in_force(
        [v.as_policy() for v in EquityCapVersion.objects.all()],
        firm_kind=firm.kind,
        on=value_date,
    )
    if rule is None:
        raise EquityNotPermitted(f"No overseas equity rule is in force on {value_date}.")
    approval_countries = Parameter.set_on(Parameter.Key.EQUITY_APPROVAL_COUNTRIES, value_date)
    refusal = policy.equity_refusal(
        active_taxpayer=firm.active_taxpayer,
        investee_country=investee_country,
        sbp_approval_reference=approval,
        approval_countries=approval_countries,
    )
    if refusal:
        raise EquityNotPermitted(refusal, investee_country=investee_country)
    cap = policy.equity_cap_usd(
        rule=rule, yearly_proceeds_usd=_yearly_proceeds_usd(firm, value_date.year)
    )
    if cap is None:
        return  # up to the ESFCA balance: the overdraft check is the cap
    earlier = Allocation.objects.filter(
        firm=firm, category=Allocation.Category.OVERSEAS_EQUITY, value_date__year=value_date.year
    )
    so_far = sum((_usd_of(a.amount.amount, a.currency, a.value_date) for a in earlier), Fraction(0))
    this = _usd_of(amount, currency, value_date)
    if so_far + this > cap:
        raise EquityCapExceeded(
            f"Equity remitted in {value_date.year} would reach USD "
            f"{policy.round_half_up(so_far + this)}, above the cap of "
            f"USD {policy.round_down(cap)}.",
            cap_usd=str(policy.round_down(cap)),
            remitted_usd=str(policy.round_half_up(so_far)),
        )


def allocation_create(
    *,
    firm: Firm,
    actor,
    reference: str,
    value_date: date,
    category: str,
    amount: Decimal,
    currency: str,
    payee_name: str,
    payee_country: str,
    investee_name: str = "",
    investee_country: str = "",
    sbp_approval_reference: str = "",
    bank: str = "",
    today: date | None = None,
) -> tuple[Allocation, bool]:
    """Spend retained funds on a permitted purpose (rules.md §4); never overdraws."""
    investee_name = investee_name or ""
    investee_country = investee_country or ""
    sbp_approval_reference = sbp_approval_reference or ""
    fingerprint = _fingerprint(
        reference=reference,
        value_date=value_date,
        category=category,
        amount=amount,
        currency=currency,
        payee_name=payee_name,
        payee_country=payee_country,
        investee_name=investee_name,
        investee_country=investee_country,
        sbp_approval_reference=sbp_approval_reference,
        bank=bank,
    )
    existing = _replay(Allocation, firm, reference, fingerprint)
    if existing:
        return existing, False

    errors = _movement_errors(
        reference=reference,
        value_date=value_date,
        currency=currency,
        amount=amount,
        today=today or local_today(),
    )
    _check_text(errors, "payee_name", payee_name)
    _check_country(errors, "payee_country", payee_country)
    _check_text(errors, "sbp_approval_reference", sbp_approval_reference, required=False, limit=120)
    if category == policy.EQUITY:
        _check_text(errors, "investee_name", investee_name)
        _check_country(errors, "investee_country", investee_country)
    errors.raise_if_any()
    amount = amount.quantize(policy.CENT)

    refusal = policy.category_refusal(category=category, payee_country=payee_country)
    if refusal:
        raise CategoryNotPermitted(refusal, category=category, payee_country=payee_country)

    def write(firm: Firm):
        esfca = _esfca(firm, currency, bank)
        usd_equivalent = None
        if category == policy.EQUITY:
            _check_equity(
                firm,
                value_date=value_date,
                amount=amount,
                currency=currency,
                investee_country=investee_country,
                approval=sbp_approval_reference,
            )
            usd_equivalent = policy.round_half_up(_usd_of(amount, currency, value_date))
        _check_covered(esfca, amount, value_date)
        payee = _internal(firm, Account.Kind.PAYEE, currency, category)
        txn = transaction_post(
            key=f"allocation:{firm.pk}:{reference}",
            kind=LedgerTransaction.Kind.ALLOCATION,
            value_date=value_date,
            legs=[debit(payee, amount), credit(esfca, amount)],
            memo=f"{category}: {payee_name} ({payee_country}) {reference}"[:500],
        )
        esfca.refresh_from_db(fields=["balance"])
        return Allocation.objects.create(
            **_frame(firm, reference, value_date, fingerprint, txn, actor),
            amount=amount,
            currency=currency,
            esfca=esfca,
            category=category,
            payee_name=payee_name,
            payee_country=payee_country,
            investee_name=investee_name,
            investee_country=investee_country,
            sbp_approval_reference=sbp_approval_reference,
            balance_after=esfca.balance,
            usd_equivalent=usd_equivalent,
        )

    return _record_once(
        Allocation,
        firm=firm,
        reference=reference,
        fingerprint=fingerprint,
        actor=actor,
        action="allocation_created",
        write=write,
    )


# --- conversions and transfers --------------------------------------------------------------


def conversion_create(
    *,
    firm: Firm,
    actor,
    reference: str,
    value_date: date,
    amount: Decimal,
    currency: str,
    rate: Decimal | None = None,
    bank: str = "",
    today: date | None = None,
) -> tuple[Conversion, bool]:
    """Sell ESFCA funds for PKR at the given or the day's buying rate (rules.md §4)."""
    fingerprint = _fingerprint(
        reference=reference,
        value_date=value_date,
        amount=amount,
        currency=currency,
        rate=rate,
        bank=bank,
    )
    existing = _replay(Conversion, firm, reference, fingerprint)
    if existing:
        return existing, False
    errors = _movement_errors(
        reference=reference,
        value_date=value_date,
        currency=currency,
        amount=amount,
        today=today or local_today(),
    )
    _check_rate(errors, "rate", rate)
    errors.raise_if_any()
    amount = amount.quantize(policy.CENT)
    rate = rate.quantize(RATE_PLACES) if rate is not None else None

    def write(firm: Firm):
        esfca = _esfca(firm, currency, bank)
        _check_covered(esfca, amount, value_date)
        pkr = _pkr_account(firm, esfca.bank_id)
        used_rate = rate if rate is not None else buying_rate(currency=currency, on=value_date)
        pkr_amount = policy.convert(amount, used_rate)
        if pkr_amount > MAX_AMOUNT:
            raise InvalidInput(amount=["The amount is too large once converted to PKR."])
        txn = transaction_post(
            key=f"conversion:{firm.pk}:{reference}",
            kind=LedgerTransaction.Kind.CONVERSION,
            value_date=value_date,
            legs=[
                credit(esfca, amount),
                debit(_internal(firm, Account.Kind.FX_TRADING, currency), amount),
                debit(pkr, pkr_amount),
                credit(_internal(firm, Account.Kind.FX_TRADING, "PKR"), pkr_amount),
            ],
            memo=f"Conversion to PKR {reference}"[:500],
            fx_rate=used_rate,
        )
        return Conversion.objects.create(
            **_frame(firm, reference, value_date, fingerprint, txn, actor),
            amount=amount,
            currency=currency,
            esfca=esfca,
            pkr_account=pkr,
            rate=used_rate,
            pkr_amount=pkr_amount,
        )

    return _record_once(
        Conversion,
        firm=firm,
        reference=reference,
        fingerprint=fingerprint,
        actor=actor,
        action="conversion_created",
        write=write,
    )


def transfer_create(
    *,
    firm: Firm,
    actor,
    reference: str,
    value_date: date,
    from_account_id: int,
    to_account_id: int,
    amount: Decimal,
    today: date | None = None,
) -> tuple[Transfer, bool]:
    """Move funds between two of the firm's own ESFCAs; across currencies at the day's
    buying rates (``to = amount × buy(from) / buy(to)``, half up)."""
    fingerprint = _fingerprint(
        reference=reference,
        value_date=value_date,
        from_account=from_account_id,
        to_account=to_account_id,
        amount=amount,
    )
    existing = _replay(Transfer, firm, reference, fingerprint)
    if existing:
        return existing, False
    own = {
        a.pk: a
        for a in Account.objects.filter(
            owner=firm, kind=Account.Kind.ESFCA, pk__in=[from_account_id, to_account_id]
        )
    }
    source, target = own.get(from_account_id), own.get(to_account_id)
    errors = _movement_errors(
        reference=reference,
        value_date=value_date,
        currency=source.currency if source else "",
        amount=amount,
        today=today or local_today(),
    )
    if source is None:
        errors.add("from_account", "Choose one of the firm's ESFCAs.")
    if target is None:
        errors.add("to_account", "Choose one of the firm's ESFCAs.")
    if from_account_id == to_account_id:
        errors.add("to_account", "Choose a different account to transfer to.")
    errors.raise_if_any()
    amount = amount.quantize(policy.CENT)

    def write(firm: Firm):
        _check_covered(source, amount, value_date)
        if source.currency == target.currency:
            rate, to_amount = Decimal(1), amount
            legs = [credit(source, amount), debit(target, amount)]
        else:
            rates = buying_rates(currencies=[source.currency, target.currency], on=value_date)
            exact = Fraction(rates[source.currency]) / Fraction(rates[target.currency])
            to_amount = policy.round_half_up(Fraction(amount) * exact)
            rate = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(RATE_PLACES)
            legs = [
                credit(source, amount),
                debit(_internal(firm, Account.Kind.FX_TRADING, source.currency), amount),
                debit(target, to_amount),
                credit(_internal(firm, Account.Kind.FX_TRADING, target.currency), to_amount),
            ]
        txn = transaction_post(
            key=f"transfer:{firm.pk}:{reference}",
            kind=LedgerTransaction.Kind.TRANSFER,
            value_date=value_date,
            legs=legs,
            memo=f"Transfer {reference}"[:500],
            fx_rate=None if rate == 1 else rate,
        )
        return Transfer.objects.create(
            **_frame(firm, reference, value_date, fingerprint, txn, actor),
            amount=amount,
            currency=source.currency,
            from_account=source,
            to_account=target,
            rate=rate,
            to_amount=to_amount,
        )

    return _record_once(
        Transfer,
        firm=firm,
        reference=reference,
        fingerprint=fingerprint,
        actor=actor,
        action="transfer_created",
        write=write,
    )


# --- accounts -------------------------------------------------------------------------------


def firm_account_open(*, firm: Firm, bank: Bank, currency: str, iban: str, actor=None) -> Account:
    """Open the firm's PKR account or an ESFCA: one per firm, bank and currency."""
    errors = _Errors()
    if currency not in settings.CURRENCIES:
        errors.add("currency", f"Use one of {', '.join(settings.CURRENCIES)}.")
    if not iban_is_valid(iban):
        errors.add("iban", "Enter a valid Pakistani IBAN (PK…, mod-97 check).")
    elif iban[4:8] != bank.code:
        errors.add("iban", f"The IBAN's bank code {iban[4:8]} is not {bank.code}.")
    errors.raise_if_any()
    kind = Account.Kind.PKR_BANK if currency == "PKR" else Account.Kind.ESFCA
    with transaction.atomic():
        lock_firm(firm)
        if Account.objects.filter(owner=firm, bank=bank, currency=currency, kind=kind).exists():
            raise DuplicateReference(
                f"{firm.name} already has a {currency} account at {bank.code}.",
                bank=bank.code,
                currency=currency,
            )
        account = account_open(kind=kind, currency=currency, owner=firm, bank=bank, iban=iban)
        audit(actor, firm, "account_opened", account, bank=bank.code, currency=currency)
    return account


# --- receipts in bulk (imports) -------------------------------------------------------------


def _receipt_fingerprint(
    *,
    reference,
    value_date,
    amount,
    currency,
    retain,
    conversion_rate,
    client_name,
    client_country,
    purpose_code,
    bank,
    converted_on,
) -> str:
    return _fingerprint(
        reference=reference,
        value_date=value_date,
        amount=amount,
        currency=currency,
        retain=retain,
        conversion_rate=conversion_rate,
        client_name=client_name,
        client_country=client_country,
        purpose_code=purpose_code or "",
        bank=bank,
        converted_on=converted_on,
    )


def _receipt_check(
    *,
    reference,
    value_date,
    amount,
    currency,
    retain,
    conversion_rate,
    client_name,
    client_country,
    purpose_code,
    bank,
    converted_on,
    today: date,
    purpose_known,
) -> None:
    """Field validation of a receipt (``validation_error``, every field at once); ``bank``
    is judged by the account lookup that follows."""
    errors = _Errors()
    _check_common(
        errors, reference=reference, value_date=value_date, currency=currency, today=today
    )
    _check_amount(errors, "amount", amount)
    if retain != "max":
        _check_amount(errors, "retain", retain, allow_zero=True)
    _check_rate(errors, "conversion_rate", conversion_rate)
    _check_text(errors, "client_name", client_name)
    _check_country(errors, "client_country", client_country)
    if purpose_code and not purpose_known(purpose_code):
        errors.add("purpose_code", f"'{purpose_code}' is not a known purpose code.")
    if converted_on is not None:
        if not isinstance(converted_on, date):
            errors.add("converted_on", "Enter a date as YYYY-MM-DD.")
        elif isinstance(value_date, date) and converted_on < value_date:
            errors.add("converted_on", "The conversion cannot precede the value date.")
        elif converted_on > today:
            errors.add("converted_on", "The conversion date cannot be in the future.")
    errors.raise_if_any()


_RECEIPT_PARAMETERS = inspect.signature(receipt_record).parameters
# A row names receipt_record's keyword arguments; what it leaves out takes their defaults.
_ROW_DEFAULTS = {
    name: p.default
    for name, p in _RECEIPT_PARAMETERS.items()
    if p.default is not inspect.Parameter.empty and name != "today"
}
_ROW_FIELDS = set(_RECEIPT_PARAMETERS) - {"firm", "actor", "today"}


class _New:
    """A receipt judged in a batch: its fields, then at the flush its transaction and id.
    The model instance is built only if someone asks for it (an import reads the figures)."""

    __slots__ = ("_instance", "fields", "pk")

    def __init__(self, fields: dict):
        self.fields = fields
        self.pk: int | None = None
        self._instance: Receipt | None = None

    @property
    def request_fingerprint(self) -> str:
        return self.fields["request_fingerprint"]

    def instance(self) -> Receipt:
        if self._instance is None:
            receipt = Receipt(id=self.pk, **self.fields)
            receipt._state.adding = False
            receipt._state.db = connection.alias
            self._instance = receipt
        return self._instance


@dataclass
class RowOutcome:
    """What became of one row: ``created``, ``replayed`` (the stored receipt), or ``refused``
    with the refusal's code, message and details (exactly what ``receipt_record`` raises)."""

    stored: Receipt | _New | None = None
    created: bool = False
    error: DomainError | None = None

    @property
    def receipt(self) -> Receipt | None:
        return self.stored.instance() if isinstance(self.stored, _New) else self.stored

    def value(self, name: str):
        """One field of the receipt, without building a model instance for a new one."""
        if isinstance(self.stored, _New):
            return self.stored.fields[name]
        return getattr(self.stored, name)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "refused"
        return "created" if self.created else "replayed"

    @property
    def code(self) -> str:
        return self.error.code if self.error else ""

    @property
    def message(self) -> str:
        return self.error.message if self.error else ""

    @property
    def details(self) -> dict:
        return self.error.details if self.error else {}


class _Memo:
    """A lookup done once per chunk and arguments; a refusal is remembered too."""

    def __init__(self, fn):
        self.fn = fn
        self.seen: dict = {}

    def __call__(self, *args):
        if args not in self.seen:
            try:
                self.seen[args] = (self.fn(*args), None)
            except DomainError as exc:
                self.seen[args] = (None, exc)
        value, exc = self.seen[args]
        if exc is not None:
            raise exc
        return value


def _tax_applies_to(firm: Firm) -> str:
    if firm.registration_body == Firm.RegistrationBody.PSEB:
        return TaxRate.AppliesTo.PSEB
    return TaxRate.AppliesTo.OTHER


def _latest_in_force(versions: list, on: date):
    """The first of ``versions`` (newest first) in force on ``on``, or None."""
    return next((v for v in versions if v.effective_from <= on), None)


class _ChunkLookups:
    """Everything ``receipt_record`` looks up, read once for a chunk of rows: the same
    helpers answer, so a missing rule, account or rate is refused in the same words."""

    def __init__(self, firm: Firm, rows: list[dict]):
        self.firm = firm
        days = {r["value_date"] for r in rows if isinstance(r["value_date"], date)}
        currencies = {r["currency"] for r in rows if isinstance(r["currency"], str)}
        self.rates = buying_rates_many(currencies=currencies | {policy.USD}, days=days)
        self.rules = list(
            RetentionRuleVersion.objects.filter(firm_kind=firm.kind).order_by("-effective_from")
        )
        self.taxes = list(
            TaxRate.objects.filter(applies_to=_tax_applies_to(firm)).order_by("-effective_from")
        )
        self.purpose_codes = set(PurposeCode.objects.values_list("code", flat=True))
        self.esfca = _Memo(lambda currency, bank: _esfca(firm, currency, bank))
        self.pkr = _Memo(lambda bank_id: _pkr_account(firm, bank_id))
        self.internal = _Memo(lambda kind, currency: _internal(firm, kind, currency))
        self._buying = _Memo(lambda currency, on: buying_rate(currency=currency, on=on))
        self._ref = _Memo(lambda currency, on: ref_rates(currency, on))
        self._rule = _Memo(self._rule_on)  # per day: a chunk has thousands of rows, few days
        self._tax_rate = _Memo(self._tax_rate_on)

    def rule(self, on: date) -> RetentionRuleVersion:
        return self._rule(on)

    def tax_rate(self, on: date) -> Decimal:
        return self._tax_rate(on)

    def _rule_on(self, on: date) -> RetentionRuleVersion:
        return _latest_in_force(self.rules, on) or retention_rule_on(self.firm, on)

    def _tax_rate_on(self, on: date) -> Decimal:
        row = _latest_in_force(self.taxes, on)
        return row.rate if row is not None else tax_rate_on(self.firm, on)

    def buying(self, currency: str, on: date) -> Decimal:
        rate = self.rates.get((currency, on))
        return rate if rate is not None else self._buying(currency, on)

    def ref(self, currency: str, on: date) -> RefRates:
        buy, buy_usd = self.rates.get((currency, on)), self.rates.get((policy.USD, on))
        if currency != policy.USD and buy is not None and buy_usd is not None:
            return RefRates(buy, buy_usd)
        return self._ref(currency, on)


class _Month:
    """One calendar month of the firm's receipts and its running USD sums (§2), kept
    incrementally: the sums of the month so far stand in for the list of its receipts."""

    def __init__(self):
        self.receipts: list[tuple] = []  # _MONTH_FIELDS of receipts (or of sums of them)
        self.counted = 0
        self.usd_amount = Fraction(0)
        self.usd_retained = Fraction(0)
        self.latest: date | None = None

    def add(self, receipt: Receipt) -> None:
        self.add_fields(
            (
                receipt.amount.amount,
                receipt.retained,
                receipt.currency,
                receipt.ref_buy,
                receipt.ref_buy_usd,
                receipt.value_date,
            )
        )

    def add_new(self, fields: dict) -> None:
        self.add_fields(tuple(fields[name] for name in _MONTH_FIELDS))

    def add_fields(self, fields: tuple) -> None:
        self.receipts.append(fields)
        value_date = fields[-1]
        if self.latest is None or value_date > self.latest:
            self.latest = value_date

    def earlier(self) -> list[policy.MonthItem]:
        # Items first, sums after: a receipt without its rates refuses with the sums intact.
        new = [_month_item_of(*fields) for fields in self.receipts[self.counted :]]
        for item in new:
            self.usd_amount += item.usd_amount
            self.usd_retained += item.usd_retained
        self.counted = len(self.receipts)
        return [policy.MonthItem(usd_amount=self.usd_amount, usd_retained=self.usd_retained)]


def _receipt_copy_plan() -> tuple[list[str], list[tuple[str, str]]]:
    """Receipt's columns after the id, and how each is read from the judged fields:
    ``("fk", name)`` the related object's id, ``("now", name)`` the insert time,
    ``("value", name)`` the value as is (Decimal, date, str or None: sent unchanged)."""
    columns, how = [], []
    for model_field in Receipt._meta.concrete_fields:
        if model_field.primary_key:
            continue
        columns.append(model_field.attname)
        if model_field.is_relation:
            how.append(("fk", model_field.name))
        elif getattr(model_field, "auto_now_add", False):
            how.append(("now", model_field.name))
        else:
            how.append(("value", model_field.name))
    return columns, how


_RECEIPT_COLUMNS, _RECEIPT_HOW = _receipt_copy_plan()
_AUDIT_COLUMNS = ["actor_id", "firm_id", "action", "object_type", "object_id", "details", "at"]


def _receipt_row(fields: dict, now) -> tuple:
    row = []
    for how, name in _RECEIPT_HOW:
        value = fields[name] if how != "now" else now
        if how == "fk" and value is not None:
            value = value.pk
        row.append(value)
    return tuple(row)


@dataclass(frozen=True)
class _ReceiptsCopy:
    """New receipts and their audit rows in ``COPY`` format, ids taken."""

    receipts: bytes
    audits: bytes


def _receipts_copy(firm: Firm, actor, new: list[_New]) -> _ReceiptsCopy:
    """Ids for new receipts (their transactions set) and their audit rows, and both rows
    formatted as ``_record_once`` would write them (one insert time for all)."""
    now = timezone.now()
    for n, pk in zip(new, next_ids(Receipt, len(new)), strict=True):
        n.pk = pk
    # What every receipt's audit row shares, as _audit_event builds it.
    template = audit_event(actor, firm, "receipt_recorded", Receipt(), reference="")
    audits = (
        (
            audit_id,
            template.actor_id,
            template.firm_id,
            template.action,
            template.object_type,
            str(n.pk),
            f'{{"reference": {json_text(n.fields["reference"])}}}',  # jsonb reads the text
            now,
        )
        for audit_id, n in zip(next_ids(AuditEvent, len(new)), new, strict=True)
    )
    return _ReceiptsCopy(
        receipts=copy_data((n.pk, *_receipt_row(n.fields, now)) for n in new),
        audits=copy_data(audits),
    )


def _write_receipts_copy(data: _ReceiptsCopy) -> None:
    """Constraints and triggers apply to ``COPY`` as to ``INSERT``."""
    copy_into(Receipt, ["id", *_RECEIPT_COLUMNS], data.receipts)
    copy_into(AuditEvent, ["id", *_AUDIT_COLUMNS], data.audits)


def _write_new_receipts(firm: Firm, actor, new: list[_New]) -> None:
    """The receipt and audit rows of a flush, as ``_record_once`` would write them."""
    if connection.vendor != "postgresql":
        receipts = Receipt.objects.bulk_create([Receipt(**n.fields) for n in new])
        for n, receipt in zip(new, receipts, strict=True):
            n.pk = receipt.pk
        AuditEvent.objects.bulk_create(
            audit_event(actor, firm, "receipt_recorded", r, reference=r.reference) for r in receipts
        )
        return
    _write_receipts_copy(_receipts_copy(firm, actor, new))


def _stored_receipts(firm: Firm, references: list[str]) -> list[Receipt]:
    """The firm's receipts with these references. On PostgreSQL the references go as one
    array parameter: a chunk has thousands, which Django's ``__in`` would prepare and
    quote one by one."""
    if not references:
        return []
    if connection.vendor != "postgresql":
        return list(Receipt.objects.filter(firm=firm, reference__in=references))
    table = connection.ops.quote_name(Receipt._meta.db_table)
    return list(
        Receipt.objects.raw(
            f"SELECT * FROM {table} WHERE firm_id = %s AND reference = ANY(%s)",
            [firm.pk, references],
        )
    )


def _month_key(on: date) -> tuple[int, int]:
    return on.year, on.month


class _NeedsLock(Exception):
    """A row judged ahead of its chunk's lock needs the database under the lock (a receipt
    dated before one already in its month, a reference reused with other content)."""


@dataclass
class _Carried:
    """What chunks judged ahead of their lock carry forward: the references and months
    seen so far, with the receipts of the chunks before (written or being written)."""

    known: dict = field(default_factory=dict)
    months: dict = field(default_factory=dict)


class _Batch:
    """One chunk of ``receipts_record_many``: judged under the firm's lock, or ``ahead``
    of it (``_judge_ahead``), where a row that would read the database raises
    ``_NeedsLock`` and what the chunk learns is ``carried`` on to the next one."""

    def __init__(
        self,
        firm: Firm,
        actor,
        rows: list[dict],
        today: date,
        carried: _Carried | None = None,
        ahead: bool = False,
    ):
        self.firm, self.actor, self.today, self.ahead = firm, actor, today, ahead
        carried = carried or _Carried()
        self.lookups = _ChunkLookups(firm, rows)
        self.known: dict[str, Receipt | _New] = carried.known
        references = [
            r["reference"]
            for r in rows
            if isinstance(r["reference"], str) and r["reference"] not in self.known
        ]
        self.known.update((r.reference, r) for r in _stored_receipts(firm, references))
        self.months: dict[tuple[int, int], _Month] = carried.months
        keys = {
            _month_key(r["value_date"]) for r in rows if isinstance(r["value_date"], date)
        } - set(self.months)
        if keys:
            spans = [policy.month_bounds(date(y, m, 1)) for y, m in keys]
            in_months = Q()
            for first, last in spans:
                in_months |= Q(value_date__range=(first, last))
            # What the month's USD sums read, summed in SQL per day and reference rates: a
            # USD equivalent is linear in the amount, so the sums give the same exact result
            # as the receipts one by one, and a month of thousands is a few rows.
            stored = (
                Receipt.objects.filter(in_months, firm=firm)
                .values("value_date", "currency", "ref_buy", "ref_buy_usd")
                .annotate(amount_sum=Sum("amount"), retained_sum=Sum("retained"))
                .order_by()
                .values_list(
                    "amount_sum", "retained_sum", "currency", "ref_buy", "ref_buy_usd", "value_date"
                )
            )
            for key in keys:
                self.months[key] = _Month()
            for fields in stored:
                self.months[_month_key(fields[-1])].add_fields(fields)
        self.pending: list[tuple[_New, Posting]] = []
        self.prepared: PreparedPostings | None = None
        self.copied: _ReceiptsCopy | None = None

    def prepare(self) -> None:
        """Before the flush, without the locks: validate the postings and, on PostgreSQL,
        take the ids and format every row for ``COPY`` (a flush then mostly sends them)."""
        self.prepared = postings_prepare([posting for _, posting in self.pending], copy=True)
        plan = self.prepared.copy
        if plan is not None:
            new = [n for n, _ in self.pending]
            for n, txn in zip(new, plan.transactions, strict=True):
                n.fields["transaction"] = txn
            self.copied = _receipts_copy(self.firm, self.actor, new)

    def flush(self) -> None:
        """Post the pending receipts: one bulk ledger posting, then their rows in bulk."""
        if not self.pending:
            return
        posted = transactions_post_many(self.prepared or [posting for _, posting in self.pending])
        if self.copied is not None and posted.copied:
            _write_receipts_copy(self.copied)
        else:  # not prepared, or the ledger posted the usual way (other ids)
            new = [n for n, _ in self.pending]
            for n, txn in zip(new, posted.transactions, strict=True):
                n.fields["transaction"] = txn
            _write_new_receipts(self.firm, self.actor, new)
        self.pending, self.prepared, self.copied = [], None, None

    def one(self, row: dict) -> RowOutcome:
        args = {**_ROW_DEFAULTS, **row}
        args["retain"] = "max" if args["retain"] in (None, "") else args["retain"]
        fingerprint = _receipt_fingerprint(**args)
        existing = self.known.get(args["reference"])
        if existing is not None:
            if existing.request_fingerprint == fingerprint:
                return RowOutcome(existing, created=False)
            if self.ahead:
                raise _NeedsLock
            self.flush()  # the stored record's id goes into the refusal
            _replay(Receipt, self.firm, args["reference"], fingerprint)  # raises
        _receipt_check(
            **args, today=self.today, purpose_known=self.lookups.purpose_codes.__contains__
        )
        month = self.months[_month_key(args["value_date"])]
        if month.latest is not None and month.latest > args["value_date"]:
            if self.ahead:
                raise _NeedsLock
            return self.backdated(row, month)  # §2 backdating: receipt_record's own rule
        fields, posting = self.judge(month, **args, fingerprint=fingerprint)
        new = _New(fields)
        self.pending.append((new, posting))
        self.known[fields["reference"]] = new
        month.add_new(fields)
        return RowOutcome(new, created=True)

    def backdated(self, row: dict, month: _Month) -> RowOutcome:
        self.flush()  # receipt_record reads the month from the database
        receipt, created = receipt_record(firm=self.firm, actor=self.actor, today=self.today, **row)
        if created:
            self.known[receipt.reference] = receipt
            month.add(receipt)
        return RowOutcome(receipt, created=created)

    def judge(self, month: _Month, *, fingerprint, **request) -> tuple[dict, Posting]:
        """receipt_record's judgement, for a row with no later receipt in its month."""
        return _judge_receipt(
            firm=self.firm,
            actor=self.actor,
            lookups=self.lookups,
            earlier=month.earlier,
            later=[],
            fingerprint=fingerprint,
            **request,
        )


def receipts_record_many(*, firm: Firm, actor, rows: list[dict], today: date | None = None):
    """Record many receipts with exactly the outcome of ``receipt_record`` called for each
    row in order (rules.md §2–§3), in one database transaction and a bounded number of
    queries: the firm is locked once, the rules, rates, accounts and the months the rows
    touch are read once, each month's running USD sums are carried forward, and the new
    receipts are posted with one bulk ledger posting.

    Each row is a dict of ``receipt_record``'s keyword arguments. Returns one
    ``RowOutcome`` per row. A refused row leaves nothing behind and does not stop the
    others. A row dated before a receipt already in its month (stored, or earlier in
    the rows) goes through ``receipt_record`` itself, which owns the §2 backdating rule.
    """
    today = today or local_today()
    _check_row_fields(rows)
    with transaction.atomic():
        batch = _Batch(lock_firm(firm), actor, [{**_ROW_DEFAULTS, **r} for r in rows], today)
        outcomes = _judge_rows(batch, rows)
        batch.flush()
    return outcomes


def _check_row_fields(rows: list[dict]) -> None:
    for row in rows:
        unknown = set(row) - _ROW_FIELDS
        if unknown:
            raise TypeError(f"Unknown receipt fields: {', '.join(sorted(unknown))}.")


def _judge_rows(batch: _Batch, rows: list[dict]) -> list[RowOutcome]:
    outcomes = []
    for row in rows:
        try:
            outcomes.append(batch.one(row))
        except DomainError as exc:
            outcomes.append(RowOutcome(error=exc))
    return outcomes


# --- receipts in chunks, judged ahead of the lock (imports on PostgreSQL) -------------------


def receipts_check_chunks(
    *, firm: Firm, actor, chunks: Iterable[list[dict]], today: date | None = None
) -> Iterator[list[RowOutcome]]:
    """What ``receipts_record_chunks`` would give for these chunks, for a dry run: call it
    inside a transaction that the caller rolls back.

    The chunks are judged ahead of any write, each from what the ones before it carried
    forward, so that a dry run of new rows writes nothing at all. Only when a chunk needs
    the database under the lock (a backdated row, a reused reference) are the chunks judged
    so far written, and that chunk recorded by ``receipts_record_many``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("A dry run belongs inside a transaction that is rolled back.")
    today = today or local_today()
    carried, unwritten = _Carried(), []
    for rows in chunks:
        ahead = _judge_ahead(firm, actor, rows, today, carried, prepare=False)
        if ahead.batch is not None:
            unwritten.append(ahead.batch)
            yield ahead.outcomes
            continue
        for batch in unwritten:
            batch.flush()
        unwritten, carried = [], _Carried()
        yield receipts_record_many(firm=firm, actor=actor, rows=rows, today=today)


@dataclass
class ChunkOutcome:
    """One chunk's outcomes, once committed; ``ahead`` when the judgement made ahead of
    the firm's lock held and was written as it was."""

    outcomes: list[RowOutcome]
    ahead: bool = False


@dataclass
class _Ahead:
    """A chunk judged ahead of its lock: its outcomes and the batch holding its writes, or
    ``None`` for both when a row needed the lock (the writer judges the chunk again)."""

    rows: list[dict]
    outcomes: list[RowOutcome] | None
    batch: _Batch | None


def _judge_ahead(
    firm: Firm, actor, rows: list[dict], today: date, carried: _Carried, prepare: bool = True
) -> _Ahead:
    """Judge a chunk without the firm's lock, as if the chunks before it were written."""
    _check_row_fields(rows)
    firm = Firm.objects.get(pk=firm.pk)  # as the lock would read it
    batch = _Batch(firm, actor, [{**_ROW_DEFAULTS, **r} for r in rows], today, carried, True)
    try:
        outcomes = _judge_rows(batch, rows)
    except _NeedsLock:
        return _Ahead(rows, None, None)
    if prepare:
        batch.prepare()  # the writer thread has less to do: it is the slower of the two
    return _Ahead(rows, outcomes, batch)


def _last_receipt_id(firm: Firm, after: int = 0) -> int:
    """The firm's highest receipt id above ``after`` (``after`` when there is none)."""
    newer = Receipt.objects.filter(firm=firm, pk__gt=after).aggregate(last=Max("pk"))["last"]
    return newer or after


class _ChunkWriter:
    """Writes chunks judged ahead of their lock, one database transaction each, on its own
    thread and connection, so that the next chunk is judged while this one is written and
    committed (PostgreSQL does its part on the other core).

    Under the firm's lock it first proves the judgement still holds: the firm's receipts
    are what the judgement assumed, i.e. none was written by anyone else since the last
    chunk (ids are taken under the firm's lock, so any such receipt has a higher id).
    Otherwise, or when the chunk needed the lock, it records the chunk with
    ``receipts_record_many`` under the lock, and says so (``ahead`` false) so that the next
    chunk is judged again from the database."""

    def __init__(self, firm: Firm, actor, today: date):
        self.firm, self.actor, self.today = firm, actor, today
        self.last_id = _last_receipt_id(firm)  # read before anything is judged
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipts-writer")

    def submit(self, ahead: _Ahead) -> Future:
        return self.pool.submit(self._write, ahead)

    def _write(self, ahead: _Ahead) -> ChunkOutcome:
        with transaction.atomic():
            firm = lock_firm(self.firm)
            kept = ahead.batch is not None and _last_receipt_id(firm, self.last_id) == self.last_id
            if kept:
                ahead.batch.flush()
                outcomes = ahead.outcomes
            else:
                outcomes = receipts_record_many(
                    firm=firm, actor=self.actor, rows=ahead.rows, today=self.today
                )
            self.last_id = _last_receipt_id(firm, self.last_id)
        return ChunkOutcome(outcomes, ahead=kept)

    def close(self) -> None:
        try:
            self.pool.submit(connections.close_all).result()  # the writer thread's connection
        finally:
            self.pool.shutdown(wait=True)


def receipts_record_chunks(
    *, firm: Firm, actor, chunks: Iterable[list[dict]], today: date | None = None
) -> Iterator[ChunkOutcome]:
    """``receipts_record_many`` for each chunk in turn, one database transaction each,
    yielding each chunk's outcomes once it is committed: the same outcomes as calling it
    chunk by chunk.

    On PostgreSQL, outside any transaction, a chunk is judged while the one before it is
    written and committed by a ``_ChunkWriter`` (its own thread and connection), which
    proves under the firm's lock that the judgement still holds or records the chunk again
    under the lock. Elsewhere (SQLite, or inside a transaction) the chunks go one by one.
    """
    today = today or local_today()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        for rows in chunks:
            yield ChunkOutcome(receipts_record_many(firm=firm, actor=actor, rows=rows, today=today))
        return
    writer = _ChunkWriter(firm, actor, today)
    try:
        carried, in_flight = _Carried(), None
        for rows in chunks:
            ahead = _judge_ahead(firm, actor, rows, today, carried)
            if in_flight is not None:
                done = in_flight.result()
                yield done
                if not done.ahead:  # judged from the database again, now the chunk before is in
                    carried = _Carried()
                    ahead = _judge_ahead(firm, actor, rows, today, carried)
            if ahead.batch is None:
                carried = _Carried()  # this chunk's judgement was cut short: start afresh
            in_flight = writer.submit(ahead)
        if in_flight is not None:
            yield in_flight.result()
    finally:
        writer.close()
