"""Every endpoint × every role × own and foreign tenant, generated from the URL conf.

``api_endpoints()`` walks the resolver for everything under ``api/v1/`` and the views'
methods; ``EXPECTED`` must name each of them, so an endpoint added without deciding who
may call it fails ``test_every_endpoint_has_expectations``. Each case runs inside a
savepoint that is rolled back, so a write in one case never changes the next.
"""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from esfca.services import firm_account_open, receipt_record
from exporters.services import bank_create, user_create
from ledger.models import FxRate

from .conftest import PASSWORD, Api, World, error_of, iban_pk, make_world

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "admin", "finance_officer", "firm_viewer", "bank_reviewer")
TENANTS = ("own", "foreign")
MONTH = "2025-11"
MISSING_ID = 987654321


def _normalise(route: str) -> str:
    route = re.sub(r"<[^>]+>", "{}", route)  # path converters
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", route)  # named regex groups
    return route.replace("^", "").replace("$", "").replace("\\", "")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def api_endpoints() -> set[tuple[str, str]]:
    endpoints = set()
    for route, pattern in _walk(get_resolver().url_patterns):
        route = _normalise(route)
        if not route.startswith("api/v1/"):
            continue
        view = getattr(pattern.callback, "cls", None) or getattr(
            pattern.callback, "view_class", None
        )
        assert view is not None, f"{route}: not a class-based view"
        for method in view.http_method_names:
            if method in ("options", "head", "trace") or not hasattr(view, method):
                continue
            endpoints.add((route.removeprefix("api/v1/"), method.upper()))
    return endpoints


# --- expectations: (role, tenant) → acceptable statuses ------------------------------------


def everyone(status):
    return lambda role, tenant: {status}


def authenticated(ok):
    return lambda role, tenant: {401} if role == "anonymous" else {ok}


def admin_only(ok):
    def expect(role, tenant):
        return {401} if role == "anonymous" else {ok} if role == "admin" else {403}

    return expect


def firm_read(ok=200):
    def expect(role, tenant):
        if role == "anonymous":
            return {401}
        return {ok} if role == "admin" or tenant == "own" else {404}

    return expect


def firm_admin_write(ok):
    def expect(role, tenant):
        if role == "anonymous":
            return {401}
        if role == "admin":
            return {ok}
        return {403} if tenant == "own" else {404}

    return expect


def firm_officer_write(ok):
    """Only the firm's own finance officer moves money; the admin sees but may not."""

    def expect(role, tenant):
        if role == "anonymous":
            return {401}
        if role == "admin":
            return {403}
        if tenant == "foreign":
            return {404}
        return set(ok) if role == "finance_officer" else {403}

    return expect


def reviewers_list():
    def expect(role, tenant):
        if role == "anonymous":
            return {401}
        return {200} if role == "bank_reviewer" else {200, 403}

    return expect


def reviewers_decide():
    """Asked on a summary id that does not exist: nobody learns more than 404/403."""

    def expect(role, tenant):
        if role == "anonymous":
            return {401}
        return {404} if role == "bank_reviewer" else {403, 404}

    return expect


def bank_read():
    """A bank's portfolio: its reviewers and the platform admin; to anyone else it is 404."""

    def expect(role, tenant):
        if role == "anonymous":
            return {401}
        if role == "admin" or (role == "bank_reviewer" and tenant == "own"):
            return {200}
        return {404}

    return expect


def firm_of(world, tenant):
    return getattr(world, tenant).firm


