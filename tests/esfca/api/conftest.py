"""Two tenants side by side, one user per role in each, and a JSON client per user."""

import json
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from esfca.services import firm_account_open
from exporters.models import Bank, Firm, User
from exporters.services import bank_create, firm_create, user_create
from exporters.validators import iban_pk
from ledger.models import Account
from ledger.verify import ledger_verify

PASSWORD = "correct horse battery staple"


class Api:
    """A JSON client: bodies are sent as raw text so tests control every byte."""

    def __init__(self, user: User | None = None):
        self.client = APIClient()
        self.user = user
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            self.client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    def get(self, url: str, **params):
        return self.client.get(url, params)

    def post(self, url: str, body=None, *, raw: str | bytes | None = None, **headers):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            url, data=data, content_type=headers.pop("content_type", "application/json"), **headers
        )

    def call(self, method: str, url: str, body=None):
        if method == "GET":
            return self.get(url)
        return getattr(self.client, method.lower())(
            url, data=json.dumps(body or {}), content_type="application/json"
        )


def error_of(response) -> dict:
    """The contract's error body, checked for shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@dataclass
class Tenant:
    bank: Bank
    firm: Firm
    esfca_usd: Account
    pkr: Account
    officer: User
    viewer: User
    reviewer: User


ROLE_ATTRS = {"finance_officer": "officer", "firm_viewer": "viewer", "bank_reviewer": "reviewer"}


@dataclass
class World:
    admin: User
    own: Tenant
    foreign: Tenant
    clients: dict = field(default_factory=dict)

    def api(self, who: str | User | None) -> Api:
        if who is None or who == "anonymous":
            return Api()
        user = who if isinstance(who, User) else self.user(who)
        return Api(user)

    def user(self, role: str, tenant: str = "own") -> User:
        if role == "admin":
            return self.admin
        return getattr(getattr(self, tenant), ROLE_ATTRS[role])


def make_tenant(code: str, name: str, n: int, *, kind="it_company", body="PSEB") -> Tenant:
    bank = bank_create(code=code, name=f"{name} Bank")
    firm = firm_create(
        name=f"{name} Software",
        ntn=f"{1234560 + n}-{n}",
        kind=kind,
        registration_body=body,
        registration_number=f"{body}/{n:04d}",
        active_taxpayer=True,
    )
    esfca = firm_account_open(firm=firm, bank=bank, currency="USD", iban=iban_pk(code, 100 + n))
    pkr = firm_account_open(firm=firm, bank=bank, currency="PKR", iban=iban_pk(code, 200 + n))
    users = {}
    for role in ("finance_officer", "firm_viewer"):
        users[role] = user_create(
            username=f"{code.lower()}-{role}", password=PASSWORD, role=role, firm=firm
        )
    users["bank_reviewer"] = user_create(
        username=f"{code.lower()}-reviewer", password=PASSWORD, role="bank_reviewer", bank=bank
    )
    return Tenant(
        bank=bank,
        firm=firm,
        esfca_usd=esfca,
        pkr=pkr,
        officer=users["finance_officer"],
        viewer=users["firm_viewer"],
        reviewer=users["bank_reviewer"],
    )


def make_world() -> World:
    admin = User.objects.create_superuser("platform-admin", "admin@example.com", PASSWORD)
    return World(
        admin=admin,
        own=make_tenant("SCBL", "Lahore", 1),
        foreign=make_tenant("HABB", "Karachi", 2),
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Seven users per test: PBKDF2 at full strength would dominate the run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.fixture(autouse=True)
def ledger_verified_after(request):
    """Every API test that touched the database leaves a ledger that proves itself."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    transactional = marker.kwargs.get("transaction", False)
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    report = ledger_verify()
    assert report.ok, report.problems


def receipt_body(**overrides) -> dict:
    body = {
        "reference": "HBL-FT-2025-000123",
        "value_date": "2025-11-04",
        "amount": "20000.00",
        "currency": "USD",
        "retain": "max",
        "conversion_rate": "280.7000",
        "client_name": "Gulf Retail LLC",
        "client_country": "AE",
        "purpose_code": "9184",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def allocation_body(**overrides) -> dict:
    body = {
        "reference": "AWS-INV-8812",
        "value_date": "2025-11-20",
        "category": "cloud_infrastructure",
        "amount": "2500.00",
        "currency": "USD",
        "payee_name": "Amazon Web Services EMEA SARL",
        "payee_country": "LU",
        "investee_name": None,
        "investee_country": None,
        "sbp_approval_reference": None,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def balance(account: Account) -> Decimal:
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)
