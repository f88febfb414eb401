"""Spending retained funds on permitted purposes (rules.md §4)."""

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from exporters.models import Firm
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from ledger.posting import credit, debit, transaction_post

from .. import policy
from ..errors import CategoryNotPermitted, EquityCapExceeded, EquityNotPermitted
from ..models import Allocation, EquityCapVersion, Parameter, Receipt
from .checks import check_country, check_text, local_today, movement_errors
from .movements import (
    FirmAccounts,
    check_covered,
    movement_fields,
    movement_record,
    request_fingerprint,
)
from .rules import month_item, ref_rates


def _usd_of(amount: Decimal, currency: str, on: date) -> Fraction:
    ref = ref_rates(currency, on)
    return policy.usd_equivalent(amount, buy=ref.buy, buy_usd=ref.buy_usd)


def _remitted_usd(allocation: Allocation) -> Fraction:
    """An earlier equity remittance in USD as recorded (its stored equivalent), not re-priced
    at the table's rates of today: a rate held or added later changes nothing."""
    if allocation.usd_equivalent is not None:
        return Fraction(allocation.usd_equivalent)
    return _usd_of(allocation.amount.amount, allocation.currency, allocation.value_date)


def _yearly_proceeds_usd(firm: Firm, year: int) -> list[Fraction]:
    """Export proceeds in USD of each of the three calendar years before ``year``, exact.

    A receipt without reference rates needs that day's table rates (``FxRateMissing``
    otherwise: the cap is never guessed)."""
    totals = []
    for y in (year - 3, year - 2, year - 1):
        receipts = Receipt.objects.standing().filter(firm=firm, value_date__year=y)
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
    earlier = Allocation.objects.standing().filter(
        firm=firm, category=Allocation.Category.OVERSEAS_EQUITY, value_date__year=value_date.year
    )
    so_far = sum((_remitted_usd(a) for a in earlier), Fraction(0))
    this = _usd_of(amount, currency, value_date)
    if so_far + this > cap:
        raise EquityCapExceeded(
            f"Equity remitted in {value_date.year} would reach USD "
            f"{policy.round_half_up(so_far + this)}, above the cap of "
            f"USD {policy.round_down(cap)}.",
            cap_usd=str(policy.round_down(cap)),
            remitted_usd=str(policy.round_half_up(so_far)),
        )


@dataclass(frozen=True)
class AllocationRequest:
    """What an officer asks to spend; nothing is validated until ``check``."""

    reference: str
    value_date: date
    category: str
    amount: Decimal
    currency: str
    payee_name: str
    payee_country: str
    investee_name: str = ""
    investee_country: str = ""
    sbp_approval_reference: str = ""
    bank: str = ""

    @cached_property
    def fingerprint(self) -> str:
        return request_fingerprint(**{f.name: getattr(self, f.name) for f in fields(self)})

    def check(self, today: date) -> None:
        """Fields first (every invalid one at once), then the category's own rule (§4)."""
        errors = movement_errors(
            reference=self.reference,
            value_date=self.value_date,
            currency=self.currency,
            amount=self.amount,
            today=today,
        )
        check_text(errors, "payee_name", self.payee_name)
        check_country(errors, "payee_country", self.payee_country)
        check_text(
            errors, "sbp_approval_reference", self.sbp_approval_reference, required=False,
            limit=120,
        )  # fmt: skip
        if self.category == policy.EQUITY:
            check_text(errors, "investee_name", self.investee_name)
            check_country(errors, "investee_country", self.investee_country)
        errors.raise_if_any()
        refusal = policy.category_refusal(category=self.category, payee_country=self.payee_country)
        if refusal:
            raise CategoryNotPermitted(
                refusal, category=self.category, payee_country=self.payee_country
            )


def _allocation_write(firm: Firm, actor, request: AllocationRequest) -> Allocation:
    """Under the firm's lock: the equity rules, the balance on every later day, the posting."""
    amount, currency, value_date = (
        request.amount.quantize(policy.CENT),
        request.currency,
        request.value_date,
    )
    accounts = FirmAccounts(firm)
    esfca = accounts.esfca(currency, request.bank)
    usd_equivalent = None
    if request.category == policy.EQUITY:
        _check_equity(
            firm,
            value_date=value_date,
            amount=amount,
            currency=currency,
            investee_country=request.investee_country,
            approval=request.sbp_approval_reference,
        )
        usd_equivalent = policy.round_half_up(_usd_of(amount, currency, value_date))
    check_covered(esfca, amount, value_date)
    payee = accounts.internal(Account.Kind.PAYEE, currency, request.category)
    txn = transaction_post(
        key=f"allocation:{firm.pk}:{request.reference}",
        kind=LedgerTransaction.Kind.ALLOCATION,
        value_date=value_date,
        legs=[debit(payee, amount), credit(esfca, amount)],
        memo=f"{request.category}: {request.payee_name} ({request.payee_country}) "
        f"{request.reference}"[:500],
    )
    esfca.refresh_from_db(fields=["balance"])
    return Allocation.objects.create(
        **movement_fields(firm, request.reference, value_date, request.fingerprint, txn, actor),
        amount=amount,
        currency=currency,
        esfca=esfca,
        category=request.category,
        payee_name=request.payee_name,
        payee_country=request.payee_country,
        investee_name=request.investee_name,
        investee_country=request.investee_country,
        sbp_approval_reference=request.sbp_approval_reference,
        balance_after=esfca.balance,
        usd_equivalent=usd_equivalent,
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
    request = AllocationRequest(
        reference=reference,
        value_date=value_date,
        category=category,
        amount=amount,
        currency=currency,
        payee_name=payee_name,
        payee_country=payee_country,
        investee_name=investee_name or "",
        investee_country=investee_country or "",
        sbp_approval_reference=sbp_approval_reference or "",
        bank=bank,
    )
    return movement_record(
        Allocation,
        firm=firm,
        actor=actor,
        action="allocation_created",
        reference=reference,
        fingerprint=request.fingerprint,
        check=lambda: request.check(today or local_today()),
        write=lambda locked: _allocation_write(locked, actor, request),
    )
