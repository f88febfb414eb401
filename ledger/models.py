"""The ledger: accounts, transactions and entries, in double entry.

An **Account** holds money of one currency for one owner (a firm, or nobody for
platform accounts). Its ``normal_side`` says which side increases it: asset-like
accounts (the ESFCA, the PKR bank account, tax withheld, payees, FX trading) are
debit-normal; sources of money (client proceeds) are credit-normal. The account
stores its **balance** (in its normal sign), updated in the same database
transaction as the entries under a row lock, so reading it is one row whatever
the history.

A **Transaction** is one business event (a receipt, an allocation, a conversion,
a reversal). It carries a unique idempotency key, a value date and, where money
changed currency, the rate used.

An **Entry** is one leg of a transaction: a positive debit *or* a positive
credit on one account, in that account's currency.

Rules that always hold (checked by the posting service, by the database, and by
``manage.py ledger_verify``):

1. Every transaction has at least two entries, and per currency its debits
   equal its credits. (PostgreSQL: a deferred constraint trigger.)
2. Every entry has exactly one positive side. (CHECK constraint.)
3. An account flagged ``non_negative`` never has a balance below zero. (CHECK.)
4. Entries and transactions are never updated or deleted; a mistake is undone
   by a reversing transaction that points at the original. (PostgreSQL
   triggers; the models refuse it too.)
5. Every stored balance equals the signed sum of the account's entries.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from exporters.models import Bank, Firm

from .fx.arith import RATE_PLACES

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 18, "decimal_places": RATE_PLACES}
ZERO = Decimal("0.00")


class ImmutableModel(models.Model):
    """Rows written once. The database refuses changes too (PostgreSQL triggers)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are immutable; post a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are immutable; post a reversal instead.")


class Account(models.Model):
    class Kind(models.TextChoices):
        ESFCA = "esfca", "ESFCA"
        PKR_BANK = "pkr_bank", "PKR bank account"
        FX_TRADING = "fx_trading", "FX trading"
        CLIENT_PROCEEDS = "client_proceeds", "Client proceeds"
        PAYEE = "payee", "Payees"
        TAX_WITHHELD = "tax_withheld", "Tax withheld"

    class Side(models.TextChoices):
        DEBIT = "debit", "Debit"
        CREDIT = "credit", "Credit"

    # Accounts a firm holds at a bank (one per firm, bank and currency).
    BANK_KINDS = (Kind.ESFCA, Kind.PKR_BANK)

    owner = models.ForeignKey(
        Firm, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    bank = models.ForeignKey(
        Bank, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    category = models.CharField(max_length=40, blank=True, default="")
    currency = models.CharField(max_length=3)
    iban = models.CharField("IBAN", max_length=34, blank=True, default="")
    normal_side = models.CharField(max_length=6, choices=Side.choices)
    non_negative = models.BooleanField(default=False)
    balance = models.DecimalField(**MONEY, default=ZERO)
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(non_negative=False) | Q(balance__gte=0),
                name="account_non_negative_balance",
            ),
            models.UniqueConstraint(
                fields=["owner", "bank", "currency"],
                condition=Q(kind__in=["esfca", "pkr_bank"]),
                name="account_one_per_firm_bank_currency",
            ),
            models.UniqueConstraint(
                fields=["owner", "kind", "currency", "category"],
                condition=~Q(kind__in=["esfca", "pkr_bank"]),
                name="account_one_internal_per_owner_kind",
            ),
        ]

    def __str__(self) -> str:
        label = self.get_kind_display()
        if self.category:
            label += f" {self.category}"
        return f"{self.owner or 'platform'} · {label} {self.currency}"


class Transaction(ImmutableModel):
    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt"
        ALLOCATION = "allocation", "Allocation"
        CONVERSION = "conversion", "Conversion to PKR"
        TRANSFER = "transfer", "Transfer between own ESFCAs"
        REVERSAL = "reversal", "Reversal"
        OTHER = "other", "Other"

    # Unique through Meta.constraints: ``unique=True`` would add a second, varchar_pattern_ops
    # index (for LIKE) that no query uses and every posting pays for.
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value_date = models.DateField()
    posted_at = models.DateTimeField(auto_now_add=True)  # not indexed: no query filters on it
    memo = models.CharField(max_length=500, blank=True, default="")
    fx_rate = models.DecimalField(**RATE, null=True, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["key"], name="transaction_unique_key")]
        indexes = [models.Index(fields=["value_date"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Entry(ImmutableModel):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    debit = models.DecimalField(**MONEY, default=ZERO)
    credit = models.DecimalField(**MONEY, default=ZERO)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0, credit=0) | Q(credit__gt=0, debit=0)),
                name="entry_exactly_one_positive_side",
            ),
        ]

    def __str__(self) -> str:
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{side} {self.currency} {self.account_id}"


class FxRate(models.Model):
    """PKR per one unit of a currency on a day, from one source (design: FX rates)."""

    class Source(models.TextChoices):
        SBP_WACR = "SBP-WACR", "SBP weighted average customer rate"
        MANUAL = "MANUAL", "Entered by hand"
        OXR = "OXR", "Open Exchange Rates feed"
        ECB = "ECB", "ECB reference rates (crossed)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        HELD = "held", "Held for review"
        REJECTED = "rejected", "Rejected"

    # Lower number wins when several sources have a rate for the same day.
    PRIORITY = {Source.SBP_WACR: 0, Source.MANUAL: 1, Source.OXR: 2, Source.ECB: 3}

    currency = models.CharField(max_length=3)
    date = models.DateField()
    source = models.CharField(max_length=10, choices=Source.choices)
    buy = models.DecimalField(**RATE)
    sell = models.DecimalField(**RATE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "currency", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "date", "source"], name="fxrate_unique_currency_date_source"
            ),
            models.CheckConstraint(condition=Q(buy__gt=0, sell__gt=0), name="fxrate_positive"),
        ]
        indexes = [models.Index(fields=["currency", "date"])]

    def __str__(self) -> str:
        return f"{self.currency} {self.date} {self.source} {self.buy}/{self.sell}"


class FxRefreshLog(models.Model):
    """One attempt to fetch rates from a provider: what it stored, or why it stored nothing."""

    provider = models.CharField(max_length=20)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    retryable = models.BooleanField(
        default=False, help_text="The failure was transient (network, HTTP 5xx); Celery retries it."
    )
    rate_date = models.DateField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["provider", "started_at"])]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "FAILED"
        return f"{self.provider} {self.started_at:%Y-%m-%d %H:%M} {outcome}"
