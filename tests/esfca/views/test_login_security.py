"""Sign-in security on the web pages: throttling of the login page."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from .world import PASSWORD

pytestmark = pytest.mark.django_db


def log_in(username: str, password: str, address: str = "10.0.0.1", client=None):
    client = client or Client()
    response = client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return client, response


def assert_locked_page(response):
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Sign-in locked" in page and "Try again in 15 minutes" in page


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_ten_failures_for_a_username_lock_the_login_page(world):
    for n in range(9):
        _, response = log_in("officer", "wrong-guess", address=f"10.1.0.{n}")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    _, response = log_in("officer", "wrong-guess", address="10.1.0.9")
    assert_locked_page(response)
    client, response = log_in("officer", PASSWORD, address="10.1.1.1")
    assert_locked_page(response)
    assert not signed_in(client)
    client, response = log_in("viewer", PASSWORD, address="10.1.1.3")
    assert response.status_code == 302 and signed_in(client)


def test_ten_failures_from_an_address_lock_it_out_for_everyone(world):
    for n in range(10):
        _, response = log_in(f"nobody-{n}", "wrong-guess", address="10.2.0.1")
    assert_locked_page(response)
    client, response = log_in("officer", PASSWORD, address="10.2.0.1")
    assert_locked_page(response)
    assert not signed_in(client)
    client, response = log_in("officer", PASSWORD, address="10.2.0.2")
    assert response.status_code == 302 and signed_in(client)


def test_the_admin_login_page_is_throttled_too(world):
    for _ in range(10):
        response = Client().post(
            reverse("admin:login"), {"username": "admin", "password": "no"}, REMOTE_ADDR="10.3.0.1"
        )
    assert response.status_code == 429
    _, response = log_in("admin", PASSWORD, address="10.3.0.2")
    assert_locked_page(response)


def test_the_login_page_opens_again_after_15_minutes(world):
    for _ in range(10):
        log_in("officer", "wrong-guess")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    client, response = log_in("officer", PASSWORD)
    assert response.status_code == 302 and signed_in(client)
