"""Celery tasks of the ESFCA rules: doors, not rooms. Each loads by id and calls a service;
running one twice does no harm (the services are idempotent)."""

import logging
from datetime import date

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="esfca.tasks.summaries_prepare_drafts")
def summaries_prepare_drafts(month: str | None = None) -> int:
    """On the 1st (beat): store last month's draft summary of every firm with an ESFCA."""
    from esfca.summaries import formatting, services

    first = (
        formatting.month_parse(month) if month else formatting.previous_month(timezone.localdate())
    )
    done = 0
    for firm_id in services.firms_with_esfca().values_list("pk", flat=True):
        if summary_prepare_draft(firm_id, formatting.month_label(first)):
            done += 1
    return done


@shared_task(name="esfca.tasks.summary_prepare_draft")
def summary_prepare_draft(firm_id: int, month: str) -> int | None:
    from esfca.summaries import formatting, services
    from exporters.models import Firm

    firm = Firm.objects.filter(pk=firm_id).first()
    if firm is None:
        return None
    try:
        summary = services.summary_prepare_draft(firm=firm, month=formatting.month_parse(month))
    except Exception:  # one firm's bad data must not stop the others' drafts
        logger.exception("Draft summary of firm %s for %s failed", firm_id, month)
        return None
    return summary.pk if summary else None


@shared_task(name="esfca.tasks.summaries_send_reminders")
def summaries_send_reminders(today: str | None = None) -> int:
    """Daily (beat): remind finance officers of firms whose last month is not filed, a few
    days before the due day and on it; at most one reminder per firm, month and day."""
    from esfca.summaries import services

    day = date.fromisoformat(today) if today else timezone.localdate()
    due = services.reminder_due(today=day)
    if due is None:
        return 0
    month, due_date = due
    sent = 0
    for firm in services.firms_with_esfca():
        if services.summary_remind(firm=firm, month=month, due=due_date, today=day):
            sent += 1
    return sent


@shared_task(name="esfca.tasks.imports_sweep", ignore_result=True)
def imports_sweep() -> int:
    """Every minute (beat): fail the import jobs whose worker stopped, resumable."""
    from esfca.imports import imports_sweep

    return len(imports_sweep())
