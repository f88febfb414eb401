"""api-contract.md 1.1, "Movements: detail, reversal, correction" (rules.md §9)."""

import pytest

from esfca.models import Receipt

from .conftest import allocation_body, balance, error_of, iban_pk, receipt_body
from .openapi import assert_matches_schema
from .test_contract import firm_url, ledger_snapshot

pytestmark = pytest.mark.django_db

REASON = {"reference": "REV-1", "reason": "amount typed wrong"}


def recorded(world, officer):
    response = officer.post(firm_url(world, "receipts/"), receipt_body())
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_receipt_is_reversed_replayed_and_not_reversed_twice(world):
    officer = world.api(world.own.officer)
    receipt = recorded(world, officer)
    url = firm_url(world, f"receipts/{receipt['id']}/")
    assert officer.get(url).json()["reversed_by"] is None

    response = officer.post(url + "reverse/", REASON)
    assert response.status_code == 201, response.json()
    reversal = response.json()
    assert reversal["reverses"] == {"kind": "receipt", "id": receipt["id"]}
    assert (reversal["reference"], reversal["reason"]) == ("REV-1", "amount typed wrong")
    assert reversal["value_date"] == receipt["value_date"]
    assert_matches_schema(response, "/api/v1/firms/{id}/receipts/{rid}/reverse/", "POST")
    assert balance(world.own.esfca_usd) == 0

    detail = officer.get(url)
    assert detail.json()["reversed_by"] == {"id": reversal["id"], "reference": "REV-1"}
    assert_matches_schema(detail, "/api/v1/firms/{id}/receipts/{rid}/", "GET")
    listed = officer.get(firm_url(world, "receipts/")).json()
    assert [r["id"] for r in listed["results"]] == [receipt["id"], reversal["id"]]

    before = ledger_snapshot()
    replay = officer.post(url + "reverse/", REASON)
    assert (replay.status_code, replay.json()["id"]) == (200, reversal["id"])
    again = officer.post(url + "reverse/", {**REASON, "reference": "REV-2"})
    assert (again.status_code, error_of(again)["code"]) == (409, "invalid_state")
    of_reversal = officer.post(
        firm_url(world, f"receipts/{reversal['id']}/reverse/"), {**REASON, "reference": "REV-3"}
    )
    assert (of_reversal.status_code, error_of(of_reversal)["code"]) == (409, "invalid_state")
    other = officer.post(url + "reverse/", {**REASON, "reason": "other"})
    assert (other.status_code, error_of(other)["code"]) == (409, "duplicate_reference")
    assert ledger_snapshot() == before


@pytest.mark.parametrize("body", [{"reference": "REV-1"}, {**REASON, "reason": ""}])
def test_no_reason_is_a_validation_error(world, body):
    officer = world.api(world.own.officer)
    receipt = recorded(world, officer)
    before = ledger_snapshot()
    response = officer.post(firm_url(world, f"receipts/{receipt['id']}/reverse/"), body)
    assert response.status_code == 400
    assert "reason" in error_of(response)["details"]
    assert ledger_snapshot() == before


def test_funds_spent_since_is_insufficient_funds(world):
    officer = world.api(world.own.officer)
    receipt = recorded(world, officer)
    spent = officer.post(firm_url(world, "allocations/"), allocation_body(amount="9000.00"))
    assert spent.status_code == 201
    before = ledger_snapshot()
    response = officer.post(firm_url(world, f"receipts/{receipt['id']}/reverse/"), REASON)
    assert (response.status_code, error_of(response)["code"]) == (400, "insufficient_funds")
    assert ledger_snapshot() == before
    # The spending reversed first, the receipt may be reversed.
    url = firm_url(world, f"allocations/{spent.json()['id']}/reverse/")
    assert officer.post(url, {**REASON, "reference": "REV-A"}).status_code == 201
    assert (
        officer.post(firm_url(world, f"receipts/{receipt['id']}/reverse/"), REASON).status_code
        == 201
    )


