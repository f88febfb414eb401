"""Export receipts (rules.md §2–§3): the request, its judgement, and recording one.

``receipt_judge`` is the one judgement of a receipt: the live preview, ``receipt_record``
and the import (``batch``) all call it, each with its own ``ReceiptLookups`` (read as asked,
read once per chunk, or opening nothing for a preview) and its own view of the month.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import MISSING, dataclass, fields
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Protocol

from exporters.models import Firm
from ledger.errors import FxRateMissing
from ledger.fx.arith import RATE_QUANTUM
from ledger.fx.selectors import buying_rate
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from ledger.posting import Posting, credit, debit, transaction_post

from .. import backdating, policy
from ..errors import InvalidInput, RetentionLimitExceeded
from ..models import PurposeCode, Receipt, RetentionRuleVersion
from .checks import (
    MAX_AMOUNT,
    FieldErrors,
    check_amount,
    check_common,
    check_country,
    check_rate,
    check_text,
    local_today,
)
from .days import line_of_fields, month_sums, receipt_days_add
from .movements import FingerprintShape, FirmAccounts, movement_fields, movement_record
from .rules import (
    NO_RATES,
    RefRates,
    firm_is_registered,
    position_add_sums,
    receipt_ref,
    ref_rates,
    retention_rule_on,
    stored_rule,
    tax_rate_on,
)


@dataclass(frozen=True)
class ReceiptRequest:
    """What an officer (a form, the API, an import row) asks to record. Its fields are the
    row shape of an import; nothing is validated until ``check``."""

    reference: str
    value_date: date
    amount: Decimal
    currency: str
    client_name: str
    client_country: str
    retain: Decimal | str = "max"
    conversion_rate: Decimal | None = None
    purpose_code: str = ""
    bank: str = ""
    converted_on: date | None = None

    def __post_init__(self):
        if self.retain is None or self.retain == "":
            object.__setattr__(self, "retain", "max")

    @classmethod
    def from_row(cls, row: dict) -> "ReceiptRequest":
        """The request of an import row (a dict of these fields), equal to
        ``ReceiptRequest(**row)`` but built without the frozen ``__init__``'s per-field
        ``object.__setattr__``: an import builds one per row. Unknown or missing fields are
        a bug of the caller (``TypeError``), as they are for the constructor."""
        names = row.keys()
        if not names <= FIELD_SET or not names >= REQUIRED:
            unknown, missing = sorted(names - FIELD_SET), sorted(REQUIRED - names)
            raise TypeError(f"Receipt fields unknown: {unknown}; missing: {missing}.")
        request = object.__new__(cls)
        values = request.__dict__
        values.update(DEFAULTS)
        values.update(row)
        if values["retain"] is None or values["retain"] == "":
            values["retain"] = "max"
        return request

    @cached_property
    def fingerprint(self) -> str:
        return FINGERPRINT.of(self.__dict__)

    def check(self, *, today: date, purpose_known: Callable[[str], bool]) -> None:
        """Field validation (``validation_error``, every field at once); ``bank`` is judged
        by the account lookup that follows."""
        errors = FieldErrors()
        check_common(
            errors,
            reference=self.reference,
            value_date=self.value_date,
            currency=self.currency,
            today=today,
        )
        check_amount(errors, "amount", self.amount)
        if self.retain != "max":
            check_amount(errors, "retain", self.retain, allow_zero=True)
        check_rate(errors, "conversion_rate", self.conversion_rate)
        check_text(errors, "client_name", self.client_name)
        check_country(errors, "client_country", self.client_country)
        if self.purpose_code and not purpose_known(self.purpose_code):
            errors.add("purpose_code", f"'{self.purpose_code}' is not a known purpose code.")
        self._check_converted_on(errors, today)
        errors.raise_if_any()

    def _check_converted_on(self, errors: FieldErrors, today: date) -> None:
        converted_on = self.converted_on
        if converted_on is None:
            return
        if not isinstance(converted_on, date):
            errors.add("converted_on", "Enter a date as YYYY-MM-DD.")
        elif isinstance(self.value_date, date) and converted_on < self.value_date:
            errors.add("converted_on", "The conversion cannot precede the value date.")
        elif converted_on > today:
            errors.add("converted_on", "The conversion date cannot be in the future.")


FIELDS = tuple(f.name for f in fields(ReceiptRequest))
FIELD_SET = frozenset(FIELDS)
REQUIRED = frozenset(
    f.name for f in fields(ReceiptRequest) if f.default is MISSING and f.default_factory is MISSING
)
DEFAULTS = {f.name: f.default for f in fields(ReceiptRequest) if f.default is not MISSING}
FINGERPRINT = FingerprintShape(FIELDS)


class ReceiptLookups(Protocol):
    """What judging a receipt reads: the firm's accounts, the rules and the rates."""

    def esfca(self, currency: str, bank: str) -> Account: ...

    def pkr(self, bank_id: int | None) -> Account: ...

    def internal(self, kind: str, currency: str) -> Account: ...

    def rule(self, on: date) -> RetentionRuleVersion: ...

    def tax_rate(self, on: date) -> Decimal: ...

    def buying(self, currency: str, on: date) -> Decimal: ...

    def ref(self, currency: str, on: date) -> RefRates: ...


