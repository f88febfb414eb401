"""The password validators (settings.AUTH_PASSWORD_VALIDATORS) on every path that sets a
password: the onboarding service (the API's POST /users/ goes through it), the demo loader
and ``createsuperuser --noinput``. The admin's forms and ``changepassword`` are Django's own,
which validate (tests/esfca/views/test_login_security.py checks the admin)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exporters.models import Membership, User
from exporters.services import OnboardingError, user_create
from tests.esfca.conftest import open_firm

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "password, message",
    [
        ("1", "This password is too short. It must contain at least 8 characters."),
        ("12345678", "This password is entirely numeric."),
        ("password", "This password is too common."),
        ("clerk.kamran", "The password is too similar to the username."),
    ],
)
def test_user_create_refuses_a_weak_password_with_the_validators_messages(password, message):
    firm = open_firm()
    with pytest.raises(OnboardingError) as refused:
        user_create(username="clerk.kamran", password=password, role="firm_viewer", firm=firm)
    assert refused.value.code == "validation_error"
    assert message in refused.value.details["password"]
    assert not User.objects.filter(username="clerk.kamran").exists()
    assert not Membership.objects.exists()


def test_user_create_takes_a_strong_password():
    user = user_create(
        username="clerk", password="amber-Kite-7-river", role="firm_viewer", firm=open_firm()
    )
    assert user.check_password("amber-Kite-7-river")


def test_createsuperuser_noinput_checks_the_environment_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "1")
    with pytest.raises(CommandError, match="too short"):
        call_command("createsuperuser", "--noinput", username="ops", email="ops@example.com")
    assert not User.objects.filter(username="ops").exists()

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "ops@example.com")
    with pytest.raises(CommandError, match="too similar to the email address"):
        call_command("createsuperuser", "--noinput", username="ops", email="ops@example.com")

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "amber-Kite-7-river")
    call_command("createsuperuser", "--noinput", username="ops", email="ops@example.com")
    admin = User.objects.get(username="ops")
    assert admin.is_superuser and admin.check_password("amber-Kite-7-river")
