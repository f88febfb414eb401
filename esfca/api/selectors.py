"""Reads behind the API beyond the movement lists (``esfca.lists``): a firm's bank accounts,
one movement. The firm comes scoped by ``exporters.selectors``."""

from django.db.models import QuerySet

from esfca.lists import Movements
from exporters.models import Firm
from exporters.selectors import WHOLE_FIRM, BankSlice
from ledger.models import Account


def firm_bank_accounts(firm: Firm, banks: BankSlice = WHOLE_FIRM) -> QuerySet[Account]:
    """The accounts a firm holds at banks (those of the slice ``banks``, rules.md §11): its
    ESFCAs and its PKR account(s)."""
    return (
        Account.objects.filter(owner=firm, kind__in=Account.BANK_KINDS)
        .filter(banks.accounts())
        .select_related("bank")
        .order_by("id")
    )


def firm_movement(kind: Movements, firm: Firm, pk: int, banks: BankSlice = WHOLE_FIRM):
    """The firm's movement ``pk`` of ``kind`` with its accounts (``DoesNotExist`` when the
    firm has no such movement, or none on the accounts of ``banks``: another firm's, or one
    at a bank the reviewer does not review, is not found either)."""
    rows = kind.model.objects.select_related(*kind.accounts).filter(banks.accounts(*kind.banks))
    return rows.get(firm=firm, pk=pk)
