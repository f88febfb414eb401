"""Who: banks, exporting firms, users and the roles that tie a user to a firm or a bank."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from .validators import validate_ntn


class User(AbstractUser):
    """A person who signs in: a finance officer, a firm viewer, a bank reviewer or an admin."""

    class Meta:
        db_table = "exporters_user"


class Bank(models.Model):
    code = models.CharField(max_length=8, unique=True, help_text="4-letter IBAN bank code")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Firm(models.Model):
    """An exporter of IT/ITeS services: a company or a freelancer (domain/rules.md, vocabulary)."""

    class Kind(models.TextChoices):
        IT_COMPANY = "it_company", "IT company"
        FREELANCER = "freelancer", "Freelancer"

    class RegistrationBody(models.TextChoices):
        PSEB = "PSEB", "PSEB"
        PASHA = "PASHA", "P@SHA"
        SELF_DECLARATION = "SELF_DECLARATION", "Self-declaration (freelancer)"

    name = models.CharField(max_length=200)
    ntn = models.CharField("NTN or CNIC", max_length=15, validators=[validate_ntn])
    kind = models.CharField(max_length=20, choices=Kind.choices)
    registration_body = models.CharField(
        max_length=20, choices=RegistrationBody.choices, blank=True, default=""
    )
    registration_number = models.CharField(max_length=64, blank=True, default="")
    registration_expires = models.DateField(null=True, blank=True)
    active_taxpayer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(registration_body="SELF_DECLARATION") | Q(kind="freelancer"),
                name="firm_self_declaration_only_freelancers",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role: of a firm (finance officer, viewer) or of a bank (reviewer)."""

    class Role(models.TextChoices):
        FINANCE_OFFICER = "finance_officer", "Finance officer"
        FIRM_VIEWER = "firm_viewer", "Firm viewer"
        BANK_REVIEWER = "bank_reviewer", "Bank reviewer"

    FIRM_ROLES = (Role.FINANCE_OFFICER, Role.FIRM_VIEWER)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    firm = models.ForeignKey(
        Firm, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    bank = models.ForeignKey(
        Bank, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        role__in=["finance_officer", "firm_viewer"],
                        firm__isnull=False,
                        bank__isnull=True,
                    )
                    | Q(role="bank_reviewer", bank__isnull=False, firm__isnull=True)
                ),
                name="membership_scope_matches_role",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "firm", "bank"], name="membership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} {self.firm or self.bank}"