EXPECTED = {
    ("schema/", "GET"): everyone(200),
    ("docs/", "GET"): everyone(200),
    ("auth/token/", "POST"): everyone(200),
    ("auth/token/", "DELETE"): authenticated(204),
    ("banks/", "GET"): authenticated(200),
    ("banks/", "POST"): admin_only(201),
    ("firms/", "GET"): authenticated(200),
    ("firms/", "POST"): admin_only(201),
    ("users/", "POST"): admin_only(201),
    ("fx-rates/", "GET"): authenticated(200),
    # Reference rates: platform admins only (rules.md §10); a held rate decided by one.
    ("fx-rates/", "POST"): admin_only(201),
    ("fx-rates/{}/approve/", "POST"): admin_only(200),
    ("fx-rates/{}/reject/", "POST"): admin_only(200),
    ("firms/{}/", "GET"): firm_read(),
    ("firms/{}/accounts/", "GET"): firm_read(),
    ("firms/{}/accounts/", "POST"): firm_admin_write(201),
    ("firms/{}/balances/", "GET"): firm_read(),
    ("firms/{}/receipts/", "GET"): firm_read(),
    ("firms/{}/receipts/", "POST"): firm_officer_write({201}),
    ("firms/{}/allocations/", "GET"): firm_read(),
    ("firms/{}/allocations/", "POST"): firm_officer_write({201}),
    ("firms/{}/conversions/", "GET"): firm_read(),
    ("firms/{}/conversions/", "POST"): firm_officer_write({201}),
    ("firms/{}/transfers/", "GET"): firm_read(),
    ("firms/{}/transfers/", "POST"): firm_officer_write({201}),
    # Monthly summaries and reviews (esfca/api/summary_urls.py), as the contract states them.
    # A movement's page, its reversal and its correction (rules.md §9).
    **{
        (f"firms/{{}}/{plural}/{{}}/{action}", method): expect
        for plural in ("receipts", "allocations", "conversions", "transfers")
        for action, method, expect in (
            ("", "GET", firm_read()),
            ("reverse/", "POST", firm_officer_write({201})),
            ("correct/", "POST", firm_officer_write({201})),
        )
    },
    ("firms/{}/summaries/{}/", "GET"): firm_read(),
    ("firms/{}/summaries/{}/file/", "POST"): firm_officer_write({200, 409}),
    ("firms/{}/summaries/{}/download/", "GET"): firm_read(),
    ("reviews/", "GET"): reviewers_list(),
    ("reviews/{}/decision/", "POST"): reviewers_decide(),
    ("banks/{}/portfolio/{}/", "GET"): bank_read(),
}
# Endpoints built in this package: they must be mounted (the summary ones may come later).
OWN_ENDPOINTS = {
    key for key in EXPECTED if not any(w in key[0] for w in ("summaries", "reviews", "portfolio"))
}


MOVEMENT_ROUTE = re.compile(r"firms/\{\}/(receipts|allocations|conversions|transfers)/\{\}/")


def route_url(route: str, world: World, tenant: str, extra: dict | None = None) -> str:
    """The route's URL for ``tenant``; a movement's route names the movement of that kind in
    ``extra`` (a movement id nobody has without it)."""
    values = []
    movement = MOVEMENT_ROUTE.match(route)
    if movement:
        values = [firm_of(world, tenant).pk, (extra or {}).get((tenant, movement[1]), MISSING_ID)]
    elif route.startswith("firms/{}"):
        values = [firm_of(world, tenant).pk, MONTH]
    elif route.startswith("fx-rates/{}"):
        values = [(extra or {}).get("held rate", MISSING_ID)]
    elif route.startswith("banks/{}"):
        values = [getattr(world, tenant).bank.code, MONTH]
    elif route.startswith("reviews/{}"):
        values = [MISSING_ID]
    for value in values:
        route = route.replace("{}", str(value), 1)
    url = f"/api/v1/{route}"
    if route.endswith("download/"):
        url += "?format=csv"
    return url


