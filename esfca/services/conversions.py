"""Selling ESFCA funds for PKR, and moving funds between the firm's own ESFCAs (§4)."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

from exporters.models import Firm
from ledger.fx.arith import RATE_QUANTUM
from ledger.fx.selectors import buying_rate, buying_rates
from ledger.models import Account
from ledger.models import Transaction as LedgerTransaction
from ledger.posting import credit, debit, transaction_post

from .. import policy
from ..errors import InvalidInput
from ..models import Conversion, Transfer
from .checks import MAX_AMOUNT, check_rate, local_today, movement_errors
from .movements import (
    check_covered,
    esfca_account,
    internal_account,
    movement_fields,
    movement_record,
    pkr_account,
    request_fingerprint,
)


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
    fingerprint = request_fingerprint(
        reference=reference,
        value_date=value_date,
        amount=amount,
        currency=currency,
        rate=rate,
        bank=bank,
    )

    def check() -> None:
        errors = movement_errors(
            reference=reference,
            value_date=value_date,
            currency=currency,
            amount=amount,
            today=today or local_today(),
        )
        check_rate(errors, "rate", rate)
        errors.raise_if_any()

    def write(firm: Firm) -> Conversion:
        sold = amount.quantize(policy.CENT)
        esfca = esfca_account(firm, currency, bank)
        check_covered(esfca, sold, value_date)
        pkr = pkr_account(firm, esfca.bank_id)
        if rate is not None:
            used_rate = rate.quantize(RATE_QUANTUM)
        else:
            used_rate = buying_rate(currency=currency, on=value_date)
        pkr_amount = policy.convert(sold, used_rate)
        if pkr_amount > MAX_AMOUNT:
            raise InvalidInput(amount=["The amount is too large once converted to PKR."])
        txn = transaction_post(
            key=f"conversion:{firm.pk}:{reference}",
            kind=LedgerTransaction.Kind.CONVERSION,
            value_date=value_date,
            legs=[
                credit(esfca, sold),
                debit(internal_account(firm, Account.Kind.FX_TRADING, currency), sold),
                debit(pkr, pkr_amount),
                credit(internal_account(firm, Account.Kind.FX_TRADING, "PKR"), pkr_amount),
            ],
            memo=f"Conversion to PKR {reference}"[:500],
            fx_rate=used_rate,
        )
        return Conversion.objects.create(
            **movement_fields(firm, reference, value_date, fingerprint, txn, actor),
            amount=sold,
            currency=currency,
            esfca=esfca,
            pkr_account=pkr,
            rate=used_rate,
            pkr_amount=pkr_amount,
        )

    return movement_record(
        Conversion,
        firm=firm,
        actor=actor,
        action="conversion_created",
        reference=reference,
        fingerprint=fingerprint,
        check=check,
        write=write,
    )


def _own_esfcas(firm: Firm, ids: list[int]) -> dict[int, Account]:
    return {
        a.pk: a for a in Account.objects.filter(owner=firm, kind=Account.Kind.ESFCA, pk__in=ids)
    }


def _transfer_check(
    own: dict[int, Account], *, reference, value_date, from_id, to_id, amount, today
):
    source = own.get(from_id)
    errors = movement_errors(
        reference=reference,
        value_date=value_date,
        currency=None,  # the source account's: not a field of the request
        amount=amount,
        today=today,
    )
    if source is None:
        errors.add("from_account", "Choose one of the firm's ESFCAs.")
    if to_id not in own:
        errors.add("to_account", "Choose one of the firm's ESFCAs.")
    if from_id == to_id:
        errors.add("to_account", "Choose a different account to transfer to.")
    errors.raise_if_any()


def _transfer_legs(firm: Firm, source: Account, target: Account, amount: Decimal, on: date):
    """The legs, the rate and the amount credited: across currencies at the day's buying
    rates, ``to = amount × buy(from) / buy(to)``, half up."""
    if source.currency == target.currency:
        return [credit(source, amount), debit(target, amount)], Decimal(1), amount
    rates = buying_rates(currencies=[source.currency, target.currency], on=on)
    exact = Fraction(rates[source.currency]) / Fraction(rates[target.currency])
    to_amount = policy.round_half_up(Fraction(amount) * exact)
    rate = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(RATE_QUANTUM)
    legs = [
        credit(source, amount),
        debit(internal_account(firm, Account.Kind.FX_TRADING, source.currency), amount),
        debit(target, to_amount),
        credit(internal_account(firm, Account.Kind.FX_TRADING, target.currency), to_amount),
    ]
    return legs, rate, to_amount


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
    fingerprint = request_fingerprint(
        reference=reference,
        value_date=value_date,
        from_account=from_account_id,
        to_account=to_account_id,
        amount=amount,
    )
    own: dict[int, Account] = {}

    def check() -> None:
        own.update(_own_esfcas(firm, [from_account_id, to_account_id]))
        _transfer_check(
            own, reference=reference, value_date=value_date, from_id=from_account_id,
            to_id=to_account_id, amount=amount, today=today or local_today(),
        )  # fmt: skip

    def write(firm: Firm) -> Transfer:
        moved = amount.quantize(policy.CENT)
        source, target = own[from_account_id], own[to_account_id]
        check_covered(source, moved, value_date)
        legs, rate, to_amount = _transfer_legs(firm, source, target, moved, value_date)
        txn = transaction_post(
            key=f"transfer:{firm.pk}:{reference}",
            kind=LedgerTransaction.Kind.TRANSFER,
            value_date=value_date,
            legs=legs,
            memo=f"Transfer {reference}"[:500],
            fx_rate=None if rate == 1 else rate,
        )
        return Transfer.objects.create(
            **movement_fields(firm, reference, value_date, fingerprint, txn, actor),
            amount=moved,
            currency=source.currency,
            from_account=source,
            to_account=target,
            rate=rate,
            to_amount=to_amount,
        )

    return movement_record(
        Transfer,
        firm=firm,
        actor=actor,
        action="transfer_created",
        reference=reference,
        fingerprint=fingerprint,
        check=check,
        write=write,
    )
