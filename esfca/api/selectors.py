"""Reads behind the API: a firm's bank accounts, the FX rates. The firm comes scoped by
``exporters.selectors``; the movement lists are in ``esfca.lists``."""

from datetime import date

from django.db.models import QuerySet

from exporters.models import Firm
from ledger.models import Account, FxRate


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