def _body(route: str, method: str, world: World, tenant: str, extra: dict):
    if method != "POST":
        return None
    movement = MOVEMENT_ROUTE.match(route)
    if movement:
        body = {"reference": "MATRIX-REV", "reason": "typed wrong"}
        if route.endswith("correct/"):
            corrected = _body(f"firms/{{}}/{movement[1]}/", "POST", world, tenant, extra)
            body[movement[1].removesuffix("s")] = {**corrected, "reference": "MATRIX-NEW"}
        return body
    t = getattr(world, tenant)
    bodies = {
        "auth/token/": {"username": world.own.officer.username, "password": PASSWORD},
        "banks/": {"code": "MEZZ", "name": "Matrix Bank"},
        "firms/": {"name": "Matrix Co", "ntn": "7777777", "kind": "freelancer"},
        "users/": {
            "username": "matrix-user",
            "password": "matrix-pass-1",
            "role": "firm_viewer",
            "firm": world.own.firm.pk,
        },
        "fx-rates/": {
            "currency": "EUR",
            "date": "2025-11-04",
            "buy": "301.1234",
            "sell": "302.5",
            "source": "MANUAL",
        },
        "fx-rates/{}/approve/": {},
        "fx-rates/{}/reject/": {},
        "firms/{}/accounts/": {
            "bank": "SCBL",
            "currency": "EUR",
            "iban": iban_pk("SCBL", 5000 + t.firm.pk),
        },
        "firms/{}/receipts/": {
            "reference": "MATRIX-R",
            "value_date": "2025-11-05",
            "amount": "1000.00",
            "currency": "USD",
            "conversion_rate": "280.0000",
            "client_name": "Client",
            "client_country": "US",
            # USD is held at two banks here (MEZN too): a receipt names its bank (§11).
            "bank": t.bank.code,
        },
        "firms/{}/allocations/": {
            "reference": "MATRIX-A",
            "value_date": "2025-11-06",
            "category": "software_subscriptions",
            "amount": "100.00",
            "currency": "USD",
            "payee_name": "Vendor",
            "payee_country": "US",
        },
        "firms/{}/conversions/": {
            "reference": "MATRIX-C",
            "value_date": "2025-11-06",
            "amount": "100.00",
            "currency": "USD",
            "rate": "280.0000",
        },
        "firms/{}/transfers/": {
            "reference": "MATRIX-T",
            "value_date": "2025-11-06",
            "amount": "100.00",
            "from_account": t.esfca_usd.pk,
            "to_account": extra[tenant].pk,
        },
        "firms/{}/summaries/{}/file/": {},
        "reviews/{}/decision/": {"decision": "accepted", "comment": "ok"},
    }
    return bodies[route]


@pytest.fixture
def matrix_world(db):
    world = make_world()
    third = bank_create(code="MEZN", name="Meezan Bank")  # no reviewer: changes no visibility
    held = FxRate.objects.create(
        currency="GBP", date=date(2025, 11, 4), source="OXR", buy=Decimal("370"),
        sell=Decimal("371"), status=FxRate.Status.HELD,
    )  # fmt: skip
    extra = {"held rate": held.pk}
    for n, tenant in enumerate(TENANTS):
        t = getattr(world, tenant)
        receipt_record(
            firm=t.firm,
            actor=t.officer,
            reference="MATRIX-FUND",
            value_date=date(2025, 11, 3),
            amount=Decimal("20000.00"),
            currency="USD",
            conversion_rate=Decimal("280.0000"),
            client_name="Funding client",
            client_country="US",
        )
        extra[tenant] = firm_account_open(
            firm=t.firm, bank=third, currency="USD", iban=iban_pk("MEZN", 900 + n)
        )
        # One movement of each kind to read, reverse and correct (funds left for each).
        for plural in ("receipts", "allocations", "conversions", "transfers"):
            response = Api(t.officer).call(
                "POST", f"/api/v1/firms/{t.firm.pk}/{plural}/",
                {**_body(f"firms/{{}}/{plural}/", "POST", world, tenant, extra),
                 "reference": f"MATRIX-{plural}"},
            )  # fmt: skip
            assert response.status_code == 201, response.content
            extra[(tenant, plural)] = response.json()["id"]
    return world, extra


def test_every_endpoint_has_expectations():
    mounted = api_endpoints()
    missing = sorted(mounted - EXPECTED.keys())
    assert not missing, f"endpoints without authorisation expectations: {missing}"
    unmounted = sorted(OWN_ENDPOINTS - mounted)
    assert not unmounted, f"expected endpoints that are not mounted: {unmounted}"


