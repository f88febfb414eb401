"""Every endpoint of api-contract.md and every error code, with the rules.md figures."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from esfca.models import Allocation, Receipt
from exporters.models import Bank, Firm, Membership, User
from ledger.fx.services import How, RateWriter, fx_rate_store
from ledger.models import Account, Entry, FxRate

from .conftest import (
    PASSWORD,
    Api,
    allocation_body,
    balance,
    error_of,
    iban_pk,
    make_tenant,
    receipt_body,
)
from .openapi import assert_matches_schema

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def firm_url(world, tail: str = "", tenant: str = "own") -> str:
    return f"{V1}/firms/{getattr(world, tenant).firm.pk}/{tail}"


def usd_rate(day: str, buy: str = "280.6469", sell: str = "281.0788") -> FxRate:
    return fx_rate_store(
        currency="USD",
        on=date.fromisoformat(day),
        buy=Decimal(buy),
        sell=Decimal(sell),
        source="SBP-WACR",
        by=RateWriter(How.COMMAND, label="tests"),
    ).rate


def ledger_snapshot():
    return Entry.objects.count(), dict(Account.objects.values_list("pk", "balance"))


# --- schema, docs, auth ---------------------------------------------------------------------


def test_schema_is_openapi_json_and_describes_every_contract_endpoint(client):
    response = client.get(f"{V1}/schema/?format=json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/auth/token/", "post"),
        ("/api/v1/banks/", "post"),
        ("/api/v1/firms/", "post"),
        ("/api/v1/firms/", "get"),
        ("/api/v1/firms/{id}/", "get"),
        ("/api/v1/firms/{id}/accounts/", "post"),
        ("/api/v1/users/", "post"),
        ("/api/v1/fx-rates/", "post"),
        ("/api/v1/fx-rates/", "get"),
        ("/api/v1/firms/{id}/receipts/", "post"),
        ("/api/v1/firms/{id}/receipts/", "get"),
        ("/api/v1/firms/{id}/allocations/", "post"),
        ("/api/v1/firms/{id}/allocations/", "get"),
        ("/api/v1/firms/{id}/balances/", "get"),
    ]:
        assert method in paths[path], (path, method)
    receipt = doc["components"]["schemas"]["ReceiptOut"]["properties"]
    assert receipt["amount"]["type"] == "string"
    assert receipt["conversion_rate"]["type"] == "string"


def test_interactive_docs_page_uses_packaged_assets_not_a_cdn(client):
    response = client.get(f"{V1}/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn." not in page and "unpkg" not in page


def test_token_for_good_credentials_then_token_auth_works(world):
    response = Api().post(
        f"{V1}/auth/token/", {"username": "scbl-finance_officer", "password": PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert set(response.json()) == {"token", "expires"}
    api = Api()
    api.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(f"{V1}/firms/").status_code == 200


def test_token_refused_for_wrong_credentials(world):
    response = Api().post(
        f"{V1}/auth/token/", {"username": "scbl-finance_officer", "password": "nope"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_unauthenticated_call_is_401_with_www_authenticate(world):
    response = Api().get(f"{V1}/firms/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_401(world):
    api = Api()
    api.client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = api.get(f"{V1}/firms/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header", ["Token abc\x00def", "Token " + "a" * 5000, "Token  ", "Token a b", "Bearer x"]
)
def test_malformed_authorization_headers_are_401(world, header):
    api = Api()
    api.client.credentials(HTTP_AUTHORIZATION=header)
    response = api.get(f"{V1}/firms/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_browser_session_works_and_needs_csrf_for_writes(world):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.own.officer)
    assert browser.get(firm_url(world, "balances/")).status_code == 200
    response = browser.post(
        firm_url(world, "receipts/"), data=receipt_body(), content_type="application/json"
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


# --- onboarding -----------------------------------------------------------------------------


def test_onboarding_a_bank_firm_account_and_users(world):
    admin = world.api("admin")
    response = admin.post(f"{V1}/banks/", {"code": "MEZN", "name": "Meezan Bank"})
    assert response.status_code == 201
    assert response.json() == {"code": "MEZN", "name": "Meezan Bank"}

    response = admin.post(
        f"{V1}/firms/",
        {
            "name": "Indus Code",
            "ntn": "7654321-0",
            "kind": "it_company",
            "registration_body": "PASHA",
            "registration_number": "P@SHA-001",
            "active_taxpayer": True,
        },
    )
    assert response.status_code == 201
    firm = response.json()
    assert isinstance(firm["id"], int)
    assert firm["name"] == "Indus Code" and firm["kind"] == "it_company"
    assert firm["registration_body"] == "PASHA" and firm["active_taxpayer"] is True

    response = admin.post(
        f"{V1}/firms/{firm['id']}/accounts/",
        {"bank": "MEZN", "currency": "USD", "iban": iban_pk("MEZN", 42)},
    )
    assert response.status_code == 201
    account = response.json()
    assert {k: account[k] for k in ("bank", "currency", "iban", "balance")} == {
        "bank": "MEZN",
        "currency": "USD",
        "iban": iban_pk("MEZN", 42),
        "balance": "0.00",
    }
    assert isinstance(account["id"], int)
    assert Account.objects.get(pk=account["id"]).kind == Account.Kind.ESFCA
    response = admin.post(
        f"{V1}/firms/{firm['id']}/accounts/",
        {"bank": "MEZN", "currency": "PKR", "iban": iban_pk("MEZN", 43)},
    )
    assert response.status_code == 201
    assert Account.objects.get(pk=response.json()["id"]).kind == Account.Kind.PKR_BANK

    response = admin.post(
        f"{V1}/users/",
        {
            "username": "indus-officer",
            "password": "s3cret-pass",
            "email": "fo@indus.example",
            "role": "finance_officer",
            "firm": firm["id"],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "indus-officer" and body["role"] == "finance_officer"
    assert isinstance(body["id"], int)
    response = admin.post(
        f"{V1}/users/",
        {
            "username": "mezn-rev",
            "password": "s3cret-pass",
            "role": "bank_reviewer",
            "bank": "MEZN",
        },
    )
    assert response.status_code == 201
    assert response.json()["role"] == "bank_reviewer"
    reviewer = User.objects.get(username="mezn-rev")
    assert Membership.objects.get(user=reviewer).bank.code == "MEZN"

    # The new officer logs in and sees exactly its firm.
    token = (
        Api()
        .post(f"{V1}/auth/token/", {"username": "indus-officer", "password": "s3cret-pass"})
        .json()["token"]
    )
    api = Api()
    api.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listing = api.get(f"{V1}/firms/").json()
    assert [f["id"] for f in listing["results"]] == [firm["id"]]
    # The reviewer sees it through the firm's account at MEZN.
    listing = Api(reviewer).get(f"{V1}/firms/").json()
    assert [f["id"] for f in listing["results"]] == [firm["id"]]


def test_duplicate_bank_and_account_and_username_are_409(world):
    admin = world.api("admin")
    response = admin.post(f"{V1}/banks/", {"code": "SCBL", "name": "Again"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_reference"
    response = admin.post(
        firm_url(world, "accounts/"),
        {"bank": "SCBL", "currency": "USD", "iban": iban_pk("SCBL", 999)},
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_reference"
    response = admin.post(
        f"{V1}/users/",
        {
            "username": "scbl-firm_viewer",
            "password": "x-y-z-123",
            "role": "firm_viewer",
            "firm": world.own.firm.pk,
        },
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_reference"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"bank": "ZZZZ", "currency": "USD", "iban": iban_pk("ZZZZ", 1)}, "bank"),
        ({"bank": "SCBL", "currency": "XXX", "iban": iban_pk("SCBL", 7)}, "currency"),
        ({"bank": "SCBL", "currency": "EUR", "iban": "PK00SCBL0000000000000001"}, "iban"),
        ({"bank": "SCBL", "currency": "EUR", "iban": iban_pk("HABB", 7)}, "iban"),
        ({"bank": "SCBL", "currency": "EUR"}, "iban"),
    ],
)
def test_account_refusals_are_validation_errors(world, body, field):
    before = Account.objects.count()
    response = world.api("admin").post(firm_url(world, "accounts/"), body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert Account.objects.count() == before


def test_firm_validation_errors(world):
    admin = world.api("admin")
    response = admin.post(
        f"{V1}/firms/",
        {"name": "X", "ntn": "12", "kind": "it_company", "registration_body": "SELF_DECLARATION"},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "ntn" in error["details"]
    response = admin.post(f"{V1}/firms/", {"name": "X", "ntn": "1234567", "kind": "bakery"})
    assert error_of(response)["details"]["kind"]
    assert Firm.objects.count() == 2


def test_user_needs_its_scope(world):
    admin = world.api("admin")
    response = admin.post(
        f"{V1}/users/", {"username": "nobody", "password": "pw-123456", "role": "finance_officer"}
    )
    assert response.status_code == 400
    assert "firm" in error_of(response)["details"]
    response = admin.post(
        f"{V1}/users/",
        {"username": "nobody", "password": "pw-123456", "role": "firm_viewer", "firm": 999999},
    )
    assert "firm" in error_of(response)["details"]
    response = admin.post(
        f"{V1}/users/",
        {"username": "nobody", "password": "pw-123456", "role": "bank_reviewer", "bank": "NONE"},
    )
    assert "bank" in error_of(response)["details"]
    assert not User.objects.filter(username="nobody").exists()


def test_firm_list_and_detail_are_tenant_scoped(world):
    officer = world.api(world.own.officer)
    listing = officer.get(f"{V1}/firms/").json()
    assert listing["count"] == 1 and listing["next"] is None and listing["previous"] is None
    assert listing["results"][0]["id"] == world.own.firm.pk
    assert officer.get(firm_url(world)).json()["ntn"] == world.own.firm.ntn
    response = officer.get(firm_url(world, tenant="foreign"))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert world.api("admin").get(f"{V1}/firms/").json()["count"] == 2


def test_only_the_platform_admin_onboards(world):
    for who in (world.own.officer, world.own.viewer, world.own.reviewer):
        api = Api(who)
        for url, body in [
            (f"{V1}/banks/", {"code": "MEZN", "name": "Meezan"}),
            (f"{V1}/firms/", {"name": "X", "ntn": "1234567", "kind": "it_company"}),
            (f"{V1}/users/", {"username": "u", "password": "p", "role": "firm_viewer"}),
            (firm_url(world, "accounts/"), {"bank": "SCBL", "currency": "EUR"}),
        ]:
            response = api.post(url, body)
            assert response.status_code == 403, (who, url)
            assert error_of(response)["code"] == "permission_denied"
    assert not Bank.objects.filter(code="MEZN").exists()


# --- rates ----------------------------------------------------------------------------------


def test_fx_rate_posted_listed_and_duplicate_refused(world):
    body = {
        "currency": "USD",
        "date": "2025-11-04",
        "buy": "280.6469",
        "sell": "281.0788",
        "source": "SBP-WACR",
    }
    response = world.api("admin").post(f"{V1}/fx-rates/", body)
    assert response.status_code == 201
    created = response.json()
    assert {k: created[k] for k in body} == body
    assert created["status"] == "active"

    response = world.api("admin").post(f"{V1}/fx-rates/", body)
    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_reference"
    assert FxRate.objects.count() == 1

    # Another source the same day is a different rate.
    response = world.api("admin").post(
        f"{V1}/fx-rates/", {**body, "source": "MANUAL", "buy": "280.5", "sell": "281"}
    )
    assert response.status_code == 201
    assert response.json()["buy"] == "280.5000" and response.json()["sell"] == "281.0000"

    listing = world.api(world.own.viewer).get(f"{V1}/fx-rates/?currency=USD&date=2025-11-04")
    assert listing.status_code == 200
    page = listing.json()
    assert page["count"] == 2
    assert {r["source"] for r in page["results"]} == {"SBP-WACR", "MANUAL"}
    assert world.api("admin").get(f"{V1}/fx-rates/?currency=EUR").json()["count"] == 0
    response = world.api("admin").get(f"{V1}/fx-rates/?date=2025-13-01")
    assert response.status_code == 400
    assert "date" in error_of(response)["details"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"buy": "0"}, "buy"),
        ({"buy": "-1.5"}, "buy"),
        ({"sell": "281.07881234"}, "sell"),
        ({"buy": "1000000"}, "buy"),  # MAX_RATE, though the column would hold it
        ({"source": "BLOOMBERG"}, "source"),
        ({"currency": "PKR"}, "currency"),
        ({"date": "04/11/2025"}, "date"),
    ],
)
def test_fx_rate_validation(world, changes, field):
    body = {
        "currency": "USD",
        "date": "2025-11-04",
        "buy": "280.6469",
        "sell": "281.0788",
        "source": "SBP-WACR",
        **changes,
    }
    response = world.api("admin").post(f"{V1}/fx-rates/", body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and field in error["details"]
    assert FxRate.objects.count() == 0


def test_only_the_platform_admin_posts_rates(world):
    """rules.md §10: a bank reviewer posts no rates (contract 1.1), nor does a firm's user."""
    body = {
        "currency": "USD",
        "date": "2025-11-04",
        "buy": "280.6469",
        "sell": "281.0788",
        "source": "SBP-WACR",
    }
    for who in (world.own.officer, world.own.viewer, world.own.reviewer, world.foreign.reviewer):
        response = Api(who).post(f"{V1}/fx-rates/", body)
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert FxRate.objects.count() == 0


