"""Reads behind the API beyond the movement lists (``esfca.lists``): a firm's bank accounts.
The firm comes scoped by ``exporters.selectors``."""

from django.db.models import QuerySet

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
