"""The rules in force for a firm on a day, read from the database; which version is in
force is always ``policy.in_force``'s decision (rules.md §2, §3, §6 flag 7)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from exporters.models import Firm
from ledger.fx.selectors import buying_rates

from .. import policy
from ..errors import NoRuleInForce
from ..models import Receipt, RetentionRuleVersion, TaxRate

# The kinds of firm as a refusal names them (never "it companys").
KINDS_PLURAL = {Firm.Kind.IT_COMPANY: "IT companies", Firm.Kind.FREELANCER: "freelancers"}


def retention_rule_on(firm: Firm, on: date) -> RetentionRuleVersion:
    rule = policy.in_force(RetentionRuleVersion.objects.filter(firm_kind=firm.kind), on)
    if rule is None:
        kinds = KINDS_PLURAL.get(firm.kind, f"firms of kind {firm.get_kind_display()}")
        raise NoRuleInForce(
            f"No retention rule for {kinds} is in force on {on}.", value_date=on.isoformat()
        )
    return rule


def firm_tax_rates(firm: Firm):
    """The withholding rates of the firm's registration (§3), every version."""
    return TaxRate.objects.filter(applies_to=policy.tax_applies_to(firm.registration_body))


def tax_rate_on(firm: Firm, on: date) -> Decimal:
    row = policy.in_force(firm_tax_rates(firm), on)
    # rules.md §3 seeds the withholding from 2022-07-01: before it, nothing is withheld.
    return row.rate if row is not None else Decimal("0")


def firm_judged_terms(firm: Firm) -> tuple:
    """What judging a receipt reads of its firm: the kind (the rule, §2), the registration
    (the tax, §3) and its expiry (eligibility). A judgement made with other terms is stale."""
    return (firm.kind, firm.registration_body, firm.registration_expires)


def firm_is_registered(firm: Firm, on: date) -> bool:
    """§6 flag 7: PSEB/P@SHA registration or a freelancer's self-declaration, not expired."""
    if not firm.registration_body:
        return False
    return firm.registration_expires is None or firm.registration_expires >= on


# --- reference rates for USD equivalents (§2) -----------------------------------------------


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


def stored_ref(currency: str, ref_buy, ref_buy_usd, value_date: date) -> RefRates:
    """A receipt's stored reference rates, or the table's of its day when it has none."""
    if currency == policy.USD:
        return NO_RATES
    if ref_buy is not None and ref_buy_usd is not None:
        return RefRates(ref_buy, ref_buy_usd)
    return ref_rates(currency, value_date)


def receipt_ref(receipt: Receipt) -> RefRates:
    return stored_ref(receipt.currency, receipt.ref_buy, receipt.ref_buy_usd, receipt.value_date)


def month_item(receipt: Receipt) -> policy.MonthItem:
    """A stored receipt in USD equivalent (§2)."""
    ref = receipt_ref(receipt)
    return policy.MonthItem(
        usd_amount=policy.usd_equivalent(receipt.amount.amount, buy=ref.buy, buy_usd=ref.buy_usd),
        usd_retained=policy.usd_equivalent(receipt.retained, buy=ref.buy, buy_usd=ref.buy_usd),
    )


def stored_rule(receipt: Receipt) -> policy.RetentionRule:
    """The rule version a receipt was judged under, as it stored it."""
    return policy.RetentionRule(
        firm_kind="",
        effective_from=receipt.rule_effective_from,
        ratio=receipt.rule_ratio,
        monthly_floor_usd=receipt.rule_monthly_floor_usd,
        basis=receipt.rule_basis,
    )


def month_position(receipts) -> policy.MonthPosition:
    """The month so far of these stored receipts (raises ``FxRateMissing`` for a receipt
    that has no reference rates, stored or in the table)."""
    position = policy.MonthPosition()
    for receipt in receipts:
        ref = receipt_ref(receipt)
        position.add(receipt.amount.amount, receipt.retained, buy=ref.buy, buy_usd=ref.buy_usd)
    return position


def position_add_sums(position: policy.MonthPosition, sums) -> policy.MonthPosition:
    """Count month sums (``days.month_sums`` rows) into ``position``. Rates first, sums
    after: a day without its rates refuses (``FxRateMissing``) with the position intact."""
    refs = [stored_ref(c, buy, buy_usd, day) for _, _, c, buy, buy_usd, day in sums]
    for (amount, retained, *_), ref in zip(sums, refs, strict=True):
        position.add(amount, retained, buy=ref.buy, buy_usd=ref.buy_usd)
    return position