# --- receipts -------------------------------------------------------------------------------


def test_contract_receipt_example(world):
    officer = world.api(world.own.officer)
    response = officer.post(firm_url(world, "receipts/"), receipt_body())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert isinstance(body["id"], int)
    expected = {
        "reference": "HBL-FT-2025-000123",
        "value_date": "2025-11-04",
        "amount": "20000.00",
        "currency": "USD",
        "retained": "10000.00",
        "converted": "10000.00",
        "allowed_retention": "10000.00",
        "conversion_rate": "280.7000",
        "tax_rate": "0.0025",
        "tax_withheld": "14035.00",
        "pkr_credited": "2792965.00",
    }
    assert {k: body[k] for k in expected} == expected
    assert body["rule"]["effective_from"] == "2023-10-23"
    assert body["rule"]["ratio"] == "0.50"
    assert body["client_name"] == "Gulf Retail LLC" and body["purpose_code"] == "9184"
    assert balance(world.own.esfca_usd) == Decimal("10000.00")
    assert balance(world.own.pkr) == Decimal("2792965.00")

    balances = officer.get(firm_url(world, "balances/"))
    assert balances.status_code == 200
    assert balances.json() == {
        "accounts": [
            {
                "id": world.own.esfca_usd.pk,
                "bank": "SCBL",
                "currency": "USD",
                "iban": world.own.esfca_usd.iban,
                "balance": "10000.00",
                "kind": "esfca",
            },
            {
                "id": world.own.pkr.pk,
                "bank": "SCBL",
                "currency": "PKR",
                "iban": world.own.pkr.iban,
                "balance": "2792965.00",
                "kind": "pkr_bank",
            },
        ]
    }


