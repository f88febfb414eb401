"""Writes of the monthly summaries (rules.md §5, §11): draft, file, decide, remind.

Lifecycle: ``draft`` (computed live) → ``filed`` by a finance officer once the month has
ended (a frozen snapshot with its SHA-256, and one review per bank with the frozen figures
of that bank's slice) → each bank accepts or returns its slice: the summary is
``accepted`` when every bank accepted, ``returned`` as soon as one returns (the other
pending slices close) → a returned summary, or a filed one changed since (its figures, or
a reversal dated in the month recorded after filing), is filed again as a new revision,
reviewed again by every bank. Each write locks the firm's row (as the money services
do), so two filings of one month can never both pass, and records a ``SummaryEvent`` and
an ``AuditEvent`` in the same transaction.

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
from esfca.models import MonthlySummary, SummaryEvent, SummaryReminder, SummaryReview
from esfca.services import lock_firm
from exporters.models import Bank, Firm, Membership
from exporters.selectors import bank_slice
from ledger.models import Account

from . import flags as F
from .figures import (
    filing_due,
    reversed_since_filing,
    summary_compute,
    summary_compute_slices,
)
from .formatting import canonical_json, month_label, previous_month

Status = MonthlySummary.Status
Review = SummaryReview.Status
# Reminders go out this many days before the due day, and on it.
REMINDER_DAYS_BEFORE = (3, 0)


def snapshot_sha256(snapshot: dict) -> str:
    """SHA-256 of the snapshot's canonical JSON (sorted keys, no spaces, UTF-8)."""
    return hashlib.sha256(canonical_json(snapshot)).hexdigest()


def _event(summary: MonthlySummary, action: str, actor, comment: str = "", review=None) -> None:
    SummaryEvent.objects.create(
        summary=summary,
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        comment=comment,
        review=review,
    )


def _latest(firm: Firm, month: date) -> MonthlySummary | None:
    return (
        MonthlySummary.objects.select_for_update()
        .filter(firm=firm, month=month)
        .order_by("-revision")
        .first()
    )


def firm_banks(firm: Firm) -> list[Bank]:
    """The banks holding any of the firm's accounts: each reviews its slice (§11)."""
    held = Account.objects.filter(owner=firm, kind__in=Account.BANK_KINDS).values("bank_id")
    return list(Bank.objects.filter(pk__in=held).order_by("code"))


def _check_fileable(month: date, latest: MonthlySummary | None, live: dict, today: date) -> None:
    """``invalid_state`` while the month runs, or when the latest revision is filed or
    accepted and the month has not changed since: neither its figures nor a reversal dated
    in it recorded after filing (rules.md §5, §9: a changed month may be filed again on the
    firm's own initiative)."""
    _, last = policy.month_bounds(month)
    if today <= last:
        after = f"; it can be filed from {last + timedelta(days=1)}" if last < date.max else ""
        raise InvalidState(
            f"{month_label(month)} has not ended yet{after}.", month=month_label(month)
        )
    if latest is None or latest.status not in (Status.FILED, Status.ACCEPTED):
        return
    if F.figure_changes(latest.snapshot.get("currencies", []), live["currencies"]):
        return
    if reversed_since_filing(latest, live) is not None:
        return
    raise InvalidState(
        f"{month_label(month)} is already {latest.status} (revision {latest.revision}) and "
        "unchanged since; only a returned or changed month can be filed again.",
        status=latest.status,
        revision=latest.revision,
    )


def _frozen(figures: dict, obj: str, due: date, today: date, revision: int) -> dict:
    """Figures as filed: with the §6.8 filing flags, and the revision."""
    flags = figures["flags"] + F.filing_flags(
        obj=obj, due=due, filed_on=today, filed_currencies=None, live_currencies=[]
    )
    return {**figures, "flags": flags, "revision": revision}


def _close_pending(summary: MonthlySummary, actor, why: str) -> None:
    """The revision's slices still waiting close: nothing more is decided on them."""
    for review in summary.reviews.select_for_update().filter(status=Review.FILED):
        review.status = Review.CLOSED
        review.save(update_fields=["status", "updated_at"])
        _event(summary, SummaryEvent.Action.CLOSED, actor, why, review=review)