class StoredLookups:
    """``ReceiptLookups`` read from the database as they are asked for (one receipt)."""

    def __init__(self, firm: Firm):
        self.firm = firm
        self.accounts = FirmAccounts(firm)

    def esfca(self, currency: str, bank: str) -> Account:
        return self.accounts.esfca(currency, bank, named=True)

    def pkr(self, bank_id: int | None) -> Account:
        return self.accounts.pkr(bank_id, same_bank=True)

    def internal(self, kind: str, currency: str) -> Account:
        return self.accounts.internal(kind, currency)

    def rule(self, on: date) -> RetentionRuleVersion:
        return retention_rule_on(self.firm, on)

    def tax_rate(self, on: date) -> Decimal:
        return tax_rate_on(self.firm, on)

    def buying(self, currency: str, on: date) -> Decimal:
        return buying_rate(currency=currency, on=on)

    def ref(self, currency: str, on: date) -> RefRates:
        return ref_rates(currency, on)


@dataclass(frozen=True)
class ReceiptMonth:
    """The receipt's calendar month around its value date (§2): ``so_far()`` is the month
    of the receipts dated on or before it (asked only when the rule needs it: valuing them
    may need the table's rates), ``later`` the receipts dated after it."""

    so_far: Callable[[], policy.MonthPosition]
    later: Sequence[Receipt] = ()
    days: backdating.MonthDays | None = None  # instead of ``later``: the whole month (import)


def receipt_month(firm: Firm, on: date, *, replacing: Receipt | None = None) -> ReceiptMonth:
    """The month around ``on`` as stored (the firm locked, or a preview): its standing
    receipts (§9: a reversed receipt and its reversal leave the month's P and already),
    without the one a correction is ``replacing``."""
    first, last = policy.month_bounds(on)
    sums = month_sums(firm, [(first, last)])
    earlier = [day for day in sums if day[5] <= on]
    # The days tell whether any standing receipt of the month is dated after ``on``: only
    # then are the later receipts read (a receipt dated last of its month reads none).
    later = Receipt.objects.none()
    if len(earlier) < len(sums):
        later = Receipt.objects.standing().filter(
            firm=firm, value_date__gt=on, value_date__lte=last
        )
    # A correction's original still standing is in the sums; the reversal takes it out.
    still_counted = (
        replacing is not None
        and first <= replacing.value_date <= on
        and Receipt.objects.standing().filter(pk=replacing.pk).exists()
    )

    def so_far() -> policy.MonthPosition:
        position = position_add_sums(policy.MonthPosition(), earlier)
        if still_counted:
            ref = receipt_ref(replacing)
            position.add(
                -replacing.amount.amount, -replacing.retained, buy=ref.buy, buy_usd=ref.buy_usd
            )
        return position

    if replacing is not None:
        later = later.exclude(pk=replacing.pk)
    return ReceiptMonth(
        so_far=so_far,
        later=list(later.order_by("value_date", "pk")),
    )


