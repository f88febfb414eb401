"""The summary and review endpoints of api-contract.md, their errors and tenant rules."""

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from esfca.models import MonthlySummary
from tests.esfca.summaries.conftest import booked_on

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/firms/{}/summaries/{}/"
CONTRACT_KEYS = (
    "currency",
    "opening",
    "receipts_count",
    "receipts",
    "retained",
    "converted",
    "pkr_credited",
    "tax_withheld",
    "allocations",
    "conversions",
    "closing",
)


def client(user=None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def file(world, user=None, day=date(2025, 11, 7)):
    with booked_on(day):
        return client(user or world.officer).post(
            SUMMARY.format(world.firm.pk, "2025-10") + "file/", format="json"
        )


def test_get_a_draft_summary(world):
    for user in (world.officer, world.viewer, world.reviewer):
        response = client(user).get(SUMMARY.format(world.firm.pk, "2025-10"))
        assert response.status_code == 200
        body = response.json()
        assert (body["firm"], body["month"], body["status"]) == (world.firm.pk, "2025-10", "draft")
        assert (body["revision"], body["sha256"]) == (1, None)
        usd = {c["currency"]: c for c in body["currencies"]}["USD"]
        assert set(CONTRACT_KEYS) <= set(usd)
        assert usd["closing"] == "12220.82"
        assert usd["allocations"] == {
            "cloud_infrastructure": "2500.00",
            "software_subscriptions": "1000.50",
        }
        assert all(set(f) >= {"code", "message", "object"} for f in body["flags"])


def test_pkr_value_on_request(world):
    url = SUMMARY.format(world.firm.pk, "2025-10")
    assert "revaluation" not in client(world.officer).get(url).json()
    body = client(world.officer).get(url + "?revaluation=true").json()
    usd = {r["currency"]: r for r in body["revaluation"]}["USD"]
    assert (usd["balance"], usd["pkr_value"]) == ("12220.82", "3435272.50")


def test_other_tenants_and_strangers(world):
    url = SUMMARY.format(world.firm.pk, "2025-10")
    for user in (world.other_officer, world.other_reviewer):
        error(client(user).get(url), 404, "not_found")
        error(client(user).get(url + "download/?format=csv"), 404, "not_found")
        error(file(world, user), 404, "not_found")
    error(client().get(url), 401, "not_authenticated")
    error(client(world.officer).get(SUMMARY.format(999999, "2025-10")), 404, "not_found")


def test_bad_month_is_a_validation_error(world):
    response = client(world.officer).get(SUMMARY.format(world.firm.pk, "2025-13"))
    assert "month" in error(response, 400, "validation_error")["details"]


def test_file_as_finance_officer(world):
    response = file(world)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "filed"
    assert len(body["sha256"]) == 64
    assert body["sha256"] == MonthlySummary.objects.get().sha256
    assert body["filed_by"] == "officer"
    error(file(world), 409, "invalid_state")  # already filed, not returned


def test_only_the_finance_officer_files(world):
    error(file(world, world.viewer), 403, "permission_denied")
    error(file(world, world.reviewer), 403, "permission_denied")
    assert not MonthlySummary.objects.exists()


def test_filing_before_the_month_ends_is_refused(world):
    with booked_on(date(2025, 10, 20)):
        response = client(world.officer).post(
            SUMMARY.format(world.firm.pk, "2025-10") + "file/", format="json"
        )
    error(response, 409, "invalid_state")


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("pdf", "application/pdf"),
    ],
)
def test_download(world, fmt, media_type):
    file(world)
    response = client(world.reviewer).get(
        SUMMARY.format(world.firm.pk, "2025-10") + f"download/?format={fmt}"
    )
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == media_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"-2025-10-r1.{fmt}" in response["Content-Disposition"]
    content = b"".join(response) if response.streaming else response.content
    sha = MonthlySummary.objects.get().sha256
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(content.decode())))
        assert {
            "section": "summary",
            "currency": "",
            "metric": "sha256",
            "key": "",
            "value": sha,
        } in rows
    elif fmt == "xlsx":
        meta = dict(
            load_workbook(io.BytesIO(content))["Summary"].iter_rows(min_row=2, values_only=True)
        )
        assert meta["SHA-256"] == sha
    else:
        assert content.startswith(b"%PDF")


def test_download_with_an_unknown_format(world):
    url = SUMMARY.format(world.firm.pk, "2025-10") + "download/"
    for query in ("?format=doc", "?format=json", ""):
        assert (
            "format"
            in error(client(world.officer).get(url + query), 400, "validation_error")["details"]
        )


