"""Storing rates: idempotent upserts, the move guard, staleness, CSV imports and the admin."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from ledger.errors import FxRateMissing, InvalidPosting
from ledger.fx.providers import CsvRatesProvider, RateSet
from ledger.fx.selectors import (
    buying_rate,
    fx_rate_age,
    fx_rate_for,
    latest_rate,
    working_days_between,
)
from ledger.fx.services import How, RateWriter, fx_import_csv, fx_rate_store, fx_rates_store
from ledger.models import FxRate, FxRefreshLog

pytestmark = pytest.mark.django_db

# These tests are about storing (reconciling, guarding, importing), not about feed dates
# (tests/ledger/test_fx_rules.py): their rates are written as a command at the shell would.
SHELL = RateWriter(How.COMMAND, label="tests")

MON, TUE, WED, THU, FRI = (date(2025, 11, d) for d in (3, 4, 5, 6, 7))
SAT, SUN, NEXT_MON, NEXT_WED = (
    date(2025, 11, 8),
    date(2025, 11, 9),
    date(2025, 11, 10),
    date(2025, 11, 12),
)


def store(on, buy, sell=None, currency="USD", source=FxRate.Source.OXR):
    sell = buy if sell is None else sell
    rate_set = RateSet(date=on, rates={currency: (Decimal(buy), Decimal(sell))})
    return fx_rates_store(source=source, rate_sets=[rate_set], by=SHELL)


def rows():
    return list(
        FxRate.objects.order_by("id").values_list("currency", "date", "buy", "sell", "status")
    )


# --- idempotent upserts ----------------------------------------------------------------------


def test_storing_the_same_figures_twice_changes_nothing():
    first = store(MON, "280.860000")
    snapshot = rows()
    again = store(MON, "280.860000")

    assert (first.created, again.created, again.unchanged) == (1, 0, 1)
    assert rows() == snapshot


def test_changed_figures_for_an_active_rate_are_a_conflict_not_applied(caplog):
    store(MON, "280.860000")
    result = store(MON, "281.000000")

    assert [o.outcome for o in result.outcomes] == ["conflict"]
    assert FxRate.objects.get().buy == Decimal("280.860000")
    assert "already active at 280.860000/280.860000" in caplog.text


def test_new_figures_replace_a_held_rate_and_pass_the_guard_again():
    store(MON, "280.000000")
    held = store(TUE, "300.000000").outcomes[0].rate  # +7.14%: held
    assert held.status == FxRate.Status.HELD

    result = store(TUE, "281.000000")  # the feed corrected itself

    assert [o.outcome for o in result.outcomes] == ["updated"]
    held.refresh_from_db()
    assert (held.buy, held.status, held.note) == (Decimal("281.000000"), "active", "")


# --- the move guard --------------------------------------------------------------------------


def test_a_move_within_the_limit_is_active_and_one_beyond_it_is_held():
    """Limit 5%: from 280.000000, 294.000000 is exactly +5% (active); 294.000001 is held."""
    store(MON, "280.000000")
    assert store(TUE, "294.000000").outcomes[0].rate.status == "active"
    store(WED, "280.000000")  # back down 4.76%: active
    held = store(THU, "294.000001").outcomes[0]

    assert held.outcome == "held" and held.rate.status == "held"
    assert held.message == (
        "Held: buy 294.000001 moved 5.00% from 280.0000 (OXR) of 2025-11-05 (limit 5%)."
    )
    # Not used: the selectors skip it, and there is no other rate that day.
    with pytest.raises(FxRateMissing):
        fx_rate_for(currency="USD", on=THU)
    assert latest_rate(currency="USD", on_or_before=THU).rate.date == WED


def test_the_guard_compares_across_sources_and_sell_too(settings):
    """rules.md §10: a source's first rate is compared with the latest active one of any
    source (the old guard compared with the same source only, and let this 250 through)."""
    settings.FX_GUARD_MAX_MOVE_PCT = "2"
    store(MON, "280.0000", "281.0000", source=FxRate.Source.SBP_WACR)
    first_oxr = store(TUE, "250.000000").outcomes[0]  # OXR's first rate: -10.71% from SBP's
    result = store(TUE, "280.0000", "290.0000", source=FxRate.Source.SBP_WACR)

    assert first_oxr.rate.status == "held"
    assert first_oxr.message.startswith("Held: buy 250.0000 moved 10.71% from 280.0000 (SBP")
    assert result.outcomes[0].rate.status == "held"
    assert result.outcomes[0].message.startswith("Held: sell 290.0000 moved 3.20% from 281.0000")
    with pytest.raises(FxRateMissing):  # both held: Tuesday has no rate
        fx_rate_for(currency="USD", on=TUE)


def test_the_guard_follows_the_last_active_rate_not_a_held_one():
    store(MON, "280.000000")
    store(TUE, "320.000000")  # held
    assert store(WED, "282.000000").outcomes[0].rate.status == "active"  # vs Monday: +0.71%


def test_approving_a_held_rate_in_the_admin_makes_it_used(admin_client):
    store(MON, "280.000000")
    held = store(TUE, "300.000000").outcomes[0].rate
    url = reverse("admin:ledger_fxrate_changelist")

    admin_client.post(url, {"action": "approve_held", "_selected_action": [held.pk]})

    assert buying_rate(currency="USD", on=TUE) == Decimal("300.000000")


def test_rejecting_a_held_rate_keeps_it_unused(admin_client):
    store(MON, "280.000000")
    held = store(TUE, "300.000000").outcomes[0].rate
    url = reverse("admin:ledger_fxrate_changelist")

    admin_client.post(url, {"action": "reject_held", "_selected_action": [held.pk]})

    held.refresh_from_db()
    assert held.status == "rejected"
    with pytest.raises(FxRateMissing):
        buying_rate(currency="USD", on=TUE)


def test_a_rate_entered_in_the_admin_goes_through_the_guard(admin_client):
    store(MON, "280.0000", "281.0000", source=FxRate.Source.SBP_WACR)
    url = reverse("admin:ledger_fxrate_add")
    form = {"currency": "USD", "date": "2025-11-04", "source": "SBP-WACR", "note": ""}

    admin_client.post(url, {**form, "buy": "280.6469", "sell": "281.0788"})
    response = admin_client.post(url, {**form, "date": "2025-11-05", "buy": "310", "sell": "311"})

    assert response.status_code == 302
    statuses = dict(FxRate.objects.values_list("date", "status"))
    assert statuses == {MON: "active", TUE: "active", WED: "held"}
    changed = admin_client.get(
        reverse("admin:ledger_fxrate_change", args=[FxRate.objects.get(date=TUE).pk])
    )
    assert b'name="buy"' not in changed.content  # figures are read-only once stored


def test_every_way_in_refuses_a_rate_of_a_million_or_more(admin_client):
    """MAX_RATE is 1,000,000 for every rate: the file, the admin form and the store itself."""
    report = fx_import_csv(
        by=SHELL,
        text="date,currency,buy,sell\n"
        "2025-11-04,USD,1000000,1000000\n"
        "2025-11-04,EUR,999999.9999,999999.9999\n",
    )
    assert report.lines == [
        (2, "error", "buy 1000000: A rate has at most 6 decimal places and is below 1,000,000."),
        (3, "created", ""),
    ]

    form = {"currency": "USD", "date": "2025-11-05", "source": "MANUAL", "note": ""}
    response = admin_client.post(
        reverse("admin:ledger_fxrate_add"), {**form, "buy": "1000000", "sell": "1000000"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "is below 1,000,000." in response.content.decode()

    with pytest.raises(InvalidPosting) as refused:
        fx_rate_store(
            currency="USD",
            on=WED,
            buy=Decimal("1000000"),
            sell=Decimal("0"),
            source="FEED",
            by=SHELL,
        )
    assert refused.value.details == {
        "buy": ["A rate has at most 6 decimal places and is below 1,000,000."],
        "sell": ["Enter a positive rate."],
        "source": ["Use one of SBP-WACR, MANUAL, OXR, ECB."],
    }
    assert list(FxRate.objects.values_list("currency", flat=True)) == ["EUR"]


# --- staleness -------------------------------------------------------------------------------


def test_working_days_count_mondays_to_fridays_after_the_rate_day():
    assert working_days_between(FRI, FRI) == 0
    assert working_days_between(FRI, SAT) == 0
    assert working_days_between(FRI, SUN) == 0
    assert working_days_between(FRI, NEXT_MON) == 1
    assert working_days_between(WED, NEXT_MON) == 3
    assert working_days_between(MON, date(2025, 11, 24)) == 15
    assert working_days_between(TUE, MON) == 0


def test_a_rate_older_than_two_working_days_is_stale():
    store(WED, "280.000000")
    store(WED, "280.500000", source=FxRate.Source.SBP_WACR)

    on_friday = latest_rate(currency="USD", on_or_before=FRI)
    on_monday = latest_rate(currency="USD", on_or_before=NEXT_MON)

    assert (on_friday.buy, on_friday.rate.source) == (Decimal("280.500000"), "SBP-WACR")
    assert (on_friday.age_working_days, on_friday.stale) == (2, False)
    assert (on_monday.age_working_days, on_monday.stale) == (3, True)
    assert fx_rate_age(currency="USD", on=NEXT_WED) == 5


def test_stale_threshold_is_a_setting(settings):
    settings.FX_STALE_WORKING_DAYS = 0
    store(THU, "280.000000")
    assert latest_rate(currency="USD", on_or_before=THU).stale is False
    assert latest_rate(currency="USD", on_or_before=FRI).stale is True


def test_latest_rate_of_pkr_is_one_and_no_rate_is_missing():
    assert latest_rate(currency="PKR", on_or_before=MON).buy == Decimal(1)
    with pytest.raises(FxRateMissing):
        latest_rate(currency="USD", on_or_before=MON)


# --- CSV imports -----------------------------------------------------------------------------

GOOD_CSV = """date,currency,buy,sell
2025-11-03,USD,280.5123,280.9412
2025-11-03,EUR,323.1000,323.6000
2025-11-04,USD,280.6469,281.0788
2025-11-04,EUR,323.3014,323.7911
"""

MIXED_CSV = """Date,Currency,Buy,Sell,Remark
2025-11-04,USD,280.6469,281.0788,from pkrevenue
2025-11-04,EUR,323.3014,323.7911,
04/11/2025,GBP,370.1,371.2,
2025-11-04,XYZ,1.0000,1.1000,
2025-11-04,GBP,370.12345,371.2,
2025-11-04,GBP,0,371.2,
2025-11-04,AED,76.5,75.1,
2025-11-04,CAD,1.2e2,200,