@dataclass(frozen=True)
class Judgement:
    """A judged receipt: ``Receipt(**fields)`` is the unsaved record, ``posting`` its legs."""

    fields: dict
    posting: Posting


def receipt_judge(
    *, firm: Firm, actor, request: ReceiptRequest, lookups: ReceiptLookups, month: ReceiptMonth
) -> Judgement:
    """Judge one validated receipt (rules.md §2–§3): accounts → rule in force → rates →
    limit, in the order of §2; then the split (§3) and its posting."""
    value_date, currency = request.value_date, request.currency
    amount = request.amount.quantize(policy.CENT)
    retain = request.retain if request.retain == "max" else request.retain.quantize(policy.CENT)
    esfca = lookups.esfca(currency, request.bank)
    pkr = lookups.pkr(esfca.bank_id)
    rule_row = lookups.rule(value_date)
    rule = rule_row.as_policy()
    tax_rate = lookups.tax_rate(value_date)
    if request.conversion_rate is None:
        rate, rate_source = lookups.buying(currency, value_date), "table"
    else:
        rate, rate_source = request.conversion_rate.quantize(RATE_QUANTUM), "bank"
    ref = _reference_rates(lookups, rule, currency, value_date)
    limit = _retention(
        firm, request, month, lookups, rule=rule, amount=amount, retain=retain,
        tax_rate=tax_rate, ref=ref,
    )  # fmt: skip
    split = policy.receipt_split(
        amount=amount, retained=limit.retained, conversion_rate=rate, tax_rate=tax_rate
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
        key=f"receipt:{firm.pk}:{request.reference}",
        kind=LedgerTransaction.Kind.RECEIPT,
        value_date=value_date,
        legs=[leg for leg in legs if leg.debit or leg.credit],
        memo=f"{request.client_name} ({request.client_country}) {request.reference}"[:500],
        fx_rate=rate,
    )
    fields = dict(
        **movement_fields(firm, request.reference, value_date, request.fingerprint, None, actor),
        amount=amount,
        currency=currency,
        esfca=esfca,
        retain_requested=str(retain),
        allowed_retention=limit.allowed,
        retained=split.retained,
        converted=split.converted,
        conversion_rate=rate,
        converted_on=request.converted_on or value_date,
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
        client_name=request.client_name,
        client_country=request.client_country,
        purpose_code=request.purpose_code or "",
    )
    return Judgement(fields, posting)


def _reference_rates(lookups: ReceiptLookups, rule, currency: str, on: date) -> RefRates | None:
    """The USD equivalents' rates: required under the calendar-month basis; a per-receipt
    limit needs none, so a missing rate leaves the receipt without them (None)."""
    if rule.basis == policy.Basis.CALENDAR_MONTH:
        return lookups.ref(currency, on)
    try:
        return lookups.ref(currency, on)
    except FxRateMissing:
        return NO_RATES if currency == policy.USD else None


@dataclass(frozen=True)
class Limit:
    allowed: Decimal
    retained: Decimal


