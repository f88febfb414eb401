"""Sign-in security on the API (contract 1.1, "Errors and limits" and "Tokens"): the password
validators on POST /users/, throttling of the token endpoint."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from exporters.models import User

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