@transaction.atomic
def summary_file(*, firm: Firm, month: date, actor) -> MonthlySummary:
    """File a firm's month (rules.md §5, §11): freeze the computed figures and their SHA-256,
    and open one review per bank holding any of the firm's accounts, each with the frozen
    figures of its slice.

    Refused (``invalid_state``) while the month has not ended, or when it is already
    filed or accepted and unchanged since; after a return, or once the month changed (its
    figures: a backdated entry; or a reversal dated in it recorded after filing, even one
    that moved no figure), it is filed again as a new revision and the previous
    revision's pending slices close. A snapshot is written once and never changed.
    """
    month = month.replace(day=1)
    now = timezone.now()
    today = timezone.localdate(now)
    firm = lock_firm(firm)
    latest = _latest(firm, month)
    banks = firm_banks(firm)
    figures, slices = summary_compute_slices(
        firm=firm, month=month, slices={b.pk: bank_slice(b) for b in banks}
    )
    _check_fileable(month, latest, figures, today)
    due = filing_due(month)
    in_place = latest is not None and latest.status == Status.DRAFT
    revision = latest.revision if in_place else (latest.revision + 1 if latest else 1)
    obj = f"summary:{firm.pk}/{month_label(month)}/r{revision}"
    snapshot = _frozen(figures, obj, due, today, revision)
    digest = snapshot_sha256(snapshot)
    fields = {
        "status": Status.FILED,
        "snapshot": snapshot,
        "sha256": digest,
        "filed_by": actor if getattr(actor, "is_authenticated", False) else None,
        "filed_at": now,
    }
    if in_place:
        for name, value in fields.items():
            setattr(latest, name, value)
        latest.save(update_fields=[*fields, "updated_at"])
        summary = latest
    else:
        if latest is not None:
            _close_pending(latest, actor, f"Superseded by revision {revision}.")
        summary = MonthlySummary.objects.create(firm=firm, month=month, revision=revision, **fields)
    SummaryReview.objects.bulk_create(
        SummaryReview(
            summary=summary, bank=b, snapshot=_frozen(slices[b.pk], obj, due, today, revision)
        )
        for b in banks
    )
    _event(summary, SummaryEvent.Action.FILED, actor)
    audit(
        actor,
        firm,
        "summary_filed",
        summary,
        month=month_label(summary.month),
        revision=revision,
        sha256=digest,
        banks=[b.code for b in banks],
    )
    return summary


def _check_decision(decision: str, comment: str) -> None:
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


def _settle(summary: MonthlySummary, review: SummaryReview, actor) -> None:
    """The summary's status from its slices: returned as soon as one returns (the other
    pending slices close), accepted when every bank accepted, filed otherwise."""
    if review.status == Review.RETURNED:
        _close_pending(summary, actor, f"{review.bank.code} returned the revision.")
        status = Status.RETURNED
    elif not summary.reviews.exclude(status=Review.ACCEPTED).exists():
        status = Status.ACCEPTED
    else:
        return
    summary.status = status
    summary.decided_by = review.decided_by
    summary.decided_at = review.decided_at
    summary.comment = review.comment
    summary.save(update_fields=["status", "decided_by", "decided_at", "comment", "updated_at"])
    if status == Status.RETURNED:
        transaction.on_commit(lambda: summary_return_notify(summary_id=summary.pk))


@transaction.atomic
def review_decide(
    *, review: SummaryReview, decision: str, comment: str = "", actor
) -> SummaryReview:
    """A bank's reviewer accepts or returns its bank's slice of a filed revision (§5, §11).

    Only a slice still ``filed`` is decided (``invalid_state`` otherwise: already decided,
    or closed because another bank returned the revision or a newer one superseded it). A
    return needs a comment saying what to correct; it returns the whole summary to the
    firm, whose finance officers are emailed at once.
    """
    comment = (comment or "").strip()
    _check_decision(decision, comment)
    lock_firm(review.summary.firm)
    review = SummaryReview.objects.select_for_update().select_related("bank").get(pk=review.pk)
    summary = MonthlySummary.objects.select_for_update().get(pk=review.summary_id)
    if review.status != Review.FILED:
        why = (
            " (another bank returned the revision, or a newer one replaced it)"
            if review.status == Review.CLOSED
            else ""
        )
        raise InvalidState(
            f"Only a filed slice can be decided; {review.bank.code}'s is {review.status}{why}.",
            status=review.status,
            summary_status=summary.status,
        )
    review.status = decision
    review.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    review.decided_at = timezone.now()
    review.comment = comment
    review.save(update_fields=["status", "decided_by", "decided_at", "comment", "updated_at"])
    _event(summary, decision, actor, comment, review=review)
    audit(
        actor,
        summary.firm,
        f"summary_{decision}",
        summary,
        month=month_label(summary.month),
        revision=summary.revision,
        bank=review.bank.code,
    )
    _settle(summary, review, actor)
    review.summary = summary
    return review


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


def officer_emails(firm: Firm) -> list[str]:
    """The addresses of the firm's active finance officers."""
    return sorted(
        set(
            Membership.objects.filter(firm=firm, role=Membership.Role.FINANCE_OFFICER)
            .exclude(user__email="")
            .filter(user__is_active=True)
            .values_list("user__email", flat=True)
        )
    )


def summary_return_notify(*, summary_id: int) -> int:
    """Email the firm's finance officers that a bank returned their summary, with the
    comment (nothing waits unseen). Sent after the decision commits; returns how many
    addresses it went to."""
    summary = MonthlySummary.objects.select_related("firm").get(pk=summary_id)
    recipients = officer_emails(summary.firm)
    returned = summary.reviews.filter(status=Review.RETURNED).select_related("bank").first()
    if not recipients or summary.status != Status.RETURNED:
        return 0
    label = f"{summary.month:%B %Y}"
    bank = returned.bank.name if returned else "The bank"
    send_mail(
        subject=f"ESFCA summary for {label} returned by {bank}",
        message=(
            f"{bank} returned revision {summary.revision} of the monthly ESFCA summary of "
            f"{summary.firm.name} for {label}.\n\nComment: {summary.comment}\n\n"
            "Correct the month and file it again (a new revision) from the month view of "
            "the ESFCA manager; every bank reviews the new revision."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return len(recipients)


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
    recipients = officer_emails(firm)
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
