"""Writes to the ledger other than postings: opening accounts. Money moves only through
``ledger.posting``."""

from .models import Account


def account_open(
    *,
    kind: str,
    currency: str,
    owner=None,
    bank=None,
    iban: str = "",
    category: str = "",
) -> Account:
    """Open (or return the existing) internal account. Bank-held accounts can't go below zero."""
    normal = Account.Side.CREDIT if kind == Account.Kind.CLIENT_PROCEEDS else Account.Side.DEBIT
    non_negative = kind in Account.BANK_KINDS
    if kind in Account.BANK_KINDS:
        return Account.objects.create(
            kind=kind,
            currency=currency,
            owner=owner,
            bank=bank,
            iban=iban,
            normal_side=normal,
            non_negative=non_negative,
        )
    account, _ = Account.objects.get_or_create(
        owner=owner,
        kind=kind,
        currency=currency,
        category=category,
        defaults={"normal_side": normal, "non_negative": non_negative},
    )
    return account