def _retention(firm, request, month: ReceiptMonth, lookups, *, rule, amount, retain, tax_rate, ref):
    """§2: the allowed retention and the figure retained; a retention above the limit, or
    one that would push a later receipt of the month above its own, is refused. Before
    later receipts, ``max`` and the allowed figure are the largest retention that keeps
    them all within their limits."""
    calendar = rule.basis == policy.Basis.CALENDAR_MONTH
    so_far = month.so_far() if calendar else policy.MonthPosition()
    allowed = so_far.allowed(
        rule=rule, amount=amount, tax_rate=tax_rate,
        eligible=firm_is_registered(firm, request.value_date),
        buy=ref.buy if ref else None, buy_usd=ref.buy_usd if ref else None,
    )  # fmt: skip
    retained = allowed if retain == "max" else retain
    if retained > allowed:
        raise RetentionLimitExceeded(
            f"At most {allowed} {request.currency} of this receipt may be retained.",
            allowed_retention=str(allowed),
        )
    fitting = _later_limit(
        month, request, lookups, so_far=so_far if calendar else None, amount=amount, ref=ref,
        allowed=allowed,
    )  # fmt: skip
    if fitting is None:
        return Limit(allowed, retained)
    if retain == "max":
        return Limit(fitting, fitting)
    if retained > fitting:
        raise RetentionLimitExceeded(
            f"Retaining {retained} {request.currency} on {request.value_date} would push "
            f"later receipts of the month above their limits; at most {fitting} "
            f"{request.currency} fits.",
            allowed_retention=str(fitting),
        )
    return Limit(fitting, retained)


def _later(receipts: Sequence[Receipt]) -> Iterator[tuple[date, policy.LaterReceipt]]:
    for receipt in receipts:
        ref = receipt_ref(receipt)
        yield (
            receipt.value_date,
            policy.LaterReceipt(
                rule=stored_rule(receipt),
                amount=receipt.amount.amount,
                retained=receipt.retained,
                tax_rate=receipt.tax_rate,
                buy=ref.buy,
                buy_usd=ref.buy_usd,
            ),
        )


def _later_limit(month: ReceiptMonth, request, lookups, *, so_far, amount, ref, allowed):
    """§2 backdating: the largest retention (≤ ``allowed``) that keeps every later receipt
    of the month within its own limit, or None when no later receipt limits this one
    (``backdating``: the month's days as an import keeps them, or built from ``later``)."""
    on = request.value_date
    days = month.days
    if days is None:
        if not any(r.rule_basis == policy.Basis.CALENDAR_MONTH and r.retained for r in month.later):
            return None
        days = backdating.MonthDays.of(_later(month.later))
    elif ref is None and not days.limits(on):
        return None
    ref = ref or lookups.ref(request.currency, on)
    return backdating.backdated_limit(
        days, on, so_far or month.so_far(), amount=amount, allowed=allowed, buy=ref.buy,
        buy_usd=ref.buy_usd,
    )  # fmt: skip


def purpose_code_known(code: str) -> bool:
    return PurposeCode.objects.filter(code=code).exists()


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
    request = ReceiptRequest(
        reference=reference,
        value_date=value_date,
        amount=amount,
        currency=currency,
        retain=retain,
        conversion_rate=conversion_rate,
        client_name=client_name,
        client_country=client_country,
        purpose_code=purpose_code,
        bank=bank,
        converted_on=converted_on,
    )
    return receipt_request_record(firm=firm, actor=actor, request=request, today=today)


def receipt_request_record(
    *,
    firm: Firm,
    actor,
    request: ReceiptRequest,
    today: date | None = None,
    replacing: Receipt | None = None,
) -> tuple[Receipt, bool]:
    """``receipt_record`` of a request already built (an import's backdated row; a
    correction's new receipt, judged without the one it is ``replacing``)."""

    def write(firm: Firm) -> Receipt:
        judgement = receipt_judge(
            firm=firm,
            actor=actor,
            request=request,
            lookups=StoredLookups(firm),
            month=receipt_month(firm, request.value_date, replacing=replacing),
        )
        receipt = Receipt(**judgement.fields)
        receipt.transaction = transaction_post(**vars(judgement.posting))
        receipt.save(force_insert=True)
        receipt_days_add(firm, [line_of_fields(judgement.fields)])
        return receipt

    return movement_record(
        Receipt,
        firm=firm,
        actor=actor,
        action="receipt_recorded",
        reference=request.reference,
        fingerprint=request.fingerprint,
        check=lambda: request.check(today=today or local_today(), purpose_known=purpose_code_known),
        write=write,
    )