def test_correct_answers_both_or_neither(world):
    officer = world.api(world.own.officer)
    receipt = recorded(world, officer)
    url = firm_url(world, f"receipts/{receipt['id']}/correct/")
    before = ledger_snapshot()
    refused = officer.post(
        url, {**REASON, "receipt": receipt_body(reference="R-NEW", client_country="ZZ")}
    )
    assert (refused.status_code, error_of(refused)["code"]) == (400, "validation_error")
    assert ledger_snapshot() == before

    response = officer.post(
        url, {**REASON, "receipt": receipt_body(reference="R-NEW", amount="8000.00")}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"reversal", "receipt"}
    assert body["reversal"]["reverses"] == {"kind": "receipt", "id": receipt["id"]}
    assert body["receipt"]["corrects"] == {"kind": "receipt", "id": receipt["id"]}
    assert body["receipt"]["amount"] == "8000.00"
    assert_matches_schema(response, "/api/v1/firms/{id}/receipts/{rid}/correct/", "POST")
    original = officer.get(firm_url(world, f"receipts/{receipt['id']}/")).json()
    assert original["corrected_into"] == {"id": body["receipt"]["id"], "reference": "R-NEW"}
    assert balance(world.own.esfca_usd) == Receipt.objects.get(reference="R-NEW").retained
    replay = officer.post(
        url, {**REASON, "receipt": receipt_body(reference="R-NEW", amount="8000.00")}
    )
    assert replay.status_code == 200 and replay.json() == body


@pytest.mark.parametrize("kind", ["allocations", "conversions", "transfers"])
def test_the_other_kinds_have_the_same_endpoints(world, kind):
    officer = world.api(world.own.officer)
    recorded(world, officer)
    world.api("admin").post("/api/v1/banks/", {"code": "MEZN", "name": "Meezan"})
    second = world.api("admin").post(
        firm_url(world, "accounts/"),
        {"bank": "MEZN", "currency": "USD", "iban": iban_pk("MEZN", 901)},
    )
    bodies = {
        "allocations": allocation_body(),
        "conversions": {"reference": "CV-1", "value_date": "2025-11-06", "amount": "100.00",
                        "currency": "USD", "rate": "280.0000"},
        "transfers": {"reference": "TR-1", "value_date": "2025-11-06", "amount": "100.00",
                      "from_account": world.own.esfca_usd.pk,
                      "to_account": second.json().get("id")},
    }  # fmt: skip
    created = officer.post(firm_url(world, f"{kind}/"), bodies[kind])
    assert created.status_code == 201, created.json()
    movement = created.json()
    url = firm_url(world, f"{kind}/{movement['id']}/")
    singular = kind.removesuffix("s")
    corrected = {**bodies[kind], "reference": f"{bodies[kind]['reference']}-bis", "amount": "90.00"}
    response = officer.post(url + "correct/", {**REASON, singular: corrected})
    assert response.status_code == 201, response.json()
    assert response.json()[singular]["amount"] == "90.00"
    assert_matches_schema(
        response, f"/api/v1/firms/{{id}}/{kind}/{{{singular[0]}id}}/correct/", "POST"
    )
    detail = officer.get(url)
    assert detail.json()["reversed_by"]["reference"] == "REV-1"
    assert_matches_schema(detail, f"/api/v1/firms/{{id}}/{kind}/{{{singular[0]}id}}/", "GET")


def test_roles_and_tenants(world):
    officer = world.api(world.own.officer)
    receipt = recorded(world, officer)
    url = firm_url(world, f"receipts/{receipt['id']}/reverse/")
    assert world.api(world.own.viewer).post(url, REASON).status_code == 403
    foreign = world.api(world.foreign.officer)
    assert foreign.post(url, REASON).status_code == 404
    # Another firm's movement under one's own firm: not found either.
    foreign_url = firm_url(world, f"receipts/{receipt['id']}/reverse/", tenant="foreign")
    assert foreign.post(foreign_url, REASON).status_code == 404
    assert (
        foreign.get(firm_url(world, f"receipts/{receipt['id']}/", tenant="foreign")).status_code
        == 404
    )