def test_receipt_conversion_day_defaults_to_the_value_date(world):
    officer = world.api(world.own.officer)
    plain = officer.post(firm_url(world, "receipts/"), receipt_body())
    assert plain.json()["converted_on"] == "2025-11-04"
    later = officer.post(
        firm_url(world, "receipts/"), receipt_body(reference="R-LATE", converted_on="2025-11-07")
    )
    assert later.status_code == 201 and later.json()["converted_on"] == "2025-11-07"
    before = ledger_snapshot()
    early = officer.post(
        firm_url(world, "receipts/"), receipt_body(reference="R-EARLY", converted_on="2025-11-03")
    )
    assert early.status_code == 400
    assert "converted_on" in error_of(early)["details"]
    assert ledger_snapshot() == before


def test_receipt_replay_is_200_and_posts_nothing_twice(world):
    officer = world.api(world.own.officer)
    first = officer.post(firm_url(world, "receipts/"), receipt_body())
    assert first.status_code == 201
    before = ledger_snapshot()
    # Same request, numbers written differently: still the same request.
    again = officer.post(
        firm_url(world, "receipts/"), receipt_body(amount="20000", conversion_rate="280.7")
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert ledger_snapshot() == before
    assert Receipt.objects.count() == 1


def test_receipt_same_reference_other_fields_is_409(world):
    officer = world.api(world.own.officer)
    assert officer.post(firm_url(world, "receipts/"), receipt_body()).status_code == 201
    before = ledger_snapshot()
    response = officer.post(firm_url(world, "receipts/"), receipt_body(amount="20000.01"))
    assert response.status_code == 409
    assert error_of(response)["code"] == "duplicate_reference"
    assert ledger_snapshot() == before


def test_rules_worked_example_monthly_floor_then_fifty_percent(world):
    """rules.md §2: 4,000 first (3,990 after the PSEB tax cap), then 20,000 → 8,010."""
    officer = world.api(world.own.officer)
    first = officer.post(
        firm_url(world, "receipts/"),
        receipt_body(reference="R-1", value_date="2025-11-03", amount="4000.00"),
    ).json()
    assert first["allowed_retention"] == "3990.00" and first["retained"] == "3990.00"
    second = officer.post(
        firm_url(world, "receipts/"),
        receipt_body(reference="R-2", value_date="2025-11-10", amount="20000.00"),
    ).json()
    assert second["allowed_retention"] == "8010.00" and second["retained"] == "8010.00"
    assert second["converted"] == "11990.00"
    assert balance(world.own.esfca_usd) == Decimal("12000.00")
    listing = officer.get(firm_url(world, "receipts/?month=2025-11")).json()
    assert [r["reference"] for r in listing["results"]] == ["R-1", "R-2"]
    assert listing["count"] == 2
    assert officer.get(firm_url(world, "receipts/?month=2025-10")).json()["count"] == 0


def test_rules_worked_example_per_receipt_rule_of_2023(world):
    """rules.md §2: 10,000.00 dated 2023-06-01 under the 35% per-receipt rule → 3,500.00."""
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"),
        receipt_body(reference="OLD-1", value_date="2023-06-01", amount="10000.00"),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["allowed_retention"] == "3500.00" and body["retained"] == "3500.00"
    assert body["rule"] == {
        "effective_from": "2021-02-19",
        "ratio": "0.35",
        "monthly_floor_usd": "0.00",
        "basis": "per_receipt",
    }


def test_rules_worked_example_self_declared_freelancer(db):
    """rules.md §3: a freelancer's first USD 3,000.00, self-declared (1%) → retains 2,970.00."""
    tenant = make_tenant("MEZN", "Solo", 3, kind="freelancer", body="SELF_DECLARATION")
    response = Api(tenant.officer).post(
        f"{V1}/firms/{tenant.firm.pk}/receipts/",
        receipt_body(amount="3000.00", conversion_rate="280.0000"),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["retained"] == "2970.00" and body["converted"] == "30.00"
    assert body["tax_rate"] == "0.0100"
    # tax = 3000 × 280 × 1% = 8,400.00; pkr = 30 × 280 − 8,400 = 0.00
    assert body["tax_withheld"] == "8400.00" and body["pkr_credited"] == "0.00"


def test_receipt_without_rate_uses_the_days_buying_rate(world):
    usd_rate("2025-11-04")
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"), receipt_body(conversion_rate=...)
    )
    assert response.status_code == 201
    body = response.json()
    assert body["conversion_rate"] == "280.6469"
    assert body["rate_source"] == "table"
    # 20,000 × 280.6469 × 0.0025 = 14,032.345 → 14,032.35; 10,000 × 280.6469 = 2,806,469.00
    assert body["tax_withheld"] == "14032.35"
    assert body["pkr_credited"] == "2792436.65"


def test_receipt_asked_retention_and_limit_exceeded(world):
    officer = world.api(world.own.officer)
    before = ledger_snapshot()
    response = officer.post(firm_url(world, "receipts/"), receipt_body(retain="10000.01"))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "retention_limit_exceeded"
    assert error["details"]["allowed_retention"] == "10000.00"
    assert ledger_snapshot() == before
    response = officer.post(firm_url(world, "receipts/"), receipt_body(retain="2500.50"))
    assert response.status_code == 201
    assert response.json()["retained"] == "2500.50"
    assert response.json()["retain"] == "2500.50"


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"value_date": "2025-11-05", "conversion_rate": ...}, "fx_rate_missing"),
        ({"currency": "EUR"}, "no_account"),
        ({"value_date": "2019-01-02"}, "no_rule_in_force"),
        ({"amount": "0.00"}, "validation_error"),
        ({"amount": "-5.00"}, "validation_error"),
        ({"currency": "XYZ"}, "validation_error"),
        ({"client_country": "XX"}, "validation_error"),
        ({"purpose_code": "0000"}, "validation_error"),
        ({"amount": "12.345"}, "validation_error"),
        ({"retain": "all"}, "validation_error"),
    ],
)
def test_receipt_refusals(world, changes, code):
    before = ledger_snapshot()
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"), receipt_body(**changes)
    )
    assert response.status_code == 400, response.json()
    assert error_of(response)["code"] == code
    assert ledger_snapshot() == before
    assert Receipt.objects.count() == 0


