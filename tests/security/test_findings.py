"""Issue 14's findings, replayed one by one through the doors an attacker uses (the API,
the web pages, the feed, the database role): each test fails if its finding comes back.
The deeper tests of each part live beside it (tests/security/test_uploads.py, _exports,
_months; tests/esfca/api/test_login_security.py, test_fx_rates.py; tests/ledger/
test_fx_rules.py; tests/esfca/test_audit.py, test_db_role.py)."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from esfca.audit_verify import audit_verify
from esfca.models import AuditEvent
from ledger.errors import InvalidPosting
from ledger.fx.services import FEED, fx_rate_store
from ledger.models import FxRate
from tests.esfca.second_factor import totp_code, totp_device
from tests.esfca.views.world import make_world
from tests.security import clients

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def world(db):
    world = make_world()
    for user in (world.officer, world.reviewer, world.admin):
        user.set_password(PASSWORD)
        user.save()
    return world


def test_a_reviewer_posting_usd_at_one_rupee_is_refused_and_nothing_is_stored(world):
    before = FxRate.objects.count()
    body = {"currency": "USD", "date": str(world.today), "buy": "1.0", "sell": "1.0",
            "source": "SBP-WACR"}  # fmt: skip
    response = clients.api(world.reviewer).post("/api/v1/fx-rates/", body, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert FxRate.objects.count() == before


def test_a_feed_rate_half_of_sbps_is_held_and_a_feed_rate_of_2010_refused(world):
    latest = FxRate.objects.filter(currency="USD", status="active").latest("date")
    held = fx_rate_store(
        currency="USD", on=latest.date, buy=latest.buy / 2, sell=latest.sell / 2, source="OXR",
        by=FEED,
    )  # fmt: skip
    assert held.rate.status == FxRate.Status.HELD
    with pytest.raises(InvalidPosting) as refused:
        fx_rate_store(
            currency="USD", on=latest.date.replace(year=2010, month=1, day=1),
            buy=latest.buy, sell=latest.sell, source="OXR", by=FEED,
        )  # fmt: skip
    assert "date" in refused.value.details


def test_ten_wrong_passwords_lock_the_token_endpoint_even_for_the_right_one(world):
    client = clients.api()
    wrong = {"username": world.officer.username, "password": "wrong"}
    for _ in range(9):
        assert client.post("/api/v1/auth/token/", wrong, format="json").status_code in (400, 401)
    assert client.post("/api/v1/auth/token/", wrong, format="json").status_code == 429
    right = {"username": world.officer.username, "password": PASSWORD}
    response = client.post("/api/v1/auth/token/", right, format="json")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"


def test_ten_wrong_passwords_lock_the_web_login(world):
    client = Client()
    for _ in range(10):
        client.post("/login/", {"username": world.officer.username, "password": "wrong"})
    response = client.post("/login/", {"username": world.officer.username, "password": PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_a_reviewer_needs_a_second_factor_for_a_token(world):
    device = totp_device(world.reviewer)
    body = {"username": world.reviewer.username, "password": PASSWORD}
    response = clients.api().post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 400 and "otp" in response.json()["error"]["details"]
    body["otp"] = totp_code(device)
    assert clients.api().post("/api/v1/auth/token/", body, format="json").status_code == 200


def test_a_token_expires_can_be_revoked_and_dies_with_a_password_change(world, settings):
    client = clients.api(world.officer)
    assert client.get("/api/v1/firms/").status_code == 200
    world.officer.set_password("another fine password 7")
    world.officer.save()
    assert client.get("/api/v1/firms/").status_code == 401  # the password change revoked it

    client = clients.api(world.officer)
    Token.objects.filter(user=world.officer).update(
        created=Token.objects.get(user=world.officer).created
        - timedelta(hours=settings.API_TOKEN_LIFETIME_HOURS, seconds=1)
    )
    assert client.get("/api/v1/firms/").status_code == 401  # expired

    client = clients.api(world.officer)
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert client.get("/api/v1/firms/").status_code == 401  # revoked


def test_the_api_refuses_to_create_a_user_with_the_password_1(world):
    body = {"username": "weak", "password": "1", "email": "w@example.com",
            "role": "finance_officer", "firm": world.firm.pk}  # fmt: skip
    admin = APIClient()
    admin.force_authenticate(world.admin)
    response = admin.post("/api/v1/users/", body, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]


def test_an_xlsx_bomb_and_a_29_mb_csv_are_refused(world):
    from esfca import imports
    from tests.security.test_uploads import xlsx_file

    client = clients.web(world.officer)
    url = f"/firms/{world.firm.pk}/imports/"
    bomb = io.BytesIO(xlsx_file([imports.COLUMNS], padding=105_000_000))
    bomb.name = "bomb.xlsx"
    response = client.post(url, {"file": bomb})
    assert response.status_code == 422 and "unpacks to more than" in response.content.decode()
    big = io.BytesIO(b"reference\n" + b"x" * (29 << 20))
    big.name = "big.csv"
    assert client.post(url, {"file": big}).status_code == 413


def test_a_client_named_as_a_formula_comes_back_as_text_in_the_receipts_csv(world):
    from esfca.services import receipt_record

    receipt_record(
        firm=world.firm, actor=world.officer, reference="F-1", value_date=world.last_month,
        amount=Decimal("100.00"), currency="USD", conversion_rate=Decimal("280.5"),
        client_name='=HYPERLINK("http://x","y")', client_country="US", today=world.today,
    )  # fmt: skip
    body = clients.web(world.officer).get(f"/firms/{world.firm.pk}/receipts/export.csv")
    text = b"".join(body.streaming_content if body.streaming else [body.content]).decode()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


@pytest.mark.parametrize("month, status", [("0860-01", 404), ("9999-12", 200)])
def test_the_months_that_were_500s(world, month, status):
    response = clients.api(world.officer).get(f"/api/v1/firms/{world.firm.pk}/summaries/{month}/")
    assert response.status_code == status


def test_a_3_mb_json_body_is_413(world):
    response = clients.api(world.officer).post(
        f"/api/v1/firms/{world.firm.pk}/receipts/",
        json.dumps({"reference": "x" * (3 << 20)}),
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_an_edited_audit_row_is_named_by_audit_verify(world, audit_tampered_on_purpose):
    event = AuditEvent.objects.filter(firm=world.firm).order_by("id").first()
    with connection.cursor() as cursor:  # as the tables' owner: the app's role cannot
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE esfca_auditevent SET details = '{}'::jsonb WHERE id = %s", [event.pk]
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    report = audit_verify()
    assert not report.ok and any(str(event.pk) in p for p in report.problems)