def test_review_queue_and_decision(world):
    filed = file(world).json()
    # Contract 1.1: the queue lists the bank's slices; {id} of a decision is the slice's.
    summary_id = filed["reviews"][0]["id"]
    assert [(r["bank"], r["status"]) for r in filed["reviews"]] == [("SCBL", "filed")]
    queue = client(world.reviewer).get("/api/v1/reviews/?status=filed")
    assert queue.status_code == 200
    body = queue.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["id"], row["firm"], row["month"], row["bank"], row["status"]) == (
        summary_id, world.firm.pk, "2025-10", "SCBL", "filed"
    )  # fmt: skip
    assert row["flags"] == []
    assert client(world.other_reviewer).get("/api/v1/reviews/?status=filed").json()["count"] == 0

    url = f"/api/v1/reviews/{summary_id}/decision/"
    error(
        client(world.officer).post(url, {"decision": "accepted"}, format="json"),
        403,
        "permission_denied",
    )
    error(
        client(world.other_reviewer).post(url, {"decision": "accepted"}, format="json"),
        404,
        "not_found",
    )
    error(
        client(world.reviewer).post(url, {"decision": "maybe"}, format="json"),
        400,
        "validation_error",
    )
    error(
        client(world.reviewer).post(url, {"decision": "returned"}, format="json"),
        400,
        "validation_error",
    )
    decided = client(world.reviewer).post(
        url, {"decision": "returned", "comment": "Add the missing invoice."}, format="json"
    )
    assert decided.status_code == 200
    assert (decided.json()["status"], decided.json()["summary_status"]) == ("returned", "returned")
    assert client(world.reviewer).get("/api/v1/reviews/?status=filed").json()["count"] == 0
    returned = client(world.reviewer).get("/api/v1/reviews/?status=returned").json()["results"]
    assert [r["id"] for r in returned] == [summary_id]
    error(
        client(world.reviewer).post(url, {"decision": "accepted"}, format="json"),
        409,
        "invalid_state",
    )

    # The officer files again: a new revision, decided in turn; revision 1 stays readable.
    refiled = file(world, day=date(2025, 11, 9)).json()
    assert (refiled["status"], refiled["revision"]) == ("filed", 2)
    again = client(world.reviewer).post(
        f"/api/v1/reviews/{refiled['reviews'][0]['id']}/decision/",
        {"decision": "accepted"},
        format="json",
    )
    assert (again.json()["status"], again.json()["summary_status"]) == ("accepted", "accepted")
    old = client(world.officer).get(SUMMARY.format(world.firm.pk, "2025-10") + "?revision=1").json()
    assert (old["revision"], old["status"], old["comment"]) == (
        1,
        "returned",
        "Add the missing invoice.",
    )
    error(
        client(world.officer).get(SUMMARY.format(world.firm.pk, "2025-10") + "?revision=7"),
        404,
        "not_found",
    )


def test_review_queue_is_for_reviewers(world):
    error(client(world.officer).get("/api/v1/reviews/?status=filed"), 403, "permission_denied")
    error(client(world.reviewer).get("/api/v1/reviews/?status=bogus"), 400, "validation_error")


def test_bank_portfolio(world):
    url = "/api/v1/banks/SCBL/portfolio/2025-10/"
    body = client(world.reviewer).get(url).json()
    assert body["bank"] == "SCBL"
    assert [f["firm"] for f in body["firms"]] == [world.firm.pk]
    csv_response = client(world.reviewer).get(url + "?format=csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert csv_response["Content-Disposition"].startswith("attachment;")
    xlsx = client(world.reviewer).get(url + "?format=xlsx")
    assert (
        xlsx["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    error(client(world.reviewer).get(url + "?format=pdf"), 400, "validation_error")
    error(client(world.other_reviewer).get(url), 404, "not_found")
    error(client(world.officer).get(url), 404, "not_found")
    error(client(world.reviewer).get("/api/v1/banks/ZZZZ/portfolio/2025-10/"), 404, "not_found")


def test_summary_endpoints_are_in_the_openapi_document(world):
    response = client(world.officer).get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    paths = (response.json() if hasattr(response, "json") else {})["paths"]
    for path in (
        "/api/v1/firms/{firm_id}/summaries/{month}/",
        "/api/v1/firms/{firm_id}/summaries/{month}/file/",
        "/api/v1/firms/{firm_id}/summaries/{month}/download/",
        "/api/v1/reviews/",
        "/api/v1/reviews/{id}/decision/",
    ):
        assert path in paths, sorted(paths)
