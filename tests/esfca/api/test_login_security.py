"""Sign-in security on the API (contract 1.1, "Errors and limits" and "Tokens"): the password
validators on POST /users/, throttling of the token endpoint, the tokens' lifetime and
revocation (DELETE, and every path that changes a password), the second factor (``otp``,
``otp_uri``, recovery codes, sessions)."""

import io
import re
from base64 import b32decode
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from esfca.models import AuditEvent
from esfca.second_factor import MALFORMED, MISSING, NOT_ENROLLED, WRONG
from exporters.models import User
from tests.esfca.second_factor import code_from_secret, log_in, totp_code, totp_device

from .conftest import PASSWORD, Api, error_of

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def test_user_creation_refuses_the_password_1_with_the_validators_messages(world):
    response = world.api("admin").post(
        f"{V1}/users/",
        {"username": "weak", "password": "1", "role": "firm_viewer", "firm": world.own.firm.pk},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"]["password"] == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert not User.objects.filter(username="weak").exists()


# --- throttling: 10 failures per username or per address, 15 minutes ------------------------


def token(username: str, password: str, address: str = "10.0.0.1", **meta):
    return Api().post(
        f"{V1}/auth/token/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        **meta,
    )


def assert_throttled(response):
    assert response.status_code == 429, response.content
    error = error_of(response)
    assert error["code"] == "throttled"
    assert "try again in 15 minutes" in error["message"]
    assert response["Retry-After"] == "900"


def test_ten_failures_for_a_username_lock_it_out_from_every_address(world):
    officer = world.own.officer.username
    for n in range(9):
        response = token(officer, "wrong-guess", address=f"10.0.1.{n}")
        assert response.status_code == 400
        assert error_of(response)["code"] == "validation_error"
    assert_throttled(token(officer, "wrong-guess", address="10.0.1.9"))
    # The right password, from an address that never failed: still refused.
    assert_throttled(token(officer, PASSWORD, address="10.0.2.1"))
    # Another username from a clean address is not affected.
    assert token(world.own.viewer.username, PASSWORD, address="10.0.2.2").status_code == 200


def test_ten_failures_from_an_address_lock_it_out_for_every_username(world):
    for n in range(9):
        assert token(f"nobody-{n}", "wrong-guess", address="10.0.3.3").status_code == 400
    assert_throttled(token("nobody-9", "wrong-guess", address="10.0.3.3"))
    assert_throttled(token(world.own.officer.username, PASSWORD, address="10.0.3.3"))
    assert token(world.own.officer.username, PASSWORD, address="10.0.3.4").status_code == 200


def test_the_lockout_ends_after_15_minutes(world):
    officer = world.own.officer.username
    for _ in range(10):
        token(officer, "wrong-guess")
    assert_throttled(token(officer, PASSWORD))
    # 14 minutes after the last attempt: still locked (and that attempt starts the wait again).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert_throttled(token(officer, PASSWORD))
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    response = token(officer, PASSWORD)
    assert response.status_code == 200
    assert set(response.json()) >= {"token"}


def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(world):
    """DJANGO_TRUSTED_PROXIES=1 (the production default): the right-most X-Forwarded-For
    entry is the client; what the client put to its left is not believed."""
    proxy = {"address": "192.0.2.10"}
    for n in range(10):
        forged = f"198.51.100.{n}, 203.0.113.5"  # a new forged entry each time
        response = token(f"guess-{n}", "wrong-guess", HTTP_X_FORWARDED_FOR=forged, **proxy)
    assert_throttled(response)
    assert AccessAttempt.objects.filter(ip_address="203.0.113.5").count() == 10
    assert_throttled(
        token(world.own.officer.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    )
    # Another client behind the same proxy signs in.
    other = token(world.own.officer.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)
    assert other.status_code == 200


def test_a_forwarded_header_that_is_not_an_address_falls_back_to_the_peer(world):
    response = token("x", "wrong-guess", HTTP_X_FORWARDED_FOR="not-an-ip\x00", address="10.0.4.4")
    assert response.status_code == 400
    assert AccessAttempt.objects.get().ip_address == "10.0.4.4"


# --- tokens: lifetime, revocation, revocation on a password change --------------------------


def signed_in_api(username: str, password: str = PASSWORD) -> tuple[Api, str]:
    response = token(username, password)
    assert response.status_code == 200, response.content
    api = Api()
    api.client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return api, response.json()["token"]


def assert_not_authenticated(response):
    assert response.status_code == 401, response.content
    assert error_of(response)["code"] == "not_authenticated"


def test_a_token_expires_after_its_lifetime(world):
    officer = world.own.officer
    api, key = signed_in_api(officer.username)
    created = Token.objects.get(key=key).created
    body = token(officer.username, PASSWORD).json()
    assert body["token"] == key  # the same token while it lives
    assert datetime.fromisoformat(body["expires"]) == created + timedelta(hours=24)

    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(hours=23, minutes=59))
    assert api.get(f"{V1}/firms/").status_code == 200
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(hours=24, seconds=1))
    response = api.get(f"{V1}/firms/")
    assert_not_authenticated(response)
    assert "expired" in error_of(response)["message"]
    assert not Token.objects.filter(key=key).exists()
    assert AuditEvent.objects.filter(action="api_token_revoked", details__reason="expired").exists()
    # Signing in again gives a new token.
    new_api, new_key = signed_in_api(officer.username)
    assert new_key != key and new_api.get(f"{V1}/firms/").status_code == 200


