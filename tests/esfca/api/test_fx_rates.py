"""Reference rates through the API by rules.md §10 (contract 1.1): platform admins only,
every rate through the move guard, held rates approved or rejected, all of it audited."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from esfca.models import AuditEvent, Receipt
from ledger.errors import FxRateMissing
from ledger.fx.selectors import buying_rate
from ledger.models import FxRate

from .conftest import Api, error_of, receipt_body
from .openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
RATES = f"{V1}/fx-rates/"


def body(**changes) -> dict:
    return {
        "currency": "USD",
        "date": "2025-11-04",
        "buy": "280.6469",
        "sell": "281.0788",
        "source": "SBP-WACR",
        **changes,
    }


def sbp_usd(on: date, buy="280.6469", sell="281.0788") -> FxRate:
    return FxRate.objects.create(
        currency="USD", date=on, source="SBP-WACR", buy=Decimal(buy), sell=Decimal(sell)
    )


def held_rate() -> FxRate:
    return FxRate.objects.create(
        currency="USD",
        date=date(2025, 11, 5),
        source="MANUAL",
        buy=Decimal("350"),
        sell=Decimal("351"),
        status=FxRate.Status.HELD,
        note="Held: buy 350 moved 24.71% from 280.6469 (SBP-WACR) of 2025-11-04 (limit 5%).",
    )


def decide(world, who, rate_id, action):
    return world.api(who).post(f"{RATES}{rate_id}/{action}/")


def audited(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- who posts -------------------------------------------------------------------------------


def test_a_bank_reviewer_posts_no_rate(world):
    response = world.api(world.own.reviewer).post(RATES, body())

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert FxRate.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="fx_rate").exists()


def test_the_finding_replayed_a_reviewers_one_rupee_dollar_converts_nothing(world):
    """The finding: a bank reviewer posted USD = 1.0 PKR labelled SBP-WACR; stored active,
    unaudited, and the next receipt of a firm at another bank converted at 1.0. Now the
    reviewer is refused; and the same figure typed by a platform admin is held, so the
    other bank's firm gets no rate for that day rather than 1.0."""
    sbp_usd(date(2025, 11, 3))
    one = body(date="2025-11-04", buy="1.0", sell="1.0")

    refused = world.api(world.own.reviewer).post(RATES, one)
    assert refused.status_code == 403
    assert FxRate.objects.filter(buy=1).count() == 0

    typed = world.api("admin").post(RATES, one)
    assert typed.status_code == 201 and typed.json()["status"] == "held"
    response = world.api(world.foreign.officer).post(
        f"{V1}/firms/{world.foreign.firm.pk}/receipts/",
        receipt_body(value_date="2025-11-04", conversion_rate=...),
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "fx_rate_missing"
    assert Receipt.objects.count() == 0


def test_an_admins_rate_is_active_or_held_and_audited(world):
    first = world.api("admin").post(RATES, body(date="2025-11-03"))
    near = world.api("admin").post(RATES, body(date="2025-11-04", buy="281.5", sell="282"))
    far = world.api("admin").post(
        RATES, body(date="2025-11-05", source="MANUAL", buy="300", sell="301")
    )

    assert [r.status_code for r in (first, near, far)] == [201, 201, 201]
    assert [r.json()["status"] for r in (first, near, far)] == ["active", "active", "held"]
    assert far.json()["note"] == (
        "Held: buy 300.0000 moved 6.57% from 281.5000 (SBP-WACR) of 2025-11-04 (limit 5%)."
    )
    assert_matches_schema(far, "/api/v1/fx-rates/", "POST")
    with pytest.raises(FxRateMissing):
        buying_rate(currency="USD", on=date(2025, 11, 5))
    events = audited("fx_rate_written")
    assert [(e.actor, e.details["how"], e.details["status"]) for e in events] == [
        (world.admin, "api", "active"),
        (world.admin, "api", "active"),
        (world.admin, "api", "held"),
    ]
    assert events[2].object_id == str(far.json()["id"])
    assert events[2].details["held_because"] == far.json()["note"]


def test_the_same_key_again_is_a_duplicate_even_when_held(world):
    sbp_usd(date(2025, 11, 3))
    assert world.api("admin").post(RATES, body(buy="400", sell="401")).json()["status"] == "held"

    again = world.api("admin").post(RATES, body())

    assert again.status_code == 409
    assert error_of(again)["code"] == "duplicate_reference"
    assert FxRate.objects.get(date=date(2025, 11, 4)).buy == Decimal("400")


def test_a_future_date_is_refused_any_past_one_taken(world):
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = world.api("admin").post(RATES, body(date=tomorrow.isoformat()))

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "cannot be dated in the future" in error["details"]["date"][0]
    assert world.api("admin").post(RATES, body(date="2010-01-01")).status_code == 201
    assert world.api("admin").post(RATES, body(date="0001-01-01")).status_code == 201
    assert set(FxRate.objects.values_list("date", flat=True)) == {date(2010, 1, 1), date.min}


# --- approve and reject ----------------------------------------------------------------------


def test_approving_a_held_rate_makes_it_used_and_is_audited(world):
    held = held_rate()

    response = decide(world, "admin", held.pk, "approve")

    assert response.status_code == 200
    assert response.json() == {
        "id": held.pk,
        "currency": "USD",
        "date": "2025-11-05",
        "buy": "350.0000",
        "sell": "351.0000",
        "source": "MANUAL",
        "status": "active",
        "note": held.note,  # why it was held: the approval is in the audit trail
    }
    assert_matches_schema(response, "/api/v1/fx-rates/{id}/approve/", "POST")
    assert buying_rate(currency="USD", on=date(2025, 11, 5)) == Decimal("350")
    (event,) = audited("fx_rate_approved")
    assert (event.actor, event.object_id) == (world.admin, str(held.pk))
    assert event.details["how"] == "api" and event.details["status"] == "active"


def test_rejecting_a_held_rate_keeps_it_unused_and_is_audited(world):
    held = held_rate()

    response = decide(world, "admin", held.pk, "reject")

    assert response.status_code == 200 and response.json()["status"] == "rejected"
    with pytest.raises(FxRateMissing):
        buying_rate(currency="USD", on=date(2025, 11, 5))
    (event,) = audited("fx_rate_rejected")
    assert (event.actor, event.object_id) == (world.admin, str(held.pk))


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_rate_not_held_is_an_invalid_state(world, action):
    active = sbp_usd(date(2025, 11, 4))
    held = held_rate()
    assert decide(world, "admin", held.pk, "reject").status_code == 200

    for rate in (active, held):  # active, and rejected a moment ago
        before = FxRate.objects.get(pk=rate.pk).status
        response = decide(world, "admin", rate.pk, action)
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "invalid_state"
        assert f"is {before}: only a rate held for review" in error["message"]
        assert_matches_schema(response, f"/api/v1/fx-rates/{{id}}/{action}/", "POST")
        assert FxRate.objects.get(pk=rate.pk).status == before
    assert len(audited("fx_rate_rejected")) == 1  # the first rejection only


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_only_a_platform_admin_decides(world, action):
    held = held_rate()
    for who in (world.own.reviewer, world.own.officer, world.own.viewer, world.foreign.reviewer):
        response = decide(world, who, held.pk, action)
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert Api().post(f"{RATES}{held.pk}/{action}/").status_code == 401
    held.refresh_from_db()
    assert held.status == "held"
    assert not AuditEvent.objects.filter(action__startswith="fx_rate_").exists()


@pytest.mark.parametrize("rate_id", [987654321, 2**63, 10**30])
def test_an_unknown_rate_is_not_found(world, rate_id):
    response = decide(world, "admin", rate_id, "approve")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_schema_documents_the_decisions(client):
    paths = client.get(f"{V1}/schema/?format=json").json()["paths"]
    for action in ("approve", "reject"):
        operation = paths[f"/api/v1/fx-rates/{{id}}/{action}/"]["post"]
        assert operation["operationId"] == f"fx_rates_{action}"
        assert set(operation["responses"]) == {"200", "401", "403", "404", "409"}