def test_receipt_value_date_in_the_future_is_refused(world):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"), receipt_body(value_date=tomorrow)
    )
    assert response.status_code == 400
    assert "value_date" in error_of(response)["details"]


def test_receipt_without_pkr_account_is_no_account(db):
    tenant = make_tenant("MEZN", "Halfway", 4)
    Account.objects.filter(pk=tenant.pkr.pk).update(kind=Account.Kind.FX_TRADING)
    response = Api(tenant.officer).post(f"{V1}/firms/{tenant.firm.pk}/receipts/", receipt_body())
    assert response.status_code == 400
    assert error_of(response)["code"] == "no_account"


def test_receipt_list_bad_month_is_400(world):
    for month in ("2025-13", "2025-1", "november", "2025-11-01", "0000-01"):
        response = world.api(world.own.viewer).get(firm_url(world, f"receipts/?month={month}"))
        assert response.status_code == 400, month
        assert "month" in error_of(response)["details"]


def test_receipt_list_is_paginated(world):
    officer = world.api(world.own.officer)
    for n in range(3):
        officer.post(
            firm_url(world, "receipts/"), receipt_body(reference=f"P-{n}", amount="100.00")
        )
    page = officer.get(firm_url(world, "receipts/")).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 3
    response = officer.get(firm_url(world, "receipts/?page=9"))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_money_movements_are_for_the_firms_finance_officer_only(world):
    for who in (world.admin, world.own.viewer, world.own.reviewer):
        for tail, body in (("receipts/", receipt_body()), ("allocations/", allocation_body())):
            response = Api(who).post(firm_url(world, tail), body)
            assert response.status_code == 403, (who, tail)
            assert error_of(response)["code"] == "permission_denied"
    for tail, body in (("receipts/", receipt_body()), ("allocations/", allocation_body())):
        response = Api(world.own.officer).post(firm_url(world, tail, tenant="foreign"), body)
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert Receipt.objects.count() == 0 and Allocation.objects.count() == 0


