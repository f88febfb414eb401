"""Writes of the monthly summaries (rules.md §5): draft, file, decide, remind.

Lifecycle: ``draft`` (computed live) → ``filed`` by a finance officer once the month has
ended (a frozen snapshot with its SHA-256) → ``accepted`` or ``returned`` by the bank's
reviewer → a returned summary is filed again as a new revision. Each write locks the
firm's row (as the money services do), so two filings of one month can never both pass,
and records a ``SummaryEvent`` and an ``AuditEvent`` in the same transaction.

Roles are checked by the API and the views (who may act); these services check the
state (whether the action is possible now).
"""

import hashlib
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from esfca import policy
from esfca.audit import audit
from esfca.errors import InvalidInput, InvalidState
from esfca.models import MonthlySummary, SummaryEvent, SummaryReminder
from esfca.services import lock_firm
from exporters.models import Firm, Membership
from ledger.models import Account

from . import flags as F
from .figures import filing_due, summary_compute
from .formatting import canonical_json, month_label, previous_month

Status = MonthlySummary.Status
# Reminders go out this many days before the due day, and on it.
REMINDER_DAYS_BEFORE = (3, 0)


def snapshot_sha256(snapshot: dict) -> str:
    """SHA-256 of the snapshot's canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(canonical_json(snapshot)).hexdigest()


def _event(summary: MonthlySummary, action: str, actor, comment: str = "") -> None:
    SummaryEvent.objects.create(
        summary=summary,
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        comment=comment,
    )


def _latest(firm: Firm, month: date) -> MonthlySummary | None:
    return (
        MonthlySummary.objects.select_for_update()
        .filter(firm=firm, month=month)
        .order_by("-revision")
        .first()
    )


@transaction.atomic
def summary_file(*, firm: Firm, month: date, actor) -> MonthlySummary:
    """File a firm's month (rules.md §5): freeze the computed figures and their SHA-256.

    Refused (``invalid_state``) while the month has not ended, or when it is already
    filed or accepted; after a return it is filed again as a new revision. The snapshot
    is written once and never changed: a later backdated entry raises §6.8 instead.
    """
    month = month.replace(day=1)
    now = timezone.now()
    today = timezone.localdate(now)
    _, last = policy.month_bounds(month)
    if today <= last:
        raise InvalidState(
            f"{month_label(month)} has not ended yet; it can be filed from "
            f"{last + timedelta(days=1)}.",
            month=month_label(month),
        )
    firm = lock_firm(firm)
    latest = _latest(firm, month)
    if latest is not None and latest.status in (Status.FILED, Status.ACCEPTED):
        raise InvalidState(
            f"{month_label(month)} is already {latest.status} (revision "
            f"{latest.revision}); only a returned summary can be filed again.",
            status=latest.status,
            revision=latest.revision,
        )
    figures = summary_compute(firm=firm, month=month)
    due = filing_due(month)
    revision = (
        latest.revision
        if latest is not None and latest.status == Status.DRAFT
        else (latest.revision + 1 if latest else 1)
    )
    obj = f"summary:{firm.pk}/{month_label(month)}/r{revision}"
    figures["flags"] += F.filing_flags(
        obj=obj,
        due=due,
        filed_on=today,
        filed_currencies=None,
        live_currencies=figures["currencies"],
    )
    snapshot = {**figures, "revision": revision}
    digest = snapshot_sha256(snapshot)
    fields = {
        "status": Status.FILED,
        "snapshot": snapshot,
        "sha256": digest,
        "filed_by": actor if getattr(actor, "is_authenticated", False) else None,
        "filed_at": now,
    }
    if latest is not None and latest.status == Status.DRAFT:
        for name, value in fields.items():
            setattr(latest, name, value)
        latest.save(update_fields=[*fields, "updated_at"])
        summary = latest
    else:
        summary = MonthlySummary.objects.create(firm=firm, month=month, revision=revision, **fields)
    _event(summary, SummaryEvent.Action.FILED, actor)
    audit(
        actor,
        firm,
        "summary_filed",
        summary,
        month=month_label(summary.month),
        revision=revision,
        sha256=digest,
    )
    return summary


@transaction.atomic
def review_decide(*, summary: MonthlySummary, decision: str, comment: str = "", actor):
    """A bank reviewer accepts or returns a filed summary (rules.md §5).

    Only a ``filed`` summary can be decided (``invalid_state`` otherwise). A return
    needs a comment saying what to correct; the firm then files a new revision.
    """
    comment = (comment or "").strip()
    if decision not in (Status.ACCEPTED, Status.RETURNED):
        raise InvalidInput(
            "Decide 'accepted' or 'returned'.", decision=["Choose 'accepted' or 'returned'."]
        )
    if decision == Status.RETURNED and not comment:
        raise InvalidInput(
            "Say why the summary is returned.", comment=["A return needs a comment."]
        )
    if len(comment) > 5000:
        raise InvalidInput("The comment is too long.", comment=["At most 5000 characters."])
    lock_firm(summary.firm)
    summary = MonthlySummary.objects.select_for_update().get(pk=summary.pk)
    if summary.status != Status.FILED:
        raise InvalidState(
            f"Only a filed summary can be decided; this one is {summary.status}.",
            status=summary.status,
        )
    summary.status = decision
    summary.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    summary.decided_at = timezone.now()
    summary.comment = comment
    summary.save(update_fields=["status", "decided_by", "decided_at", "comment", "updated_at"])
    _event(summary, decision, actor, comment)
    audit(
        actor,
        summary.firm,
        f"summary_{decision}",
        summary,
        month=month_label(summary.month),
        revision=summary.revision,
    )
    return summary


@transaction.atomic
def summary_prepare_draft(*, firm: Firm, month: date) -> MonthlySummary | None:
    """Store the computed figures of an unfiled month as its draft (idempotent).

    Creates revision 1 as a draft, or refreshes an existing draft's figures; a filed,
    accepted or returned month is left alone (None).
    """
    month = month.replace(day=1)
    firm = lock_firm(firm)
    latest = _latest(firm, month)
    if latest is not None and latest.status != Status.DRAFT:
        return None
    figures = summary_compute(firm=firm, month=month)
    if latest is None:
        summary = MonthlySummary.objects.create(
            firm=firm, month=month, revision=1, status=Status.DRAFT, snapshot=figures
        )
        _event(summary, SummaryEvent.Action.DRAFTED, None)
        return summary
    if latest.snapshot != figures:
        latest.snapshot = figures
        latest.save(update_fields=["snapshot", "updated_at"])
    return latest


def firms_with_esfca():
    return Firm.objects.filter(
        pk__in=Account.objects.filter(kind=Account.Kind.ESFCA).values("owner_id")
    ).order_by("pk")


def reminder_due(*, today: date) -> tuple[date, date] | None:
    """The month to remind about and its due date, when ``today`` is a reminder day."""
    month = previous_month(today)
    due = filing_due(month)
    if any(today == due - timedelta(days=n) for n in REMINDER_DAYS_BEFORE):
        return month, due
    return None


@transaction.atomic
def summary_remind(*, firm: Firm, month: date, due: date, today: date) -> SummaryReminder | None:
    """Email the firm's finance officers that ``month`` is not filed yet (once a day).

    Nothing is sent when the month is filed or accepted, when the firm has no officer
    with an email address, or when today's reminder was already sent.
    """
    firm = lock_firm(firm)
    latest = MonthlySummary.objects.filter(firm=firm, month=month).order_by("-revision").first()
    if latest is not None and latest.status in (Status.FILED, Status.ACCEPTED):
        return None
    if SummaryReminder.objects.filter(firm=firm, month=month, sent_on=today).exists():
        return None
    recipients = sorted(
        set(
            Membership.objects.filter(firm=firm, role=Membership.Role.FINANCE_OFFICER)
            .exclude(user__email="")
            .filter(user__is_active=True)
            .values_list("user__email", flat=True)
        )
    )
    if not recipients:
        return None
    label = f"{month:%B %Y}"
    state = (
        "was returned by the bank"
        if latest and latest.status == Status.RETURNED
        else ("is not filed yet")
    )
    when = "today" if today == due else f"by {due:%A %d %B %Y}"
    send_mail(
        subject=f"ESFCA summary for {label} is due {when}",
        message=(
            f"The monthly ESFCA summary of {firm.name} for {label} {state}.\n"
            f"Filing is due {when} (day {due.day} of the following month); a late filing "
            "is flagged to the bank.\n\n"
            "Review the month and file it from the month view of the ESFCA manager."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return SummaryReminder.objects.create(
        firm=firm, month=month, sent_on=today, recipients=",".join(recipients)
    )
