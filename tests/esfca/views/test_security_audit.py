"""Security events in the audit log, through the real doors: sign-ins and failures on the
web, the admin and the token endpoint, lockouts, users and roles, firms and banks (with
the admin's user as actor), summary and portfolio downloads; no row ever holds a
password, a token or a password hash."""

import json

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.authtoken.models import Token

from esfca.models import PLATFORM_CHAIN, AuditEvent
from esfca.security import AuditActorMiddleware, on_locked_out
from exporters.models import Bank, Firm, Membership, User
from exporters.services import user_create
from tests.esfca.second_factor import log_in

from .world import PASSWORD

pytestmark = pytest.mark.django_db
WRONG = "not-the-password-9f3a"


def rows(action, **where):
    return list(AuditEvent.objects.filter(action=action, **where).order_by("seq"))


def every_row_text() -> str:
    return json.dumps(
        list(AuditEvent.objects.values("action", "object_type", "object_id", "details")),
        default=str,
    )


def test_web_sign_ins_and_failures_are_audited_without_the_password(world):
    client = Client()
    assert (
        client.post(reverse("login"), {"username": "officer", "password": WRONG}).status_code == 200
    )
    assert (
        client.post(reverse("login"), {"username": "officer", "password": PASSWORD}).status_code
        == 302
    )
    (failed,) = rows("login_failed")
    assert (failed.actor_id, failed.object_id, failed.chain) == (
        None,
        str(world.officer.pk),
        PLATFORM_CHAIN,
    )
    assert failed.details == {"username": "officer", "via": "web", "address": "127.0.0.1"}
    (login,) = rows("login", actor=world.officer)
    assert login.details == {"via": "web", "address": "127.0.0.1"}
    assert WRONG not in every_row_text() and PASSWORD not in every_row_text()


def test_the_admins_sign_in_says_so(world):
    client = Client()
    client.post(reverse("admin:login"), {"username": "admin", "password": PASSWORD})
    assert rows("login", actor=world.admin)[0].details["via"] == "admin"


def test_token_sign_ins_and_failures_are_audited_without_the_token(world):
    client, url = Client(), reverse("api-token")
    refused = client.post(
        url, {"username": "nobody", "password": WRONG}, content_type="application/json"
    )
    assert refused.status_code == 400
    given = client.post(
        url, {"username": "viewer", "password": PASSWORD}, content_type="application/json"
    )
    assert given.status_code == 200
    (failed,) = rows("login_failed")
    assert failed.details == {"username": "nobody", "via": "api", "address": "127.0.0.1"}
    assert failed.object_id == ""  # no such user
    (login,) = rows("login", actor=world.viewer)
    assert login.details["via"] == "api"
    key = Token.objects.get(user=world.viewer).key
    assert key in given.content.decode() and key not in every_row_text()


def test_a_lockout_is_audited(world):
    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="10.0.0.9")
    on_locked_out(sender=None, request=request, username="officer", ip_address="10.0.0.9")
    (locked,) = rows("login_locked_out")
    assert locked.details == {"username": "officer", "via": "api", "address": "10.0.0.9"}


def test_users_roles_and_passwords_changed_are_audited_without_secrets(world):
    secret = "a long onboarding passphrase 7"
    user = user_create(
        username="newcomer", password=secret, role="finance_officer", firm=world.firm
    )
    (created,) = rows("user_created", object_id=str(user.pk))
    assert created.details == {
        "username": "newcomer", "is_active": True, "is_staff": False, "is_superuser": False,
    }  # fmt: skip
    granted = rows("role_granted", firm=world.firm)[-1]
    assert granted.details == {
        "user_id": user.pk, "role": "finance_officer", "firm_id": world.firm.pk, "bank": None
    }  # fmt: skip
    user.is_staff = True
    user.set_password("another passphrase 8")
    user.save()
    (changed,) = rows("user_changed", object_id=str(user.pk))
    assert changed.details == {"changes": {"is_staff": [False, True]}}
    assert rows("password_changed", object_id=str(user.pk))[0].details == {"username": "newcomer"}
    membership = Membership.objects.get(user=user)
    membership.role = "firm_viewer"
    membership.save()
    assert rows("role_changed")[0].details["changes"] == {
        "role": ["finance_officer", "firm_viewer"]
    }
    pk = membership.pk
    membership.delete()
    assert rows("role_revoked", firm=world.firm)[0].object_id == str(pk)
    text = every_row_text()
    assert secret not in text and "another passphrase" not in text
    assert User.objects.get(pk=user.pk).password not in text  # nor its hash


