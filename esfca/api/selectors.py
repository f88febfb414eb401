"""Reads behind the API, scoped by the tenant selectors of ``exporters.selectors``."""

from datetime import date

from django.db.models import QuerySet
from django.http import Http404

from esfca.models import Allocation, Conversion, Receipt, Transfer
from exporters.models import Firm
from exporters.selectors import firms_operated_by, firms_visible_to
from ledger.models import Account, FxRate


def firm_visible(user, firm_id: int) -> Firm:
    """The firm if ``user`` may see it; otherwise 404 (its existence is not revealed)."""
    firm = firms_visible_to(user).filter(pk=firm_id).first()
    if firm is None:
        raise Http404
    return firm


def firm_operable(user, firm: Firm) -> bool:
    """Only the firm's finance officers move its money (not admins, viewers, reviewers)."""
    return firms_operated_by(user).filter(pk=firm.pk).exists()


def _in_month(queryset: QuerySet, month: tuple[int, int] | None) -> QuerySet:
    if month is None:
        return queryset
    year, number = month
    return queryset.filter(value_date__year=year, value_date__month=number)


def firm_receipts(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Receipt]:
    return _in_month(Receipt.objects.filter(firm=firm), month).order_by("value_date", "id")


def firm_allocations(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Allocation]:
    return _in_month(Allocation.objects.filter(firm=firm), month).order_by("value_date", "id")


def firm_conversions(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Conversion]:
    return _in_month(Conversion.objects.filter(firm=firm), month).order_by("value_date", "id")


def firm_transfers(firm: Firm, month: tuple[int, int] | None = None) -> QuerySet[Transfer]:
    return _in_month(Transfer.objects.filter(firm=firm), month).order_by("value_date", "id")


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
