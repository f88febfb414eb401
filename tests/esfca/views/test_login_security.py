"""Sign-in security on the web pages: throttling of the login page, the second factor
(enrolment, the code, recovery codes, the admin site), the admin's password forms and
``manage.py otp_enroll``."""

import io
from base64 import b32encode
from datetime import timedelta
from urllib.parse import quote

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from esfca.models import AuditEvent
from esfca.second_factor import second_factor_enrol
from exporters.models import User
from tests.esfca.second_factor import code_from_secret, totp_code, totp_device
from tests.esfca.second_factor import log_in as second_factor_log_in

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


# --- the second factor on the web ------------------------------------------------------------


def test_an_unenrolled_reviewer_enrols_before_anything_else(world):
    client, response = log_in("reviewer", PASSWORD)
    assert response.status_code == 302
    client.get(response["Location"])  # the landing page sends the reviewer on
    for page in (reverse("review_queue"), reverse("home"), reverse("password_change")):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == f"{reverse('second_factor_enrol')}?next={quote(page, '')}"

    page = client.get(reverse("second_factor_enrol"), {"next": reverse("review_queue")})
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    secret = page.context["secret"]
    html = page.content.decode()
    assert secret in html and '<svg width="' in html and 'class="qr"' in html
    uri = page.context["uri"]
    assert uri.startswith("otpauth://totp/ESFCA%20manager%3Areviewer?secret=" + secret)
    # A reload shows the same key (the device waits, unconfirmed, until a code confirms it).
    assert client.get(reverse("second_factor_enrol")).context["secret"] == secret
    assert not TOTPDevice.objects.filter(user=world.reviewer, confirmed=True).exists()

    wrong = f"{(int(code_from_secret(secret)) + 1) % 1000000:06d}"
    response = client.post(reverse("second_factor_enrol"), {"code": wrong})
    assert response.status_code == 422
    assert "That code is not right" in response.content.decode()
    TOTPDevice.objects.update(throttling_failure_timestamp=None, throttling_failure_count=0)

    response = client.post(
        reverse("second_factor_enrol"),
        {"code": code_from_secret(secret), "next": reverse("review_queue")},
    )
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10
    html = response.content.decode()
    assert all(code in html for code in codes) and 'href="/review/"' in html
    assert client.get(reverse("review_queue")).status_code == 200
    device = TOTPDevice.objects.get(user=world.reviewer)
    assert device.confirmed and b32encode(device.bin_key).decode() == secret
    event = AuditEvent.objects.get(action="second_factor_enrolled")
    assert (event.actor, event.details) == (world.reviewer, {"via": "web"})
    # Shown once: the enrolment page now sends the user on.
    assert client.get(reverse("second_factor_enrol"))["Location"].startswith(
        reverse("second_factor_verify")
    )


def test_an_enrolled_reviewer_gives_the_code_after_the_password(world):
    device = totp_device(world.reviewer)
    client, response = log_in("reviewer", PASSWORD)
    response = client.get(reverse("review_queue"))
    verify = f"{reverse('second_factor_verify')}?next={quote(reverse('review_queue'), '')}"
    assert response.status_code == 302 and response["Location"] == verify
    assert "Second factor" in client.get(verify).content.decode()

    response = client.post(verify, {"code": "000000", "next": reverse("review_queue")})
    assert response.status_code == 422
    assert "That code is not right" in response.content.decode()
    assert client.get(reverse("review_queue")).status_code == 302
    TOTPDevice.objects.update(throttling_failure_timestamp=None)

    session_before = client.session.session_key
    response = client.post(verify, {"code": totp_code(device), "next": reverse("review_queue")})
    assert response.status_code == 302 and response["Location"] == reverse("review_queue")
    assert client.session.session_key != session_before  # a new id once fully signed in
    assert client.get(reverse("review_queue")).status_code == 200


