"""rules.md §10 in the ledger: the move guard on every new rate, feed dates, held rates
decided, and every rate in the audit trail (the feed's timeout: test_fx_feeds.py)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from esfca.models import AuditEvent
from exporters.models import User
from ledger.errors import FxRateMissing, InvalidPosting
from ledger.exact import working_days_between, working_days_window_start
from ledger.fx.errors import RateNotHeld
from ledger.fx.selectors import buying_rate, fx_rate_guarding
from ledger.fx.services import (
    FEED,
    How,
    RateWriter,
    fx_rate_decide,
    fx_rate_store,
    fx_refresh,
)
from ledger.fx.signals import rate_written
from ledger.models import FxRate, FxRefreshLog
from tests.esfca.second_factor import log_in
from tests.ledger.fx_support import FxServer, Route, ecb_dated, oxr_dated

pytestmark = pytest.mark.django_db

SHELL = RateWriter(How.COMMAND, label="tests")
MON_3, MON_17, TUE_18 = date(2025, 11, 3), date(2025, 11, 17), date(2025, 11, 18)


def rate(on, buy, sell=None, *, currency="USD", source="SBP-WACR", by=SHELL):
    sell = buy if sell is None else sell
    return fx_rate_store(
        currency=currency, on=on, buy=Decimal(buy), sell=Decimal(sell), source=source, by=by
    )


def audit_rows(action="fx_rate_written"):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.fixture
def feed(settings):
    with FxServer() as server:
        settings.FX_FEED_URL = server.url("/oxr.json")
        settings.ECB_FEED_URL = server.url("/ecb.xml")
        settings.FX_FEED_TIMEOUT = 1
        yield server


def today():
    return timezone.localdate()


# --- the guard: the latest active rate of any source within 10 working days ------------------


def test_the_window_is_ten_working_days_up_to_the_rate_date():
    assert working_days_window_start(MON_17, 10) == MON_3
    assert working_days_window_start(TUE_18, 10) == date(2025, 11, 4)
    assert working_days_window_start(date(2025, 11, 15), 10) == date(2025, 10, 31)  # a Saturday
    assert working_days_window_start(date(1, 1, 3), 10) == date.min  # the calendar's first days


def test_a_rate_ten_working_days_back_is_compared_and_an_older_one_is_not():
    rate(MON_3, "280.0000")

    within = rate(MON_17, "320.000000", source="OXR")  # 10 working days after Monday the 3rd
    beyond = rate(TUE_18, "320.000000", source="ECB")  # 11: nothing left to compare with

    assert (within.outcome, within.rate.status) == ("held", "held")
    assert within.message == (
        "Held: buy 320.0000 moved 14.29% from 280.0000 (SBP-WACR) of 2025-11-03 (limit 5%)."
    )
    assert (beyond.outcome, beyond.rate.status) == ("created", "active")


def test_the_guard_uses_the_latest_active_rate_not_an_older_or_held_one():
    rate(date(2025, 10, 1), "200.0000")  # outside the window: ignored
    rate(MON_3, "280.0000", source="MANUAL")
    rate(date(2025, 11, 12), "293.0000", source="OXR")  # +4.6%: active, the latest
    held = rate(date(2025, 11, 13), "400.0000", source="ECB")  # held: never a reference
    assert held.rate.status == "held"

    assert fx_rate_guarding(currency="USD", on=MON_17).date == date(2025, 11, 12)
    assert rate(MON_17, "305.0000").rate.status == "active"  # +4.10% from 293, +8.9% from 280
    assert rate(MON_17, "265.0000", source="MANUAL").rate.status == "held"  # -13.1% from 305


def test_another_source_of_the_same_day_counts_and_a_later_day_does_not():
    rate(MON_17, "280.0000")  # SBP, the same day
    rate(TUE_18, "100.0000", source="MANUAL")  # after the new rate's date: not compared

    same_day = rate(MON_17, "250.000000", source="OXR")

    assert same_day.rate.status == "held"
    assert "from 280.0000 (SBP-WACR) of 2025-11-17" in same_day.message
    assert buying_rate(currency="USD", on=MON_17) == Decimal("280.0000")


def test_several_sources_on_the_latest_day_the_best_one_is_compared():
    rate(MON_3, "280.0000", source="OXR")
    rate(MON_3, "281.0000", source="SBP-WACR")
    assert fx_rate_guarding(currency="USD", on=MON_17).source == "SBP-WACR"


def test_no_active_rate_in_the_window_nothing_to_compare():
    rate(MON_3, "280.0000", currency="EUR")  # another currency
    assert rate(MON_17, "1.0000").rate.status == "active"


# --- feeds: the finding, dates, the whole answer within the timeout -----------------


def test_a_feeds_first_usd_rate_half_sbps_is_held_and_used_by_nothing(feed):
    """The finding: OXR's first USD rate, 50% below an active SBP rate of 3 working days
    before, was stored active. Now held (named in the refresh log and the audit trail); the
    other currencies, with nothing to compare, are active."""
    day = timezone.now().date()  # the UTC day of the feed's timestamp
    sbp_day = working_days_window_start(day, 3)
    rate(sbp_day, "561.7200")
    feed.routes["/oxr.json"] = Route(oxr_dated(day))

    log = fx_refresh(provider="oxr")

    assert log.ok and (log.created, log.held) == (10, 1)
    usd = FxRate.objects.get(source="OXR", currency="USD")
    assert (usd.buy, usd.status) == (Decimal("280.860000"), "held")
    expected = (
        f"USD {day} Held: buy 280.8600 moved 50.00% from 561.7200 (SBP-WACR) of {sbp_day} "
        "(limit 5%)."
    )
    assert log.message == expected
    with pytest.raises(FxRateMissing):
        buying_rate(currency="USD", on=day)
    assert buying_rate(currency="EUR", on=day) == Decimal("323.571429")
    written = {e.details["currency"]: e for e in audit_rows() if e.details["how"] == "feed"}
    assert len(written) == 10 and written["USD"].actor is None
    assert written["USD"].details["status"] == "held"
    assert written["USD"].details["held_because"].startswith("Held: buy 280.8600 moved 50.00%")


def _oldest_allowed() -> date:
    return working_days_window_start(today(), 5)


@pytest.mark.parametrize(
    ("provider", "day", "why"),
    [
        ("oxr", lambda: date(2010, 1, 1), "2010-01-01 is {age} working days old"),
        ("oxr", lambda: _oldest_allowed() - timedelta(days=1), "is 6 working days old"),
        ("ecb", lambda: today() + timedelta(days=1), "cannot be dated in the future"),
        ("ecb", lambda: date(2099, 1, 1), "cannot be dated in the future"),
    ],
)
def test_a_feed_dated_in_the_future_or_too_old_stores_nothing(feed, provider, day, why):
    day = day()
    # ECB crosses through an active USD rate of its own day: there is one, whatever the date.
    FxRate.objects.create(
        currency="USD", date=day, source="MANUAL", buy=Decimal("280.5"), sell=Decimal("281")
    )
    feed.routes["/oxr.json"] = Route(oxr_dated(day))
    feed.routes["/ecb.xml"] = Route(ecb_dated(day), content_type="application/xml")

    log = fx_refresh(provider=provider)

    assert (log.ok, log.retryable, log.created) == (False, False, 0)
    age = working_days_between(day, today())
    assert f"{provider} gives rates dated {day}" in log.message
    assert why.format(age=age) in log.message
    assert FxRate.objects.count() == 1 and audit_rows() == []


def test_a_feed_rate_five_working_days_old_is_still_written(feed):
    day = _oldest_allowed()
    feed.routes["/oxr.json"] = Route(oxr_dated(day))

    log = fx_refresh(provider="oxr")

    assert log.ok and log.created == 10
    assert set(FxRate.objects.values_list("date", flat=True)) == {day}


def test_the_store_refuses_feed_dates_too():
    """Whatever calls it, a rate written as a feed's obeys the feed's limits."""
    with pytest.raises(InvalidPosting) as refused:
        rate(date(2010, 1, 1), "280.0000", source="OXR", by=FEED)
    assert "a feed writes rates at most 5 working days old" in refused.value.details["date"][0]
    with pytest.raises(InvalidPosting) as refused:
        rate(today() + timedelta(days=1), "280.0000", source="MANUAL", by=SHELL)
    assert "cannot be dated in the future" in refused.value.details["date"][0]
    assert rate(date(2010, 1, 1), "280.0000", by=SHELL).rate.status == "active"  # a person may


# --- people: the admin, the upload, the command; decisions ---------------------------------


def test_a_backdated_rate_typed_in_the_admin_far_from_the_window_is_held(admin_client):
    rate(MON_3, "280.0000")
    rate(date(2025, 11, 10), "281.0000", source="OXR")
    url = reverse("admin:ledger_fxrate_add")
    form = {"currency": "USD", "source": "MANUAL", "note": ""}

    response = admin_client.post(url, {**form, "date": "2025-11-12", "buy": "250", "sell": "251"})

    assert response.status_code == 302
    typed = FxRate.objects.get(source="MANUAL")
    assert typed.status == "held"
    assert typed.note.startswith(
        "Held: buy 250.0000 moved 11.03% from 281.0000 (OXR) of 2025-11-10"
    )
    with pytest.raises(FxRateMissing):
        buying_rate(currency="USD", on=date(2025, 11, 12))
    (event,) = [e for e in audit_rows() if e.details["how"] == "admin"]
    assert event.actor.username == "admin" and event.object_id == str(typed.pk)
    assert event.details == {
        "outcome": "held",
        "how": "admin",
        "currency": "USD",
        "date": "2025-11-12",
        "source": "MANUAL",
        "buy": "250.0000",
        "sell": "251.0000",
        "status": "held",
        "held_because": typed.note,
    }


def test_the_admin_refuses_a_future_date_but_takes_any_past_one(admin_client):
    url = reverse("admin:ledger_fxrate_add")
    form = {"currency": "USD", "source": "MANUAL", "note": "", "buy": "280", "sell": "281"}
    tomorrow = today() + timedelta(days=1)

    response = admin_client.post(url, {**form, "date": tomorrow.isoformat()})
    assert response.status_code == 200
    assert "cannot be dated in the future" in response.content.decode()
    assert FxRate.objects.count() == 0

    assert admin_client.post(url, {**form, "date": "2010-01-01"}).status_code == 302
    assert FxRate.objects.get().date == date(2010, 1, 1)


def test_only_a_superuser_writes_rates_in_the_admin(client):
    """A staff user given every rate permission still writes none (rules.md §10)."""
    staff = User.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__model="fxrate"))
    log_in(client, staff)
    form = {"currency": "USD", "source": "MANUAL", "date": "2025-11-04", "buy": "1", "sell": "1"}

    assert client.post(reverse("admin:ledger_fxrate_add"), form).status_code == 403
    upload = SimpleUploadedFile("r.csv", b"date,currency,buy,sell\n2025-11-04,USD,1,1\n")
    response = client.post(
        reverse("admin:ledger_fxrate_upload_csv"), {"file": upload, "source": "SBP-WACR"}
    )
    assert response.status_code == 403
    assert FxRate.objects.count() == 0


def test_a_csv_uploaded_in_the_admin_is_audited_row_by_row(admin_client):
    csv = b"date,currency,buy,sell\n2025-11-03,USD,280.5,281\n2025-11-04,USD,200,201\n"
    upload = SimpleUploadedFile("wacr.csv", csv, content_type="text/csv")

    admin_client.post(
        reverse("admin:ledger_fxrate_upload_csv"), {"file": upload, "source": "SBP-WACR"}
    )

    events = audit_rows()
    assert [(e.details["date"], e.details["status"], e.details["how"]) for e in events] == [
        ("2025-11-03", "active", "upload"),
        ("2025-11-04", "held", "upload"),
    ]
    assert {e.actor.username for e in events} == {"admin"}


def test_a_dry_run_upload_leaves_no_rate_and_no_audit_row(admin_client):
    upload = SimpleUploadedFile("wacr.csv", b"date,currency,buy,sell\n2025-11-03,USD,280,281\n")
    admin_client.post(
        reverse("admin:ledger_fxrate_upload_csv"),
        {"file": upload, "source": "SBP-WACR", "dry_run": "on"},
    )
    assert FxRate.objects.count() == 0 and audit_rows() == []


def test_the_import_command_is_audited_with_who_ran_it(tmp_path):
    path = tmp_path / "wacr.csv"
    path.write_text("date,currency,buy,sell\n2025-11-03,USD,280.5,281\n", encoding="utf-8")

    call_command("fx_import_csv", str(path))

    (event,) = audit_rows()
    assert event.actor is None
    assert event.details["how"] == "command"
    assert event.details["by"].endswith("ran fx_import_csv wacr.csv")


def test_held_rates_approved_and_rejected_in_the_admin_are_audited(admin_client):
    rate(MON_3, "280.0000")
    first = rate(date(2025, 11, 4), "300.0000", source="MANUAL").rate
    second = rate(date(2025, 11, 5), "300.0000", source="MANUAL").rate
    active = FxRate.objects.get(source="SBP-WACR")
    url = reverse("admin:ledger_fxrate_changelist")

    admin_client.post(url, {"action": "approve_held", "_selected_action": [first.pk, active.pk]})
    response = admin_client.post(
        url, {"action": "reject_held", "_selected_action": [second.pk]}, follow=True
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("active", "rejected")
    assert buying_rate(currency="USD", on=date(2025, 11, 4)) == Decimal("300.0000")
    assert "1 held rate(s) rejected." in response.content.decode()
    decided = AuditEvent.objects.filter(action__in=("fx_rate_approved", "fx_rate_rejected"))
    assert sorted((e.action, e.object_id, e.actor.username) for e in decided) == [
        ("fx_rate_approved", str(first.pk), "admin"),
        ("fx_rate_rejected", str(second.pk), "admin"),
    ]


def test_only_a_held_rate_can_be_decided():
    active = rate(MON_3, "280.0000").rate
    with pytest.raises(RateNotHeld, match="is active: only a rate held for review"):
        fx_rate_decide(rate_id=active.pk, approve=False, by=SHELL)
    active.refresh_from_db()
    assert active.status == "active"
    assert audit_rows("fx_rate_rejected") == []


def test_a_failing_audit_fails_the_write():
    """The audit row is written in the rate's transaction: no rate without its row."""

    def broken(**kwargs):
        raise RuntimeError("audit table unavailable")

    rate_written.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError):
            rate(MON_3, "280.0000")
    finally:
        rate_written.disconnect(dispatch_uid="test-broken")
    assert FxRate.objects.count() == 0


def test_feed_writes_are_logged_even_without_a_person(feed):
    """A feed's rates carry no person: their audit rows say how (feed) and the refresh log
    row is there too."""
    feed.routes["/oxr.json"] = Route(oxr_dated(timezone.now().date()))
    log = fx_refresh(provider="oxr")
    assert log.ok and FxRefreshLog.objects.count() == 1
    assert {(e.actor, e.details["how"]) for e in audit_rows()} == {(None, "feed")}