# --- allocations ----------------------------------------------------------------------------


def funded(world, amount="20000.00"):
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"), receipt_body(reference="FUND", amount=amount)
    )
    assert response.status_code == 201
    return Decimal(response.json()["retained"])


def test_contract_allocation_example(world):
    assert funded(world) == Decimal("10000.00")
    officer = world.api(world.own.officer)
    response = officer.post(firm_url(world, "allocations/"), allocation_body())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["balance_after"] == "7500.00"
    assert body["amount"] == "2500.00" and body["category"] == "cloud_infrastructure"
    assert body["investee_name"] is None and body["sbp_approval_reference"] is None
    assert balance(world.own.esfca_usd) == Decimal("7500.00")

    before = ledger_snapshot()
    replay = officer.post(firm_url(world, "allocations/"), allocation_body())
    assert replay.status_code == 200 and replay.json() == body
    assert ledger_snapshot() == before
    conflict = officer.post(firm_url(world, "allocations/"), allocation_body(amount="2500.01"))
    assert conflict.status_code == 409
    assert error_of(conflict)["code"] == "duplicate_reference"

    listing = officer.get(firm_url(world, "allocations/?month=2025-11")).json()
    assert listing["count"] == 1 and listing["results"][0]["balance_after"] == "7500.00"
    assert officer.get(firm_url(world, "allocations/?month=2025-12")).json()["count"] == 0


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"amount": "10000.01"}, "insufficient_funds"),
        ({"category": "yacht_purchase"}, "category_not_permitted"),
        ({"payee_country": "PK"}, "category_not_permitted"),
        ({"currency": "EUR"}, "no_account"),
        ({"amount": "abc"}, "validation_error"),
        ({"payee_country": None}, "validation_error"),
        (
            {"category": "overseas_equity", "investee_name": "Sub Ltd", "investee_country": "IN"},
            "equity_not_permitted",
        ),
    ],
)
def test_allocation_refusals(world, changes, code):
    funded(world)
    before = ledger_snapshot()
    response = world.api(world.own.officer).post(
        firm_url(world, "allocations/"), allocation_body(**changes)
    )
    assert response.status_code == 400, response.json()
    assert error_of(response)["code"] == code
    assert ledger_snapshot() == before


