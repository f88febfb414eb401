"""Reads behind the API beyond the movement lists (``esfca.lists``): a firm's bank accounts,
one movement. The firm comes scoped by ``exporters.selectors``."""

from django.db.models import QuerySet

from esfca.lists import Movements
from exporters.models import Firm
from ledger.models import Account


def firm_bank_accounts(firm: Firm) -> QuerySet[Account]:
    """The accounts a firm holds at banks: its ESFCAs and its PKR account(s)."""
    return (
        Account.objects.filter(owner=firm, kind__in=Account.BANK_KINDS)
        .select_related("bank")
        .order_by("id")
    )


def firm_movement(kind: Movements, firm: Firm, pk: int):
    """The firm's movement ``pk`` of ``kind`` with its accounts (``DoesNotExist`` when the
    firm has no such movement: another firm's is not found either)."""
    return kind.model.objects.select_related(*kind.accounts).get(firm=firm, pk=pk)
