"""Reads behind the API; the firm comes scoped by ``exporters.selectors`` (the views' FirmView)."""

from datetime import date

from django.db.models import QuerySet

from esfca.models import Allocation, Conversion, Receipt, Transfer
from exporters.models import Firm
from ledger.models import Account, FxRate


def _movements(model, firm: Firm, month: tuple[int, int] | None, *related: str) -> QuerySet:
    movements = model.objects.filter(firm=firm).select_related(*related)
    if month is not None:
        year, number = month
        movements = movements.filter(value_date__year=year, value_date__month=number)
    return movements.order_by("value_date", "id")


def firm_receipts(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Receipt]:
    return _movements(Receipt, firm, month, "esfca__bank")


def firm_allocations(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Allocation]:
    return _movements(Allocation, firm, month, "esfca__bank")


def firm_conversions(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Conversion]:
    return _movements(Conversion, firm, month, "esfca__bank")


def firm_transfers(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Transfer]:
    return _movements(Transfer, firm, month)


def firm_bank_accounts(firm: Firm) -> QuerySet[Account]:
    """The accounts a firm holds at banks: its ESFCAs and its PKR account(s)."""
    return (
        Account.objects.filter(owner=firm, kind__in=Account.BANK_KINDS)
        .select_related("bank")
        .order_by("id")
    )


def fx_rates(
    *, currency: str | None = None, on: date | None = None, source: str | None = None
) -> QuerySet[FxRate]:
    rates = FxRate.objects.all()
    if currency:
        rates = rates.filter(currency=currency)
    if on:
        rates = rates.filter(date=on)
    if source:
        rates = rates.filter(source=source)
    return rates.order_by("-date", "currency", "source", "id")
