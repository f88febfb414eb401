"""Reads behind the API, scoped by the tenant selectors of ``exporters.selectors``."""

from django.db.models import QuerySet
from django.http import Http404

from esfca.models import Allocation, Conversion, Receipt, Transfer
from exporters.models import Firm
from exporters.selectors import firms_operated_by, firms_visible_to
from ledger.models import Account


def firm_visible(user, firm_id: int) -> Firm:
    """The firm if ``user`` may see it; otherwise 404 (its existence is not revealed)."""
    firm = firms_visible_to(user).filter(pk=firm_id).first()
    if firm is None:
        raise Http404
    return firm


def firm_operable(user, firm: Firm) -> bool:
    """Only the firm's finance officers move its money (not admins, viewers, reviewers)."""
    return firms_operated_by(user).filter(pk=firm.pk).exists()


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
