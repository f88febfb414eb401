"""The Content-Security-Policy holds on the pages the other browser tests do not open: the
API's Swagger UI and the admin (every browser test fails on a violation: conftest.py)."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_officer_and_reviewer import log_in
from tests.esfca.views.world import make_world

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_swagger_ui_renders_under_the_policy(page: Page, live_server, shoot):
    response = page.goto(f"{live_server.url}/api/v1/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ESFCA manager API")
    expect(page.locator("#operations-auth-auth_token_create")).to_be_visible()
    page.locator("#operations-auth-auth_token_create .opblock-summary").click()
    expect(page.locator("#operations-auth-auth_token_create")).to_contain_text("otp")
    shoot("50-swagger-ui")


def test_the_admin_works_under_the_policy(page: Page, live_server, shoot):
    world = make_world()
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    for path in (
        "exporters/user/add/",
        f"exporters/user/{world.reviewer.pk}/change/",
        f"exporters/firm/{world.firm.pk}/change/",
        "exporters/firm/add/",
        "otp_totp/totpdevice/",
        "axes/accessattempt/",
    ):
        response = page.goto(f"{live_server.url}/admin/{path}")
        assert response.status == 200, path
    page.goto(f"{live_server.url}/admin/exporters/membership/add/")
    page.locator(".related-widget-wrapper .select2-selection").first.click()  # autocomplete
    expect(page.locator(".select2-results")).to_be_visible()
    shoot("51-admin-under-the-policy")