def test_the_lifetime_is_a_setting(world, settings):
    settings.API_TOKEN_LIFETIME_HOURS = 1
    api, key = signed_in_api(world.own.officer.username)
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(minutes=61))
    assert_not_authenticated(api.get(f"{V1}/firms/"))


def test_an_expired_token_is_replaced_at_sign_in(world):
    _, key = signed_in_api(world.own.officer.username)
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=2))
    _, new_key = signed_in_api(world.own.officer.username)
    assert new_key != key
    assert list(Token.objects.filter(user=world.own.officer).values_list("key", flat=True)) == [
        new_key
    ]


def test_delete_revokes_the_callers_token(world):
    officer = world.own.officer
    api, key = signed_in_api(officer.username)
    other, _ = signed_in_api(world.own.viewer.username)
    response = api.client.delete(f"{V1}/auth/token/")
    assert response.status_code == 204 and response.content == b""
    assert not Token.objects.filter(key=key).exists()
    assert_not_authenticated(api.get(f"{V1}/firms/"))
    assert_not_authenticated(api.client.delete(f"{V1}/auth/token/"))
    assert other.get(f"{V1}/firms/").status_code == 200  # only the caller's
    event = AuditEvent.objects.get(action="api_token_revoked")
    assert (event.actor, event.object_id, event.details) == (
        officer,
        str(officer.pk),
        {"reason": "revoked_by_owner"},
    )


def test_delete_without_credentials_is_401(world):
    assert_not_authenticated(Api().client.delete(f"{V1}/auth/token/"))


def test_a_stale_authorization_header_does_not_stop_a_sign_in(world):
    response = Api().post(
        f"{V1}/auth/token/",
        {"username": world.own.officer.username, "password": PASSWORD},
        HTTP_AUTHORIZATION="Token " + "0" * 40,
    )
    assert response.status_code == 200


def test_set_password_and_save_revokes_the_tokens(world):
    officer = world.own.officer
    api, _ = signed_in_api(officer.username)
    officer.refresh_from_db()
    officer.set_password("amber-Kite-7-river")
    officer.save()
    assert not Token.objects.filter(user=officer).exists()
    assert_not_authenticated(api.get(f"{V1}/firms/"))
    event = AuditEvent.objects.get(action="api_token_revoked")
    assert event.details == {"reason": "password_changed"} and event.actor is None


def test_saving_a_user_without_changing_the_password_keeps_the_tokens(world):
    officer = world.own.officer
    api, _ = signed_in_api(officer.username)
    officer.refresh_from_db()
    officer.email = "new@example.com"
    officer.save()
    officer.save(update_fields=["last_login"])
    assert api.get(f"{V1}/firms/").status_code == 200


