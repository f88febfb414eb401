"""Opening a firm's own bank accounts: its PKR account and its ESFCAs."""

from django.conf import settings
from django.db import transaction

from exporters.models import Bank, Firm
from exporters.validators import iban_is_valid
from ledger.models import Account
from ledger.services import account_open

from ..audit import audit
from ..errors import DuplicateReference
from .checks import FieldErrors
from .movements import lock_firm


def firm_account_open(*, firm: Firm, bank: Bank, currency: str, iban: str, actor=None) -> Account:
    """Open the firm's PKR account or an ESFCA: one per firm, bank and currency."""
    errors = FieldErrors()
    if currency not in settings.CURRENCIES:
        errors.add("currency", f"Use one of {', '.join(settings.CURRENCIES)}.")
    if not iban_is_valid(iban):
        errors.add("iban", "Enter a valid Pakistani IBAN (PK…, mod-97 check).")
    elif iban[4:8] != bank.code:
        errors.add("iban", f"The IBAN's bank code {iban[4:8]} is not {bank.code}.")
    errors.raise_if_any()
    kind = Account.Kind.PKR_BANK if currency == "PKR" else Account.Kind.ESFCA
    with transaction.atomic():
        lock_firm(firm)
        if Account.objects.filter(owner=firm, bank=bank, currency=currency, kind=kind).exists():
            raise DuplicateReference(
                f"{firm.name} already has a {currency} account at {bank.code}.",
                bank=bank.code,
                currency=currency,
            )
        account = account_open(kind=kind, currency=currency, owner=firm, bank=bank, iban=iban)
        audit(actor, firm, "account_opened", account, bank=bank.code, currency=currency)
    return account