@pytest.mark.parametrize("route, method", sorted(EXPECTED), ids=lambda v: str(v))
def test_authorization_matrix(matrix_world, route, method):
    if (route, method) not in api_endpoints():
        # Only the summary/review endpoints may be absent (checked above); nothing to call.
        assert (route, method) not in OWN_ENDPOINTS
        return
    world, extra = matrix_world
    expect = EXPECTED[(route, method)]
    failures = []
    for role in ROLES:
        for tenant in TENANTS:
            user = None if role == "anonymous" else world.user(role, "own")
            with transaction.atomic():
                response = Api(user).call(
                    method,
                    route_url(route, world, tenant, extra),
                    _body(route, method, world, tenant, extra),
                )
                transaction.set_rollback(True)
            allowed = expect(role, tenant)
            if response.status_code not in allowed:
                failures.append(
                    (role, tenant, response.status_code, allowed, response.content[:300])
                )
            elif response.status_code >= 400 and response["Content-Type"].startswith(
                "application/json"
            ):
                error_of(response)
    assert not failures, failures


# --- §11: a reviewer of another bank of the same firm sees its bank's slice only ------------


def _firm_reads() -> list[str]:
    return sorted(
        route
        for route, method in api_endpoints()
        if method == "GET" and route.startswith("firms/{}/") and route.count("{}") == 1
    )


def test_a_reviewer_of_the_firm_other_bank_sees_nothing_at_the_first(db):
    """The own firm also banks at MEZN (PKR and USD, one receipt there). MEZN's reviewer
    reads every firm endpoint (JSON, the CSV download): the firm's SCBL accounts, their
    movements and figures appear nowhere; MEZN's do."""
    world = make_world()
    t = world.own
    meezan = bank_create(code="MEZN", name="Meezan Bank")
    firm_account_open(firm=t.firm, bank=meezan, currency="PKR", iban=iban_pk("MEZN", 301))
    mezn_usd = firm_account_open(
        firm=t.firm, bank=meezan, currency="USD", iban=iban_pk("MEZN", 302)
    )
    receipts = {}
    for reference, bank, amount in (("AT-SCBL", "SCBL", "20000.00"), ("AT-MEZN", "MEZN", "777.00")):
        receipts[bank], _ = receipt_record(
            firm=t.firm, actor=t.officer, reference=reference, value_date=date(2025, 11, 3),
            amount=Decimal(amount), currency="USD", conversion_rate=Decimal("280.0000"),
            client_name="Client", client_country="US", bank=bank,
        )  # fmt: skip
    reviewer = user_create(
        username="mezn-reviewer", password=PASSWORD, role="bank_reviewer", bank=meezan
    )
    hidden = ("AT-SCBL", "20000.00", t.esfca_usd.iban, t.pkr.iban)
    seen_meezan = False
    for route in _firm_reads():
        response = Api(reviewer).call("GET", route_url(route, world, "own"), None)
        assert response.status_code == 200, (route, response.content[:300])
        body = response.content.decode()
        for text in hidden:
            assert text not in body, (route, text)
        seen_meezan |= "AT-MEZN" in body or mezn_usd.iban in body
    assert seen_meezan
    # A movement's own page: MEZN's receipt is there, SCBL's is not found.
    detail = f"/api/v1/firms/{t.firm.pk}/receipts/{{}}/"
    assert Api(reviewer).call("GET", detail.format(receipts["MEZN"].pk), None).status_code == 200
    assert Api(reviewer).call("GET", detail.format(receipts["SCBL"].pk), None).status_code == 404
    # The firm's own officer sees both banks on the same endpoints.
    balances = Api(t.officer).call("GET", f"/api/v1/firms/{t.firm.pk}/balances/", None)
    assert {a["bank"] for a in balances.json()["accounts"]} == {"SCBL", "MEZN"}
