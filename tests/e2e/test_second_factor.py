"""The second factor in a real browser (Chromium): an unenrolled reviewer is sent to enrol
before anything else, scans (here: reads) the key, confirms with a code, keeps the recovery
codes, and lands where they were going; the next sign-in asks for a code."""

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.e2e.test_officer_and_reviewer import log_in
from tests.esfca.second_factor import code_from_secret
from tests.esfca.views.world import PASSWORD, make_world

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reviewer_enrols_then_signs_in_with_a_code(page: Page, live_server, shoot):
    world = make_world()
    page.goto(f"{live_server.url}/review/")
    page.get_by_label("Username").fill("reviewer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.locator(".qr-box svg.qr")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    shoot("40-second-factor-enrol")
    page.goto(f"{live_server.url}/review/portfolio/")  # nothing else opens yet
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    assert page.locator("#totp-secret").inner_text().strip() == secret

    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#field-code .errorlist")).to_contain_text("That code is not right")
    TOTPDevice.objects.update(throttling_failure_timestamp=None, throttling_failure_count=0)
    page.get_by_label("Code").fill(code_from_secret(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    shoot("41-recovery-codes")
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page.get_by_role("heading", name=re.compile("Portfolio of"))).to_be_visible()
    page.get_by_role("link", name="Review queue").click()
    expect(page.locator("#queue")).to_contain_text(world.firm.name)
    page.get_by_role("button", name="Log out").click()

    # The next sign-in: password, then the code (the helper computes it from the device).
    log_in(page, live_server, "reviewer")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