def test_the_next_address_stays_on_this_site(world):
    device = totp_device(world.reviewer)
    client, _ = log_in("reviewer", PASSWORD)
    response = client.post(
        reverse("second_factor_verify"),
        {"code": totp_code(device), "next": "https://evil.example/steal"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_a_recovery_code_signs_in_once_on_the_web(world):
    enrolment = second_factor_enrol(user=world.admin, actor=None, via="test")
    code = enrolment.recovery_codes[0]
    client, _ = log_in("admin", PASSWORD)
    response = client.post(reverse("second_factor_verify"), {"code": code})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    again, _ = log_in("admin", PASSWORD)
    response = again.post(reverse("second_factor_verify"), {"code": code})
    assert response.status_code == 422
    assert again.get(reverse("admin:index")).status_code == 302


def test_the_admin_site_asks_for_the_second_factor(world):
    client = Client()
    client.force_login(world.admin)  # e.g. signed in through the admin's own login page
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("second_factor_enrol"))
    staff = User.objects.create_user("clerk", "clerk@example.com", "amber-Kite-7-river")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("second_factor_enrol"))


def test_an_officer_needs_no_second_factor(world):
    client, response = log_in("officer", PASSWORD)
    assert client.get(response["Location"]).status_code == 200


def test_an_htmx_request_is_sent_to_the_second_factor_page_as_a_whole_page(world):
    totp_device(world.reviewer)
    client, _ = log_in("reviewer", PASSWORD)
    response = client.get(reverse("review_queue"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("second_factor_verify"))


def test_log_out_or_in_as_someone_else_works_before_the_second_factor(world):
    client, _ = log_in("reviewer", PASSWORD)
    assert client.get(reverse("login")).status_code == 200
    _, response = log_in("officer", PASSWORD, client=client)
    assert response.status_code == 302
    assert client.get(reverse("firm_dashboard", args=[world.firm.pk])).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and not signed_in(client)


def test_ten_wrong_codes_lock_the_sign_in_out(world):
    totp_device(world.reviewer)
    client, _ = log_in("reviewer", PASSWORD, address="10.5.0.1")
    for _ in range(9):
        response = client.post(
            reverse("second_factor_verify"), {"code": "000000"}, REMOTE_ADDR="10.5.0.1"
        )
        assert response.status_code == 422
    response = client.post(
        reverse("second_factor_verify"), {"code": "000000"}, REMOTE_ADDR="10.5.0.1"
    )
    assert_locked_page(response)
    assert not signed_in(client)  # signed out: the password comes first again
    _, response = log_in("reviewer", PASSWORD, address="10.5.0.2")
    assert_locked_page(response)


# --- passwords in the admin: Django's forms with the validators ---------------------------


def test_the_admin_refuses_a_weak_password(world):
    client = second_factor_log_in(Client(), world.admin)
    response = client.post(
        reverse("admin:exporters_user_add"),
        {"username": "clerk", "password1": "1", "password2": "1", "usable_password": "true"},
    )
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    assert not User.objects.filter(username="clerk").exists()
    response = client.post(
        reverse("admin:auth_user_password_change", args=[world.officer.pk]),
        {"password1": "12345678", "password2": "12345678"},
    )
    assert "This password is entirely numeric" in response.content.decode()
    world.officer.refresh_from_db()
    assert world.officer.check_password(PASSWORD)


# --- manage.py otp_enroll ------------------------------------------------------------------


def test_otp_enroll_prints_the_uri_and_recovery_codes_once(world):
    out = io.StringIO()
    call_command("otp_enroll", "admin", stdout=out)
    printed = out.getvalue()
    device = TOTPDevice.objects.get(user=world.admin, confirmed=True)
    secret = b32encode(device.bin_key).decode()
    assert f"URI: otpauth://totp/ESFCA%20manager%3Aadmin?secret={secret}&algorithm=SHA1" in printed
    codes = set(
        StaticToken.objects.filter(device__user=world.admin).values_list("token", flat=True)
    )
    assert len(codes) == 10 and all(f"  {code}\n" in printed for code in codes)
    assert "█" in printed or "▀" in printed  # the QR code, drawn in the terminal
    with pytest.raises(CommandError, match="has a second factor already"):
        call_command("otp_enroll", "admin", stdout=io.StringIO())
    call_command("otp_enroll", "admin", "--replace", "--no-qr", stdout=io.StringIO())
    assert TOTPDevice.objects.get(user=world.admin).key != device.key
    with pytest.raises(CommandError, match="No user is called 'ghost'"):
        call_command("otp_enroll", "ghost")
    assert (
        list(
            AuditEvent.objects.filter(action="second_factor_enrolled").values_list(
                "details", flat=True
            )
        )
        == [{"via": "otp_enroll"}] * 2
    )
