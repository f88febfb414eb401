"""Security headers on every kind of answer (issue 14: Content-Security-Policy, Permissions-
Policy, Referrer-Policy), and templates the policy can hold to: no inline script, style or
event handler anywhere a browser renders (the browser tests fail on any violation)."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.esfca.second_factor import log_in

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def assert_security_headers(response):
    directives = dict(d.split(" ", 1) for d in response["Content-Security-Policy"].split("; "))
    assert directives == POLICY
    features = dict(
        item.split("=") for item in response["Permissions-Policy"].split(", ") if "=" in item
    )
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "browsing-topics"):
        assert features[feature] == "()", feature
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_api_answers_and_refusals_carry_the_headers(world):
    officer = log_in(Client(), world.officer)
    reviewer = log_in(Client(), world.reviewer)
    for client, url in (
        (Client(), reverse("login")),
        (officer, reverse("firm_dashboard", args=[world.firm.pk])),
        (officer, reverse("receipt_new", args=[world.firm.pk])),
        (reviewer, reverse("review_queue")),
        (Client(), "/api/v1/firms/"),  # a 401
        (Client(), "/api/v1/docs/"),
        (Client(), "/no-such-page/"),  # a 404
    ):
        assert_security_headers(client.get(url))


def test_rendered_pages_have_no_inline_code(world):
    officer = log_in(Client(), world.officer)
    for url in (
        reverse("firm_dashboard", args=[world.firm.pk]),
        reverse("receipt_new", args=[world.firm.pk]),
        reverse("month", args=[world.firm.pk, f"{world.last_month:%Y-%m}"]),
    ):
        html = officer.get(url).content.decode()
        assert " style=" not in html and "<style" not in html, url
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], url


# A browser renders these; the summary PDF's template goes to WeasyPrint only.
NOT_IN_A_BROWSER = {"templates/esfca/summary_pdf.html"}


def test_no_template_has_inline_code():
    found = []
    for folder in ("templates", "esfca/templates"):
        for path in sorted((ROOT / folder).rglob("*.html")):
            name = str(path.relative_to(ROOT))
            if name in NOT_IN_A_BROWSER:
                continue
            text = path.read_text()
            for pattern in (
                r"\sstyle=",
                r"<style",
                r"<script(?![^>]*\bsrc=)[^>]*>",
                r"\son[a-z]+=",
                r"javascript:",
                r"hx-on",
            ):
                found += [f"{name}: {m}" for m in re.findall(pattern, text)]
    assert found == []