def test_the_password_change_page_revokes_the_tokens(world):
    officer = world.own.officer
    api, _ = signed_in_api(officer.username)
    browser = Client()
    browser.force_login(officer)
    response = browser.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "amber-Kite-7-river",
            "new_password2": "amber-Kite-7-river",
        },
    )
    assert response.status_code == 302
    assert_not_authenticated(api.get(f"{V1}/firms/"))


def test_a_password_reset_revokes_the_tokens(world, mailoutbox):
    officer = world.own.officer
    officer.email = "officer@example.com"
    officer.save(update_fields=["email"])
    api, _ = signed_in_api(officer.username)
    browser = Client()
    browser.post(reverse("password_reset"), {"email": "officer@example.com"})
    link = re.search(r"http://testserver(/reset/\S+/)", mailoutbox[0].body)[1]
    form_url = browser.get(link)["Location"]
    response = browser.post(
        form_url, {"new_password1": "amber-Kite-7-river", "new_password2": "amber-Kite-7-river"}
    )
    assert response.status_code == 302
    assert_not_authenticated(api.get(f"{V1}/firms/"))
    assert token(officer.username, "amber-Kite-7-river").status_code == 200


def test_changepassword_revokes_the_tokens(world, monkeypatch):
    officer = world.own.officer
    api, _ = signed_in_api(officer.username)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "amber-Kite-7-river")
    call_command("changepassword", officer.username, stdout=io.StringIO())
    assert_not_authenticated(api.get(f"{V1}/firms/"))


# --- the second factor on the API -----------------------------------------------------------


def create_reviewer(world, username: str = "mezn-rev") -> tuple[User, dict]:
    response = world.api("admin").post(
        f"{V1}/users/",
        {
            "username": username,
            "password": "amber-Kite-7-river",
            "role": "bank_reviewer",
            "bank": world.own.bank.code,
        },
    )
    assert response.status_code == 201, response.content
    return User.objects.get(username=username), response.json()


def otp_token(username: str, otp: str | None, password: str = "amber-Kite-7-river", **meta):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return Api().post(f"{V1}/auth/token/", body, REMOTE_ADDR="10.9.0.1", **meta)


def assert_otp_refused(response, message: str):
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"]["otp"] == [message]


def secret_of(uri: str) -> str:
    return parse_qs(urlsplit(uri).query)["secret"][0]


def test_a_reviewer_created_through_the_api_is_enrolled_and_answered_its_otp_uri_once(world):
    reviewer, body = create_reviewer(world)
    uri = urlsplit(body["otp_uri"])
    query = parse_qs(uri.query)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/ESFCA manager:mezn-rev"
    assert (query["algorithm"], query["digits"], query["period"]) == (["SHA1"], ["6"], ["30"])
    assert query["issuer"] == ["ESFCA manager"]
    device = TOTPDevice.objects.get(user=reviewer)
    assert device.confirmed and b32decode(query["secret"][0]) == device.bin_key
    assert len(body["recovery_codes"]) == 10 == len(set(body["recovery_codes"]))
    event = AuditEvent.objects.get(action="second_factor_enrolled")
    assert (event.actor, event.object_id, event.details) == (
        world.admin,
        str(reviewer.pk),
        {"via": "onboarding"},
    )
    # Nowhere else: a firm role gets none, and nothing reads the URI back.
    response = world.api("admin").post(
        f"{V1}/users/",
        {
            "username": "new-viewer",
            "password": "amber-Kite-7-river",
            "role": "firm_viewer",
            "firm": world.own.firm.pk,
        },
    )
    assert (response.json()["otp_uri"], response.json()["recovery_codes"]) == (None, [])
    assert not TOTPDevice.objects.filter(user__username="new-viewer").exists()