def test_changes_in_the_admin_name_the_admin(world):
    client = Client()
    log_in(client, world.admin)
    bank = Bank.objects.get(code="SCBL")
    url = reverse("admin:exporters_bank_change", args=[bank.pk])
    assert client.post(url, {"code": "SCBL", "name": "Standard Chartered"}).status_code == 302
    (changed,) = rows("bank_changed")
    assert changed.actor == world.admin
    assert changed.details == {
        "code": "SCBL",
        "changes": {"name": ["Standard Chartered Bank (Pakistan)", "Standard Chartered"]},
    }


def test_a_firm_created_or_changed_outside_a_request_has_no_actor_and_its_own_chain():
    firm = Firm.objects.create(name="Quetta Apps", ntn="7654321-0", kind="it_company")
    firm.active_taxpayer = True
    firm.save()
    (created,) = rows("firm_created", firm=firm)
    assert (created.actor, created.chain, created.details["name"]) == (None, firm.pk, "Quetta Apps")
    assert rows("firm_changed", firm=firm)[0].details == {
        "changes": {"active_taxpayer": [False, True]}
    }


def test_the_middleware_gives_the_requests_user_to_changes_made_in_the_request(world):
    request = RequestFactory().get("/")
    request.user = world.admin
    middleware = AuditActorMiddleware(
        lambda r: Firm.objects.create(name="Gwadar Data", ntn="1234567-8", kind="it_company")
    )
    firm = middleware(request)
    assert rows("firm_created", firm=firm)[0].actor == world.admin
    Firm.objects.filter(pk=firm.pk).update(name="x")  # after the request: nobody's
    Bank.objects.create(code="MEZN", name="Meezan")
    assert rows("bank_created")[-1].actor is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_summary_downloads_are_audited_on_the_web_and_the_api(world, fmt):
    month = f"{world.last_month:%Y-%m}"
    client = Client()
    log_in(client, world.officer)
    url = reverse("month_download", kwargs={"firm_id": world.firm.pk, "month": month, "fmt": fmt})
    assert client.get(url).status_code == 200
    (web,) = rows("summary_downloaded")
    assert (web.actor, web.firm, web.object_type, web.object_id) == (
        world.officer,
        world.firm,
        "MonthlySummary",
        str(world.summary.pk),
    )
    assert web.details == {
        "format": fmt, "month": month, "revision": 1, "status": "filed", "via": "web",
        "address": "127.0.0.1",
    }  # fmt: skip
    token = Token.objects.create(user=world.reviewer)
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    path = f"/api/v1/firms/{world.firm.pk}/summaries/{month}/download/?format={fmt}"
    assert api.get(path).status_code == 200
    by_api = rows("summary_downloaded")[-1]
    assert (by_api.actor, by_api.details["via"], by_api.details["format"]) == (
        world.reviewer,
        "api",
        fmt,
    )
    review = Client()
    log_in(review, world.reviewer)
    review_url = reverse("review_summary_download", kwargs={"pk": world.review.pk, "fmt": fmt})
    assert review.get(review_url).status_code == 200
    assert rows("summary_downloaded")[-1].actor == world.reviewer


def test_portfolio_downloads_are_audited(world):
    client = Client()
    log_in(client, world.reviewer)
    assert client.get(reverse("portfolio_download", kwargs={"fmt": "xlsx"})).status_code == 200
    (done,) = rows("portfolio_downloaded")
    assert (done.actor, done.chain, done.object_type) == (world.reviewer, PLATFORM_CHAIN, "Bank")
    assert (done.details["code"], done.details["format"]) == ("SCBL", "xlsx")
