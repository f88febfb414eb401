"""Celery beat's monthly drafts and filing reminders (eager in tests, idempotent)."""

from datetime import date

import pytest
from django.core import mail

from esfca import tasks
from esfca.models import MonthlySummary, SummaryReminder
from tests.esfca.summaries.conftest import OCTOBER, booked_on

pytestmark = pytest.mark.django_db


def test_drafts_of_last_month_for_every_firm(world):
    with booked_on(date(2025, 11, 1), hour=2):
        assert tasks.summaries_prepare_drafts.delay().get() == 2
        assert tasks.summaries_prepare_drafts.delay().get() == 2  # again: nothing new
    drafts = MonthlySummary.objects.filter(month=OCTOBER)
    assert sorted(d.firm_id for d in drafts) == sorted([world.firm.pk, world.other_firm.pk])
    assert {(d.status, d.revision) for d in drafts} == {("draft", 1)}
    mine = drafts.get(firm=world.firm)
    usd = {c["currency"]: c for c in mine.snapshot["currencies"]}["USD"]
    assert usd["closing"] == "12220.82"


def test_drafts_leave_a_filed_month_alone(world):
    from esfca.summaries import services

    with booked_on(date(2025, 11, 3)):
        filed = services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    tasks.summaries_prepare_drafts.delay("2025-10").get()
    filed.refresh_from_db()
    assert filed.status == "filed"
    assert MonthlySummary.objects.filter(firm=world.firm).count() == 1


def run_reminders(day: date) -> int:
    with booked_on(day, hour=9):
        return tasks.summaries_send_reminders.delay().get()


def test_reminders_before_the_due_day_and_on_it(world):
    # Due 10 November: reminders on the 7th and on the 10th, none on other days.
    assert run_reminders(date(2025, 11, 6)) == 0
    assert run_reminders(date(2025, 11, 7)) == 2  # both firms with an ESFCA
    assert run_reminders(date(2025, 11, 7)) == 0  # the same day again: nothing twice
    assert run_reminders(date(2025, 11, 8)) == 0
    assert len(mail.outbox) == 2
    mine = next(m for m in mail.outbox if m.to == ["officer@example.com"])
    assert "October 2025" in mine.subject
    assert "Karachi Code Works" in mine.body
    assert run_reminders(date(2025, 11, 10)) == 2
    assert "due today" in mail.outbox[-1].subject
    assert SummaryReminder.objects.count() == 4
    # The viewer and the reviewers are never reminded.
    assert all(m.to[0] in ("officer@example.com", "other_officer@example.com") for m in mail.outbox)


def test_no_reminder_once_filed(world):
    from esfca.summaries import services

    with booked_on(date(2025, 11, 3)):
        services.summary_file(firm=world.firm, month=OCTOBER, actor=world.officer)
    assert run_reminders(date(2025, 11, 7)) == 1  # the other firm only
    assert [m.to for m in mail.outbox] == [["other_officer@example.com"]]
