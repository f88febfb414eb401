"""Rule versions and parameters as effective-dated data (domain/rules.md; seeded by 0002)."""

from datetime import date
from decimal import Decimal

from django.db import models
from django.db.models import Q

from exporters.models import Firm

from .. import policy


class RetentionRuleVersion(models.Model):
    """§2: the retention limit for a firm kind from a date on."""

    class Basis(models.TextChoices):
        PER_RECEIPT = policy.Basis.PER_RECEIPT, "Per receipt"
        CALENDAR_MONTH = policy.Basis.CALENDAR_MONTH, "Calendar month"

    firm_kind = models.CharField(max_length=20, choices=Firm.Kind.choices)
    effective_from = models.DateField()
    ratio = models.DecimalField(max_digits=6, decimal_places=4)
    monthly_floor_usd = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    basis = models.CharField(max_length=20, choices=Basis.choices)

    class Meta:
        ordering = ["firm_kind", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm_kind", "effective_from"], name="retention_rule_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(ratio__gte=0, ratio__lte=1, monthly_floor_usd__gte=0),
                name="retention_rule_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.firm_kind} from {self.effective_from}: {self.ratio} ({self.basis})"

    def as_policy(self) -> policy.RetentionRule:
        return policy.RetentionRule(
            firm_kind=self.firm_kind,
            effective_from=self.effective_from,
            ratio=self.ratio,
            monthly_floor_usd=self.monthly_floor_usd,
            basis=self.basis,
        )


class TaxRate(models.Model):
    """§3: withholding under ITO s.154A, per registration, from a date on."""

    class AppliesTo(models.TextChoices):
        PSEB = "PSEB", "PSEB-registered"
        OTHER = "OTHER", "Everyone else"

    applies_to = models.CharField(max_length=10, choices=AppliesTo.choices)
    effective_from = models.DateField()
    rate = models.DecimalField(max_digits=6, decimal_places=4)

    class Meta:
        ordering = ["applies_to", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["applies_to", "effective_from"], name="tax_rate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lt=1), name="tax_rate_sane"),
        ]

    def __str__(self) -> str:
        return f"{self.applies_to} from {self.effective_from}: {self.rate}"


class EquityCapVersion(models.Model):
    """§4: the overseas equity cap from a date on (firm_kind blank = every kind)."""

    class Basis(models.TextChoices):
        EXPORT_AVERAGE = "export_average", "max(ratio × 3-year average proceeds, floor)"
        ESFCA_BALANCE = "esfca_balance", "Up to the ESFCA balance"

    effective_from = models.DateField()
    firm_kind = models.CharField(max_length=20, choices=Firm.Kind.choices, blank=True, default="")
    basis = models.CharField(max_length=20, choices=Basis.choices)
    ratio = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.10"))
    floor_usd = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("100000"))

    class Meta:
        ordering = ["effective_from", "firm_kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["effective_from", "firm_kind"], name="equity_cap_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.firm_kind or 'all'} from {self.effective_from}: {self.basis}"

    def as_policy(self) -> policy.EquityCapRule:
        return policy.EquityCapRule(
            effective_from=self.effective_from,
            firm_kind=self.firm_kind,
            basis=self.basis,
            ratio=self.ratio,
            floor_usd=self.floor_usd,
        )


class Parameter(models.Model):
    """A named rule parameter with an effective date; the latest version on a day wins."""

    class Key(models.TextChoices):
        HOLDING_PERIOD_WORKING_DAYS = "holding_period_working_days", "Holding period (working days)"
        FILING_DUE_DAY = "filing_due_day", "Filing due day of the next month"
        ROUND_TRIP_DAYS = "round_trip_days", "Round-tripping window (days)"
        ROUND_TRIP_SHARE = "round_trip_share", "Round-tripping share of the receipt"
        EQUITY_APPROVAL_COUNTRIES = (
            "equity_approval_countries",
            "Countries needing SBP approval for equity (comma-separated)",
        )
        CLIENT_CONCENTRATION_WARNING = (
            "client_concentration_warning",
            "Herfindahl index above which one client dominates",
        )

    key = models.CharField(max_length=40, choices=Key.choices)
    effective_from = models.DateField()
    value = models.CharField(max_length=200)

    class Meta:
        ordering = ["key", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["key", "effective_from"], name="parameter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} from {self.effective_from}: {self.value}"

    @classmethod
    def value_on(cls, key: str, on: date) -> str:
        row = policy.in_force(cls.objects.filter(key=key, effective_from__lte=on), on)
        if row is None:
            raise LookupError(f"Parameter {key} has no value in force on {on}.")
        return row.value

    @classmethod
    def decimal_on(cls, key: str, on: date) -> Decimal:
        return Decimal(cls.value_on(key, on))

    @classmethod
    def int_on(cls, key: str, on: date) -> int:
        return int(cls.value_on(key, on))

    @classmethod
    def set_on(cls, key: str, on: date) -> frozenset[str]:
        return frozenset(v.strip() for v in cls.value_on(key, on).split(",") if v.strip())


class PurposeCode(models.Model):
    """§7: SBP ITRS purpose codes; ``export_proceeds`` False marks e.g. home remittances."""

    code = models.CharField(max_length=8, primary_key=True)
    description = models.CharField(max_length=200)
    export_proceeds = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"