2025-11-04,USD,280.6469,281.0788,
2099-01-01,USD,280,281,
"""


def test_csv_import_stores_good_rows_and_is_idempotent():
    report = fx_import_csv(by=SHELL, text=GOOD_CSV)
    assert report.ok and report.count("created") == 4
    assert buying_rate(currency="USD", on=TUE) == Decimal("280.6469")
    assert FxRate.objects.filter(source="SBP-WACR").count() == 4

    again = fx_import_csv(by=SHELL, text=GOOD_CSV)
    assert again.ok and again.count("unchanged") == 4 and again.count("created") == 0
    assert FxRefreshLog.objects.filter(provider="csv:SBP-WACR").count() == 2


def test_csv_import_reports_each_bad_row_and_stores_the_good_ones():
    report = fx_import_csv(by=SHELL, text=MIXED_CSV)

    assert report.lines == [
        (2, "created", ""),
        (3, "created", ""),
        (4, "error", "date '04/11/2025' is not YYYY-MM-DD."),
        (5, "error", report.lines[3][2]),
        (6, "error", "buy 370.12345 has more than 4 decimal places."),
        (7, "error", "buy must be positive, got 0."),
        (8, "error", "buy 76.5 is above sell 75.1."),
        (9, "error", "buy '1.2e2' is not a plain decimal number."),
        (11, "error", "USD 2025-11-04 appears twice in the file."),
        (12, "error", "date 2099-01-01 is in the future."),
    ]
    assert report.lines[3][2].startswith("currency 'XYZ' is not one of")
    assert not report.ok
    assert sorted(FxRate.objects.values_list("currency", flat=True)) == ["EUR", "USD"]


def test_csv_without_the_columns_is_refused_whole():
    report = fx_import_csv(by=SHELL, text="day,code,rate\n2025-11-04,USD,280\n")
    assert report.lines == [(1, "error", "Header must have the columns date, currency, buy, sell.")]
    assert FxRate.objects.count() == 0


def test_csv_provider_has_the_common_interface():
    provider = CsvRatesProvider(GOOD_CSV)
    assert provider.get_rates(date=MON) == {
        "USD": (Decimal("280.5123"), Decimal("280.9412")),
        "EUR": (Decimal("323.1000"), Decimal("323.6000")),
    }
    assert [s.date for s in provider.fetch()] == [MON, TUE]


def test_import_command_dry_run_then_real(tmp_path, capsys):
    path = tmp_path / "wacr.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")

    call_command("fx_import_csv", str(path), "--dry-run")
    assert FxRate.objects.count() == 0
    assert "DRY RUN, nothing stored: SBP-WACR: 4 created" in capsys.readouterr().out

    call_command("fx_import_csv", str(path), "--source", "MANUAL")
    out = capsys.readouterr().out
    assert "line 2: created" in out and "MANUAL: 4 created, 0 held" in out
    assert set(FxRate.objects.values_list("source", flat=True)) == {"MANUAL"}


def test_import_command_fails_on_bad_rows(tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED_CSV, encoding="utf-8")
    with pytest.raises(CommandError, match="Some lines were not imported"):
        call_command("fx_import_csv", str(path))
    assert "line 6: error: buy 370.12345 has more than 4 decimal places." in capsys.readouterr().err
    assert FxRate.objects.count() == 2


def test_admin_csv_upload_shows_a_per_row_report(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("admin:ledger_fxrate_upload_csv")
    assert admin_client.get(url).status_code == 200
    upload = SimpleUploadedFile("wacr.csv", MIXED_CSV.encode(), content_type="text/csv")

    response = admin_client.post(url, {"file": upload, "source": "SBP-WACR"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "2 created" in page and "8 error" in page
    assert "buy 76.5 is above sell 75.1." in page
    assert FxRate.objects.count() == 2
    changelist = admin_client.get(reverse("admin:ledger_fxrate_changelist")).content.decode()
    assert url in changelist  # the "Upload CSV" button


def test_refresh_log_is_visible_in_the_admin(admin_client):
    fx_import_csv(by=SHELL, text=GOOD_CSV)
    page = admin_client.get(reverse("admin:ledger_fxrefreshlog_changelist")).content.decode()
    assert "csv:SBP-WACR" in page
