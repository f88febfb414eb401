"""Factories for ledger accounts and FX rates. Money moves only through the services."""

import datetime as dt
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from ledger.models import Account, FxRate
from tests.exporters.factories import BankFactory, FirmFactory


class AccountFactory(DjangoModelFactory):
    """An internal (non bank-held) account; its balance starts at zero and only postings move it."""

    class Meta:
        model = Account

    owner = factory.SubFactory(FirmFactory)
    kind = Account.Kind.PAYEE
    category = factory.Sequence(lambda n: f"category-{n}")
    currency = "USD"
    normal_side = Account.Side.DEBIT
    non_negative = False


class EsfcaAccountFactory(AccountFactory):
    kind = Account.Kind.ESFCA
    bank = factory.SubFactory(BankFactory)
    category = ""
    non_negative = True


class PkrBankAccountFactory(EsfcaAccountFactory):
    kind = Account.Kind.PKR_BANK
    currency = "PKR"


class ClientProceedsAccountFactory(AccountFactory):
    kind = Account.Kind.CLIENT_PROCEEDS
    category = ""
    normal_side = Account.Side.CREDIT


class FxRateFactory(DjangoModelFactory):
    class Meta:
        model = FxRate

    currency = "USD"
    date = dt.date(2025, 3, 14)
    source = FxRate.Source.SBP_WACR
    buy = Decimal("280.700000")
    sell = Decimal("281.200000")
    status = FxRate.Status.ACTIVE
