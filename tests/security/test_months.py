"""Issue 14, "No 5xx": every URL that takes a month (five pages, four API endpoints) answers
a month out of range with a 404, a malformed one with a 400 on the API (a 404 page on the
web), and the last month there is, 9999-12, as its state requires (api-contract.md 1.1).

Before: 0860-01 and 9999-12 answered 500 on all nine (no filing-due parameter in 860;
"the next month" of December 9999 overflowed)."""

from datetime import date

import pytest

from esfca.summaries import flags
from esfca.summaries.formatting import month_parse
from tests.esfca.views.world import make_world
from tests.security import clients

pytestmark = pytest.mark.django_db

IN_RANGE = ("2021-02", "9999-12")
OUT_OF_RANGE = ("0860-01", "2021-01", "10000-01", "0000-01")
MALFORMED = ("2024-13", "abcd-ef", "2024-1", "٢٠٢٤-٠١")
MONTHS = IN_RANGE + OUT_OF_RANGE + MALFORMED


@pytest.fixture
def world(db):
    return make_world()


def web_calls(world, month: str):
    f = world.firm.pk
    officer, reviewer = (
        clients.web(world.officer),
        clients.web(world.reviewer),
    )
    return {
        "month page": officer.get(f"/firms/{f}/months/{month}/"),
        "month file": officer.post(f"/firms/{f}/months/{month}/file/"),
        "month download": officer.get(f"/firms/{f}/months/{month}/download.xlsx"),
        "portfolio": reviewer.get("/review/portfolio/", {"month": month}),
        "portfolio download": reviewer.get("/review/portfolio/download.csv", {"month": month}),
        "month picker": officer.get(f"/firms/{f}/months/", {"month": month}),
    }


def api_calls(world, month: str):
    base = f"/api/v1/firms/{world.firm.pk}/summaries/{month}/"
    officer, reviewer = (
        clients.api(world.officer),
        clients.api(world.reviewer),
    )
    return {
        "summary": officer.get(base),
        "file": officer.post(base + "file/"),
        "download": officer.get(base + "download/", {"format": "xlsx"}),
        "portfolio": reviewer.get(f"/api/v1/banks/{world.bank.code}/portfolio/{month}/"),
    }


@pytest.mark.parametrize("month", MONTHS)
def test_no_month_makes_a_page_answer_5xx(world, month):
    seen = {name: r.status_code for name, r in web_calls(world, month).items()}
    if month in IN_RANGE:
        expected = {
            "month page": 200,
            "month file": 302,  # back to the month page, the refusal or success as a message
            "month download": 200,
            "portfolio": 200,
            "portfolio download": 200,
            "month picker": 302,
        }
    else:
        expected = dict.fromkeys(seen, 404)
    assert seen == expected


@pytest.mark.parametrize("month", MONTHS)
def test_no_month_makes_the_api_answer_5xx(world, month):
    answers = api_calls(world, month)
    seen = {name: r.status_code for name, r in answers.items()}
    if month == "2021-02":  # ended, nothing in it, never filed: filed now
        assert seen == {"summary": 200, "file": 200, "download": 200, "portfolio": 200}
    elif month == "9999-12":  # not over yet: filing is refused as for the current month
        assert seen == {"summary": 200, "file": 409, "download": 200, "portfolio": 200}
        assert answers["file"].json()["error"]["code"] == "invalid_state"
        assert answers["summary"].json()["month"] == "9999-12"
    else:
        status, code = (404, "not_found") if month in OUT_OF_RANGE else (400, "validation_error")
        assert seen == dict.fromkeys(seen, status)
        for response in answers.values():
            assert response.json()["error"]["code"] == code
            if code == "validation_error":
                assert "month" in response.json()["error"]["details"]


def test_the_summary_of_the_last_month_is_due_on_the_last_day_there_is(world):
    response = clients.api(world.officer).get(f"/api/v1/firms/{world.firm.pk}/summaries/9999-12/")
    assert response.json()["due_date"] == "9999-12-31"
    assert flags.filing_due_date(date(9999, 12, 1), 10) == date(9999, 12, 31)
    assert flags.filing_due_date(date(9999, 11, 1), 10) == date(9999, 12, 10)


def test_month_parse_says_malformed_or_out_of_range():
    assert month_parse("2021-02") == date(2021, 2, 1)
    assert month_parse("9999-12") == date(9999, 12, 1)
    for text in (*OUT_OF_RANGE, "9" * 5000 + "-01"):
        with pytest.raises(Exception) as caught:
            month_parse(text)
        assert (caught.value.code, caught.value.status) == ("not_found", 404), text
    for text in (*MALFORMED, "", "2024-01-01", None):
        with pytest.raises(Exception) as caught:
            month_parse(text)
        assert (caught.value.code, caught.value.status) == ("validation_error", 400), text


def test_the_lists_month_filter_takes_any_text(world):
    """The lists' ``?month=`` filter: a month no value date can be in lists nothing (the web
    list answered 500 for 10000-01 and 0000-01)."""
    client = clients.web(world.officer)
    for month in ("10000-01", "0000-01", "2024-13", "abcd-ef"):
        for name in ("receipts", "allocations"):
            response = client.get(f"/firms/{world.firm.pk}/{name}/", {"month": month})
            assert response.status_code == 200
            assert "INV-NOW-1" not in response.content.decode()