def test_an_enrolled_user_needs_the_otp_for_a_token(world):
    _, body = create_reviewer(world)
    secret = secret_of(body["otp_uri"])
    assert_otp_refused(otp_token("mezn-rev", None), MISSING)
    assert_otp_refused(otp_token("mezn-rev", ""), MISSING)
    assert_otp_refused(otp_token("mezn-rev", "12345"), MALFORMED)
    wrong = f"{(int(code_from_secret(secret)) + 1) % 1000000:06d}"
    assert_otp_refused(otp_token("mezn-rev", wrong), WRONG)
    assert TOTPDevice.objects.get().throttling_failure_count == 1
    # After successive wrong codes the device makes the next one wait (django-otp: 1, 2, 4,
    # 8, 16 s), even the right one: five failures just now.
    TOTPDevice.objects.update(
        throttling_failure_count=5, throttling_failure_timestamp=timezone.now()
    )
    response = otp_token("mezn-rev", code_from_secret(secret))
    assert response.status_code == 400
    assert re.fullmatch(
        r"Too many wrong codes: wait 1[56] seconds, then try again\.",
        error_of(response)["details"]["otp"][0],
    )
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - timedelta(seconds=17))
    assert Token.objects.filter(user__username="mezn-rev").count() == 0
    response = otp_token("mezn-rev", code_from_secret(secret))
    assert response.status_code == 200, response.content
    api = Api()
    api.client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.get(f"{V1}/reviews/").status_code == 200


def test_a_totp_code_signs_in_once(world):
    _, body = create_reviewer(world)
    code = code_from_secret(secret_of(body["otp_uri"]))
    assert otp_token("mezn-rev", code).status_code == 200
    assert_otp_refused(otp_token("mezn-rev", code), WRONG)


def test_a_recovery_code_signs_in_once(world):
    reviewer, body = create_reviewer(world)
    code = body["recovery_codes"][3]
    assert otp_token("mezn-rev", code.upper()[:4] + "-" + code[4:]).status_code == 200
    event = AuditEvent.objects.get(action="recovery_code_used")
    assert (event.actor, event.details) == (reviewer, {"recovery_codes_left": 9})
    StaticDevice.objects.update(throttling_failure_timestamp=None, throttling_failure_count=0)
    assert_otp_refused(otp_token("mezn-rev", code), WRONG)
    assert StaticToken.objects.filter(device__user=reviewer).count() == 9


def test_wrong_codes_count_as_failed_sign_ins(world):
    create_reviewer(world)
    for _ in range(9):
        assert otp_token("mezn-rev", "000000").status_code == 400
    assert_throttled(otp_token("mezn-rev", "000000"))
    assert AccessAttempt.objects.get(username="mezn-rev").failures_since_start == 10


def test_a_reviewer_or_admin_without_a_second_factor_gets_no_token(world):
    """Reviewers made before the second factor (or in the admin) enrol on the web first."""
    for user in (world.own.reviewer, world.admin):
        assert not TOTPDevice.objects.filter(user=user).exists()
        response = otp_token(user.username, "123456", password=PASSWORD)
        assert_otp_refused(response, NOT_ENROLLED)
    assert not Token.objects.exists()


def test_an_officer_who_enrolled_needs_the_otp_too(world):
    officer = world.own.officer
    assert token(officer.username, PASSWORD).status_code == 200
    call_command("otp_enroll", officer.username, "--no-qr", stdout=io.StringIO())
    assert_otp_refused(otp_token(officer.username, None, password=PASSWORD), MISSING)
    code = totp_code(totp_device(officer))
    assert otp_token(officer.username, code, password=PASSWORD).status_code == 200


def test_a_session_that_has_only_seen_the_password_is_anonymous_on_the_api(world):
    reviewer = world.own.reviewer
    password_only = Client()
    password_only.force_login(reviewer)
    response = password_only.get(f"{V1}/reviews/")
    assert_not_authenticated(response)
    both = log_in(Client(), reviewer)
    assert both.get(f"{V1}/reviews/").status_code == 200
    # A firm role without a device needs nothing more.
    officer = Client()
    officer.force_login(world.own.officer)
    assert officer.get(f"{V1}/firms/").status_code == 200
