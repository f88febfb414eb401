"""Business records of money movements. Each points at the ledger transaction that moved
the money; the records are written once by the services in ``esfca/services.py``."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from exporters.models import Firm
from ledger.models import MONEY, RATE, Account, Transaction

from .rules import RetentionRuleVersion

FOREIGN_CURRENCIES = [(c, c) for c in settings.CURRENCIES if c != "PKR"]


def amount_field():
    return MoneyField(**MONEY, currency_field_name="currency", currency_choices=FOREIGN_CURRENCIES)


class MovementQuerySet(models.QuerySet):
    def standing(self):
        """The movements that count (rules.md §9): neither reversed nor a reversal. Every
        figure (summaries, flags, limits, caps, the dashboard) reads these; lists read all."""
        # NOT EXISTS (an anti-join on the unique reverses_id index), not the outer join
        # ``reversed_by__isnull`` makes, which PostgreSQL hashes over every firm's rows.
        reversal = self.model.objects.filter(reverses=models.OuterRef("pk"))
        return self.filter(~models.Exists(reversal), reverses__isnull=True)


class Movement(models.Model):
    """What every kind of movement shares. A mistake is never edited: a reversal (rules.md
    §9) is a movement of the same kind, with its own reference and the original's figures,
    pointing at the original (``reverses``), its ledger transaction the exact negation of
    the original's; a correction records the new movement too, which points at the
    original it replaces (``corrects``)."""

    # No index of its own: each kind's unique (firm, reference) leads with the firm.
    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, db_index=False)
    reference = models.CharField(max_length=120)
    value_date = models.DateField()
    request_fingerprint = models.CharField(max_length=64, editable=False)
    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    reason = models.TextField(blank=True, default="")
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrected_into"
    )

    objects = MovementQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["value_date", "id"]

    def __str__(self) -> str:
        return f"{self.firm_id}/{self.reference}"


class Receipt(Movement):
    """One inflow of export proceeds and how it was split (rules.md §2–§3)."""

    class RateSource(models.TextChoices):
        BANK = "bank", "Bank's actual rate"
        TABLE = "table", "Buying rate of the value date"

    amount = amount_field()
    esfca = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    retain_requested = models.CharField(max_length=20, default="max")
    allowed_retention = models.DecimalField(**MONEY)
    retained = models.DecimalField(**MONEY)
    converted = models.DecimalField(**MONEY)
    conversion_rate = models.DecimalField(**RATE)
    # The day the bank sold the converted part for PKR (rules.md §6.3 holding period); the
    # value date unless the request says otherwise. The books post the PKR side on the
    # value date either way (§3).
    converted_on = models.DateField(null=True, blank=True)
    rate_source = models.CharField(max_length=10, choices=RateSource.choices)
    # Reference buying rates of the value date (PKR per unit) for USD equivalents; null
    # when not needed (USD receipts) or not available (per-receipt rules need none).
    ref_buy = models.DecimalField(**RATE, null=True, blank=True)
    ref_buy_usd = models.DecimalField(**RATE, null=True, blank=True)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4)
    tax_withheld = models.DecimalField(**MONEY)
    pkr_credited = models.DecimalField(**MONEY)
    # The rule version it was judged under, frozen: a later edit never changes it.
    rule = models.ForeignKey(RetentionRuleVersion, on_delete=models.PROTECT, related_name="+")
    rule_effective_from = models.DateField()
    rule_ratio = models.DecimalField(max_digits=6, decimal_places=4)
    rule_monthly_floor_usd = models.DecimalField(**MONEY)
    rule_basis = models.CharField(max_length=20)
    client_name = models.CharField(max_length=200)
    client_country = models.CharField(max_length=2)
    purpose_code = models.CharField(max_length=8, blank=True, default="")

    class Meta(Movement.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "reference"], name="receipt_unique_reference"),
            models.CheckConstraint(
                condition=models.Q(retained__gte=0, converted__gte=0, pkr_credited__gte=0),
                name="receipt_split_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["firm", "value_date"])]


class Allocation(Movement):
    """A debit of retained funds for a permitted purpose (rules.md §4)."""

    class Category(models.TextChoices):
        CLOUD_INFRASTRUCTURE = "cloud_infrastructure", _("Cloud infrastructure")
        SOFTWARE_SUBSCRIPTIONS = "software_subscriptions", _("Software subscriptions")
        MARKETING_ABROAD = "marketing_abroad", _("Marketing abroad")
        PROFESSIONAL_FEES_ABROAD = "professional_fees_abroad", _("Professional fees abroad")
        STAFF_SALARIES_ABROAD = "staff_salaries_abroad", _("Staff salaries abroad")
        FOREIGN_OFFICE_EXPENSES = "foreign_office_expenses", _("Foreign office expenses")
        TRAVEL_ABROAD = "travel_abroad", _("Travel abroad")
        TRAINING_CERTIFICATION = "training_certification", _("Training and certification")
        DIVIDENDS_ABROAD = "dividends_abroad", _("Dividends to foreign shareholders")
        OVERSEAS_EQUITY = "overseas_equity", _("Overseas equity")

    amount = amount_field()
    esfca = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=40, choices=Category.choices)
    payee_name = models.CharField(max_length=200)
    payee_country = models.CharField(max_length=2)
    investee_name = models.CharField(max_length=200, blank=True, default="")
    investee_country = models.CharField(max_length=2, blank=True, default="")
    sbp_approval_reference = models.CharField(max_length=120, blank=True, default="")
    balance_after = models.DecimalField(**MONEY)
    # USD equivalent at the value date's buying rates (exact figure rounded half up), for
    # the calendar-year equity cap.
    usd_equivalent = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta(Movement.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "reference"], name="allocation_unique_reference"
            ),
        ]
        indexes = [models.Index(fields=["firm", "value_date"])]


class Conversion(Movement):
    """ESFCA funds sold for PKR on request (not an allocation; never refused for category)."""

    amount = amount_field()
    esfca = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    pkr_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    rate = models.DecimalField(**RATE)
    pkr_amount = models.DecimalField(**MONEY)

    class Meta(Movement.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "reference"], name="conversion_unique_reference"
            ),
        ]


class Transfer(Movement):
    """Between two of the firm's own ESFCAs (other bank and/or other currency)."""

    amount = amount_field()
    from_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    to_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    rate = models.DecimalField(**RATE, help_text="units of the target currency per source unit")
    to_amount = models.DecimalField(**MONEY)

    class Meta(Movement.Meta):
        constraints = [
            models.UniqueConstraint(fields=["firm", "reference"], name="transfer_unique_reference"),
        ]
