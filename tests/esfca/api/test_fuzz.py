"""Hostile input never gets a 5xx, every refusal has the contract's error body, and every
response matches the OpenAPI document the project serves.

A bounded, derandomized hypothesis run (about 290 requests in all) over the POST
endpoints: valid bodies with one field swapped for something hostile, unknown fields,
bodies that are not objects, bytes that are not JSON, and hostile query strings and
path ids on the reads.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import PASSWORD, Api, allocation_body, iban_pk, receipt_body
from .openapi import assert_matches_schema
from .test_authorization_matrix import api_endpoints, route_url

pytestmark = pytest.mark.django_db

CODES = {
    "validation_error",
    "not_authenticated",
    "permission_denied",
    "not_found",
    "duplicate_reference",
    "invalid_state",
    "retention_limit_exceeded",
    "insufficient_funds",
    "category_not_permitted",
    "equity_not_permitted",
    "equity_cap_exceeded",
    "no_rule_in_force",
    "fx_rate_missing",
    "no_account",
    "method_not_allowed",
    "unsupported_media_type",
    "throttled",  # the token endpoint after 10 failed sign-ins
}

FUZZ = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HOSTILE = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            10**40,
            "",
            " ",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "1e400",
            "1E+999999999",
            "1e-400",
            "-0",
            "0.000",
            "9" * 40,
            "9" * 40 + ".99",
            "12.345",
            "1,000.00",
            "0x1F",
            "x" * 5000,
            "\x00",
            "abc\x00def",
            "\ud800",
            "ЖЖЖ",
            "2025-02-30",
            "99999-01-01",
            "max",
            [],
            {},
            [1, 2],
            {"amount": "1.00"},
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=30),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


def assert_contract_response(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert set(error) == {"code", "message", "details"}, body
        assert error["code"] in CODES, body
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["details"], dict)


def post_raw(api: Api, url: str, payload) -> object:
    # ensure_ascii keeps lone surrogates as \\ud800 escapes, as a hostile client would send.
    return api.post(url, raw=json.dumps(payload, ensure_ascii=True))


def endpoints(world):
    """(user, url, path as the OpenAPI document spells it, a valid body) per POST endpoint."""
    own = world.own
    firm = f"/api/v1/firms/{own.firm.pk}"
    return [
        (world.admin, "/api/v1/banks/", None, {"code": "MEZN", "name": "Meezan Bank"}),
        (
            world.admin,
            "/api/v1/firms/",
            None,
            {
                "name": "Fuzz Co",
                "ntn": "1234567",
                "kind": "it_company",
                "registration_body": "PSEB",
                "registration_number": "1",
                "active_taxpayer": True,
            },
        ),
        (
            world.admin,
            f"{firm}/accounts/",
            "/api/v1/firms/{id}/accounts/",
            {"bank": "SCBL", "currency": "EUR", "iban": iban_pk("SCBL", 31337)},
        ),
        (
            world.admin,
            "/api/v1/users/",
            None,
            {
                "username": "fuzz",
                "password": "pw-fuzz-1",
                "email": "f@example.com",
                "role": "finance_officer",
                "firm": own.firm.pk,
                "bank": None,
            },
        ),
        (
            world.admin,
            "/api/v1/fx-rates/",
            None,
            {
                "currency": "USD",
                "date": "2025-11-04",
                "buy": "280.6469",
                "sell": "281.0788",
                "source": "SBP-WACR",
            },
        ),
        (
            None,
            "/api/v1/auth/token/",
            None,
            {"username": own.officer.username, "password": PASSWORD},
        ),
        (own.officer, f"{firm}/receipts/", "/api/v1/firms/{id}/receipts/", receipt_body()),
        (
            own.officer,
            f"{firm}/allocations/",
            "/api/v1/firms/{id}/allocations/",
            allocation_body(value_date="2025-11-04"),
        ),
        (
            own.officer,
            f"{firm}/conversions/",
            "/api/v1/firms/{id}/conversions/",
            {
                "reference": "CV",
                "value_date": "2025-11-04",
                "amount": "1.00",
                "currency": "USD",
                "rate": "280.1",
            },
        ),
        (
            own.officer,
            f"{firm}/transfers/",
            "/api/v1/firms/{id}/transfers/",
            {
                "reference": "TR",
                "value_date": "2025-11-04",
                "amount": "1.00",
                "from_account": own.esfca_usd.pk,
                "to_account": own.esfca_usd.pk,
            },
        ),
    ]


@pytest.mark.parametrize("index", range(10))
def test_hostile_field_values_never_5xx(world, index):
    user, url, template, valid = endpoints(world)[index]
    api = Api(user)

    @FUZZ
    @given(
        field=st.sampled_from(sorted(valid)),
        value=HOSTILE,
        unknown=st.one_of(st.none(), st.sampled_from(["colour", "\ud800", "x" * 300, "amount "])),
    )
    def run(field, value, unknown):
        payload = {**valid, field: value}
        if unknown is not None:
            payload[unknown] = value
        response = post_raw(api, url, payload)
        assert_contract_response(response)
        assert_matches_schema(response, template or url, "POST")

    run()


RAW_BODIES = [
    b"",
    b"{",
    b"[]",
    b"[1, 2, 3]",
    b'"just a string"',
    b"42",
    b"null",
    b"true",
    b'{"amount": NaN}',
    b'{"amount": Infinity}',
    b'{"amount": -Infinity}',
    b'{"amount": 1e400}',
    b'{"amount": 1' + b"0" * 5000 + b"}",
    b"[" * 100000 + b"]" * 100000,
    b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    b"\xff\xfe\x00\x00garbage",
    b'{"reference": "\xc3\x28"}',
    b'{"reference": "\\ud800"}',
    b'{"reference": "a\\u0000b"}',
    b"\x00\x00\x00",
]


@pytest.mark.parametrize("index", range(len(RAW_BODIES)))
def test_malformed_bodies_never_5xx(world, index):
    url = f"/api/v1/firms/{world.own.firm.pk}/receipts/"
    response = Api(world.own.officer).post(url, raw=RAW_BODIES[index])
    assert_contract_response(response)
    assert response.status_code == 400
    assert_matches_schema(response, "/api/v1/firms/{id}/receipts/", "POST")


def test_unknown_charset_is_a_400(world):
    url = f"/api/v1/firms/{world.own.firm.pk}/receipts/"
    response = Api(world.own.officer).post(
        url, raw=b"{}", content_type="application/json; charset=klingon"
    )
    assert_contract_response(response)
    assert response.status_code == 400


@settings(FUZZ, max_examples=10)
@given(
    path_id=st.integers(min_value=0, max_value=10**30),
    month=st.one_of(st.text(max_size=12), st.sampled_from(["2025-11", "2025-00", "\x00"])),
    page=st.one_of(st.text(max_size=8), st.integers(min_value=-5, max_value=10**20).map(str)),
)
def test_hostile_reads_never_5xx(world, path_id, month, page):
    api = Api(world.own.officer)
    for tail in ("", "receipts/"):
        response = api.client.get(f"/api/v1/firms/{path_id}/{tail}")
        assert_contract_response(response)
        assert_matches_schema(response, f"/api/v1/firms/{{id}}/{tail}", "GET")
    base = f"/api/v1/firms/{world.own.firm.pk}"
    for tail in ("receipts/", "allocations/", "conversions/", "transfers/"):
        response = api.client.get(f"{base}/{tail}", {"month": month, "page": page})
        assert_contract_response(response)
        assert_matches_schema(response, f"/api/v1/firms/{{id}}/{tail}", "GET")
    response = api.client.get(
        "/api/v1/fx-rates/", {"currency": month, "date": month, "source": page}
    )
    assert_contract_response(response)
    assert_matches_schema(response, "/api/v1/fx-rates/", "GET")


def test_every_post_endpoint_in_the_url_conf_survives_malformed_bodies(world):
    """Endpoints of other modules too (summaries, reviews), found by walking the URL conf."""
    posts = sorted(route for route, method in api_endpoints() if method == "POST")
    assert "firms/{}/receipts/" in posts
    callers = [world.admin, world.own.officer, world.own.reviewer]
    for route in posts:
        url = route_url(route, world, "own")
        for user in callers:
            for raw in (b"{", b"[1, 2]", b'{"x": NaN}', b"[" * 50000, b'"\\ud800"', b"\xff"):
                assert_contract_response(Api(user).post(url, raw=raw))
