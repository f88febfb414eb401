"""Monthly regulatory summaries (rules.md §5): filed revisions, their history, reminders.

A summary is computed live while it is a draft. Filing freezes the computed figures as
a JSON ``snapshot`` with its SHA-256; the snapshot is never rewritten afterwards. A
returned summary is filed again as a new revision, so every revision stays readable.

Each filed revision is reviewed bank by bank (rules.md §11): one ``SummaryReview`` per
bank holding any of the firm's accounts, with the frozen figures of that bank's slice.
The summary's own status follows its reviews: accepted when every bank accepted,
returned as soon as one bank returns.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from exporters.models import Bank, Firm


def person() -> models.ForeignKey:
    """Who did a step (filed, decided): a user, kept even if the account is deactivated."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )


class Decided(models.Model):
    """Who decided, when, and the comment: a bank's review, and the summary it settles."""

    comment = models.TextField(blank=True, default="")
    decided_by = person()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class MonthlySummary(Decided):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FILED = "filed", "Filed"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned"

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="summaries")
    month = models.DateField(help_text="First day of the calendar month")
    revision = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    snapshot = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    filed_by = person()
    filed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "firm_id", "-revision"]
        verbose_name_plural = "monthly summaries"
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "month", "revision"], name="summary_unique_revision"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | (~Q(sha256="") & Q(filed_at__isnull=False)),
                name="summary_filed_has_hash",
            ),
        ]
        indexes = [models.Index(fields=["status", "month"])]

    def __str__(self) -> str:
        return f"{self.firm_id} {self.month:%Y-%m} r{self.revision} {self.status}"


class SummaryReview(Decided):
    """One bank's review of one filed revision: its slice of the firm (rules.md §11).

    ``snapshot`` holds the slice's figures and flags as filed (the accounts at ``bank``
    only), so a reviewer never reads another bank's figures. ``closed``: another bank
    returned the revision, or a newer revision superseded it; nothing more is decided.
    """

    class Status(models.TextChoices):
        FILED = "filed", "Filed"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned"
        CLOSED = "closed", "Closed"

    summary = models.ForeignKey(MonthlySummary, on_delete=models.PROTECT, related_name="reviews")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FILED)
    snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["summary_id", "bank_id"]
        constraints = [
            models.UniqueConstraint(fields=["summary", "bank"], name="summary_review_one_per_bank"),
        ]
        indexes = [models.Index(fields=["bank", "status"])]

    def __str__(self) -> str:
        return f"{self.summary} {self.bank_id} {self.status}"


class SummaryEvent(models.Model):
    """One step of a summary's life: drafted, filed, accepted, returned (who, when, why)."""

    class Action(models.TextChoices):
        DRAFTED = "drafted", "Draft prepared"
        FILED = "filed", "Filed"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned"
        CLOSED = "closed", "Closed"

    summary = models.ForeignKey(MonthlySummary, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = person()
    comment = models.TextField(blank=True, default="")
    review = models.ForeignKey(
        SummaryReview, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.summary} {self.action} {self.at:%Y-%m-%d %H:%M}"


class SummaryReminder(models.Model):
    """A filing reminder sent for a firm's month on a day (one per day: reruns send nothing)."""

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    sent_on = models.DateField()
    recipients = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_on", "firm_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["firm", "month", "sent_on"], name="summary_reminder_once_a_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.firm_id} {self.month:%Y-%m} reminded {self.sent_on}"