def test_allocation_equity_cap_exceeded(world):
    """§4: before 2024-07-11 the cap is max(10% × 3-year average, USD 100,000)."""
    officer = world.api(world.own.officer)
    for n, day in enumerate(("2023-11-01", "2023-11-02", "2023-11-03", "2023-11-06")):
        assert (
            officer.post(
                firm_url(world, "receipts/"),
                receipt_body(reference=f"E-{n}", value_date=day, amount="60000.00"),
            ).status_code
            == 201
        )
    response = officer.post(
        firm_url(world, "allocations/"),
        allocation_body(
            value_date="2023-11-20",
            category="overseas_equity",
            amount="100000.01",
            investee_name="Sub GmbH",
            investee_country="DE",
        ),
    )
    assert response.status_code == 400, response.json()
    assert error_of(response)["code"] == "equity_cap_exceeded"


# --- extensions: conversions, transfers, accounts listing ------------------------------------


def test_conversion_and_transfer_extensions(world):
    funded(world)
    admin = world.api("admin")
    second = admin.post(
        firm_url(world, "accounts/"),
        {"bank": "HABB", "currency": "USD", "iban": iban_pk("HABB", 77)},
    ).json()
    officer = world.api(world.own.officer)
    response = officer.post(
        firm_url(world, "conversions/"),
        {
            "reference": "CV-1",
            "value_date": "2025-11-21",
            "amount": "1000.00",
            "currency": "USD",
            "rate": "281.25",
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["pkr_amount"] == "281250.00"
    assert response.json()["rate"] == "281.2500"
    response = officer.post(
        firm_url(world, "transfers/"),
        {
            "reference": "TR-1",
            "value_date": "2025-11-21",
            "amount": "500.00",
            "from_account": world.own.esfca_usd.pk,
            "to_account": second["id"],
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["to_amount"] == "500.00"
    assert balance(world.own.esfca_usd) == Decimal("8500.00")
    accounts = officer.get(firm_url(world, "accounts/")).json()
    assert accounts["count"] == 3
    assert officer.get(firm_url(world, "conversions/?month=2025-11")).json()["count"] == 1
    assert officer.get(firm_url(world, "transfers/")).json()["count"] == 1
    response = officer.post(
        firm_url(world, "transfers/"),
        {
            "reference": "TR-2",
            "value_date": "2025-11-21",
            "amount": "5.00",
            "from_account": world.foreign.esfca_usd.pk,
            "to_account": second["id"],
        },
    )
    assert response.status_code == 400
    assert "from_account" in error_of(response)["details"]
    assert "currency" not in error_of(response)["details"]  # not a field of a transfer


# --- error format ---------------------------------------------------------------------------


def test_unknown_fields_are_listed(world):
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"), receipt_body(colour="blue", retain_all=True)
    )
    assert response.status_code == 400
    details = error_of(response)["details"]
    assert details == {"colour": ["Unknown field."], "retain_all": ["Unknown field."]}


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nowhere/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_method_not_allowed_and_unsupported_media_type(world):
    api = world.api(world.own.officer)
    response = api.client.delete(firm_url(world, "receipts/"))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    response = api.post(firm_url(world, "receipts/"), raw="reference=x", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_money_in_json_numbers_is_read_exactly(world):
    response = world.api(world.own.officer).post(
        firm_url(world, "receipts/"),
        raw='{"reference": "NUM-1", "value_date": "2025-11-04", "amount": 20000.10,'
        ' "currency": "USD", "conversion_rate": 280.7, "client_name": "A", "client_country": "AE"}',
    )
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "20000.10"
    assert Receipt.objects.get().amount.amount == Decimal("20000.10")


RECEIPTS = "/api/v1/firms/{id}/receipts/"


def test_responses_match_the_openapi_document(world):
    """The served document describes what the endpoints really answer (2xx and errors)."""
    usd_rate("2025-11-04")
    admin, officer = world.api("admin"), world.api(world.own.officer)
    firm = world.own.firm.pk
    checks = [
        (admin.post(f"{V1}/banks/", {"code": "MEZN", "name": "Meezan"}), "/api/v1/banks/", "POST"),
        (admin.get(f"{V1}/banks/"), "/api/v1/banks/", "GET"),
        (admin.get(f"{V1}/firms/"), "/api/v1/firms/", "GET"),
        (officer.get(f"{V1}/firms/{firm}/"), "/api/v1/firms/{id}/", "GET"),
        (
            admin.post(
                f"{V1}/firms/{firm}/accounts/",
                {"bank": "MEZN", "currency": "EUR", "iban": iban_pk("MEZN", 5)},
            ),
            "/api/v1/firms/{id}/accounts/",
            "POST",
        ),
        (
            admin.post(
                f"{V1}/users/",
                {
                    "username": "x-rev",
                    "password": "pw-123456",
                    "role": "bank_reviewer",
                    "bank": "MEZN",
                },
            ),
            "/api/v1/users/",
            "POST",
        ),
        (
            officer.post(f"{V1}/firms/{firm}/receipts/", receipt_body()),
            "/api/v1/firms/{id}/receipts/",
            "POST",
        ),
        (
            officer.post(f"{V1}/firms/{firm}/receipts/", receipt_body()),
            "/api/v1/firms/{id}/receipts/",
            "POST",
        ),
        (
            officer.post(f"{V1}/firms/{firm}/receipts/", receipt_body(amount="1.00")),
            "/api/v1/firms/{id}/receipts/",
            "POST",
        ),
        (officer.get(f"{V1}/firms/{firm}/receipts/"), "/api/v1/firms/{id}/receipts/", "GET"),
        (
            officer.post(f"{V1}/firms/{firm}/allocations/", allocation_body()),
            "/api/v1/firms/{id}/allocations/",
            "POST",
        ),
        (officer.get(f"{V1}/firms/{firm}/allocations/"), "/api/v1/firms/{id}/allocations/", "GET"),
        (officer.get(f"{V1}/firms/{firm}/balances/"), "/api/v1/firms/{id}/balances/", "GET"),
        (officer.get(f"{V1}/firms/{firm}/accounts/"), "/api/v1/firms/{id}/accounts/", "GET"),
        (officer.get(f"{V1}/fx-rates/?currency=USD"), "/api/v1/fx-rates/", "GET"),
        (
            Api().post(f"{V1}/auth/token/", {"username": "x", "password": "y"}),
            "/api/v1/auth/token/",
            "POST",
        ),
        (Api().get(f"{V1}/firms/"), "/api/v1/firms/", "GET"),
    ]
    statuses = [response.status_code for response, _, _ in checks]
    assert " ".join(str(code) for code in statuses) == (
        "201 200 200 200 201 201 201 200 409 200 201 200 200 200 200 400 401"
    )
    for response, path, method in checks:
        assert_matches_schema(response, path, method)


def test_bank_picks_the_esfca_when_the_firm_has_several(world):
    admin, officer = world.api("admin"), world.api(world.own.officer)
    admin.post(f"{V1}/banks/", {"code": "MEZN", "name": "Meezan"})
    second = admin.post(
        firm_url(world, "accounts/"),
        {"bank": "MEZN", "currency": "USD", "iban": iban_pk("MEZN", 8)},
    ).json()
    # The receipt's PKR side goes to the PKR account at the same bank (rules.md §11).
    response = officer.post(firm_url(world, "receipts/"), receipt_body(bank="MEZN"))
    assert error_of(response)["code"] == "no_account"
    admin.post(
        firm_url(world, "accounts/"),
        {"bank": "MEZN", "currency": "PKR", "iban": iban_pk("MEZN", 9)},
    )
    response = officer.post(firm_url(world, "receipts/"), receipt_body(bank="MEZN"))
    assert response.status_code == 201, response.json()
    assert response.json()["bank"] == "MEZN" and response.json()["esfca"] == second["id"]
    assert balance(world.own.esfca_usd) == Decimal("0.00")
    response = officer.post(firm_url(world, "allocations/"), allocation_body(bank="SCBL"))
    assert response.status_code == 400
    assert error_of(response)["code"] == "insufficient_funds"
    response = officer.post(firm_url(world, "allocations/"), allocation_body(bank="MEZN"))
    assert response.status_code == 201
    assert response.json()["bank"] == "MEZN" and response.json()["balance_after"] == "7500.00"


def test_lists_take_a_constant_number_of_queries(world, django_assert_max_num_queries):
    officer = world.api(world.own.officer)
    for n in range(5):
        officer.post(firm_url(world, "receipts/"), receipt_body(reference=f"Q-{n}", amount="10.00"))
        officer.post(
            firm_url(world, "allocations/"),
            allocation_body(reference=f"QA-{n}", amount="1.00", value_date="2025-11-04"),
        )
    for tail in ("receipts/", "allocations/", "balances/"):
        with django_assert_max_num_queries(8):
            assert officer.get(firm_url(world, tail)).status_code == 200
